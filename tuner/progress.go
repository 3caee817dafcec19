package tuner

import (
	"fmt"
	"strings"
	"time"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
)

// progress prints one line for a finished trial: number, key flags, throughput, P99s, verdict and an ETA.
func (t *Tuner) progress(rec store.Trial, res runner.Result, finishedBefore int) {
	done := finishedBefore
	if rec.State == store.StateComplete {
		done++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%*d/%d] trial %-3d ", len(fmt.Sprint(t.opts.Trials)), done, t.opts.Trials, rec.Number)
	flags := strings.Join(rec.Args, " ")
	if rec.Label == "baseline" {
		flags = "(vLLM defaults)"
	} else if flags == "" {
		flags = "(no flags)"
	}
	if len(flags) > 90 {
		flags = flags[:87] + "..."
	}
	if IsRepeat(rec.Label) {
		fmt.Fprintf(&b, "(%s, to confirm it) ", rec.Label)
	}
	b.WriteString(flags)
	if res.Bench != nil {
		fmt.Fprintf(&b, " | %.0f tok/s, P99 TPOT %.1f ms, P99 TTFT %.0f ms",
			res.Bench.OutputThroughput, res.Bench.Latency["p99_tpot_ms"], res.Bench.Latency["p99_ttft_ms"])
	}
	switch {
	case rec.Feasible:
		b.WriteString(" | feasible")
	case rec.Failure != "" && res.Bench == nil:
		fmt.Fprintf(&b, " | %s: %s", rec.Failure, firstLine(rec.Message))
	case rec.Violation != "":
		fmt.Fprintf(&b, " | infeasible: %s", rec.Violation)
	}
	switch {
	case rec.State == store.StateFailed && IsRepeat(rec.Label):
		b.WriteString(" (not counted)")
	case rec.State == store.StateFailed:
		b.WriteString(" (not counted; will retry)")
	}
	elapsed := t.opts.Now().Sub(t.started)
	if ran := done - t.finishedAtStart; ran > 0 && done < t.opts.Trials {
		eta := time.Duration(float64(elapsed) / float64(ran) * float64(t.opts.Trials-done))
		fmt.Fprintf(&b, " | ETA %s", roundETA(eta))
	}
	fmt.Fprintln(t.opts.Progress, b.String())
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func roundETA(d time.Duration) time.Duration {
	switch {
	case d > time.Hour:
		return d.Round(time.Minute)
	case d > time.Minute:
		return d.Round(10 * time.Second)
	default:
		return d.Round(time.Second)
	}
}
