package tuner

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
)

// PhaseMode says how a running trial's phase is shown on Options.Progress.
type PhaseMode int

const (
	// PhasesOff shows nothing during a trial.
	PhasesOff PhaseMode = iota
	// PhasesLines prints a plain line when a trial enters a new phase: for logs and notebooks, which are not
	// terminals (Colab's cell output among them).
	PhasesLines
	// PhasesLive redraws one line in place on a terminal: "trial 12: starting the server 14 s".
	PhasesLive
)

// maxProgressWidth is the width of a progress line: it stays on one line of a notebook or a wide terminal.
const maxProgressWidth = 100

// progress prints one line for a finished trial: its number, how many trials are done, its result, the best so
// far, an ETA, and how its config differs from the baseline, within maxProgressWidth columns.
func (t *Tuner) progress(rec store.Trial, res runner.Result, finishedBefore int) {
	done := finishedBefore
	if rec.Finished() {
		done++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#%-3d %*d/%d done  ", rec.Number, len(strconv.Itoa(t.opts.Trials)), done, t.opts.Trials)
	outcome := report.OutcomeOf(rec)
	switch {
	case res.Bench != nil && (outcome == report.Feasible || outcome == report.Infeasible):
		tpot, ttft := res.Bench.P99TPOT(), res.Bench.P99TTFT()
		fmt.Fprintf(&b, "%s %s tok/s, P99 %s%s/%s%s ms", outcome, report.Round(res.Bench.OutputThroughput),
			report.Round(tpot), over(tpot, t.opts.SLA.MaxP99TPOTms), report.Round(ttft), over(ttft, t.opts.SLA.MaxP99TTFTms))
	case outcome == report.Pruned:
		fmt.Fprintf(&b, "stopped early: %s", rec.Message)
	case outcome == report.Interrupted || outcome == report.Harness:
		again := ", runs again"
		if report.IsRepeat(rec.Label) || report.IsRetry(rec.Label) {
			again = ""
		}
		fmt.Fprintf(&b, "not counted (%s)%s", rec.Failure, again)
	default:
		fmt.Fprintf(&b, "%s: %s", outcome, rec.Failure)
	}
	if recs, err := t.db.Measurements(t.studyID); err == nil {
		if c, ok := report.Best(recs); ok {
			fmt.Fprintf(&b, " | best %s (#%d)", report.Round(c.Mean), c.Trials[0].Number)
		} else {
			b.WriteString(" | none feasible yet")
		}
	}
	elapsed := t.opts.Now().Sub(t.started)
	if ran := done - t.finishedAtStart; ran > 0 && done < t.opts.Trials {
		eta := time.Duration(float64(elapsed) / float64(ran) * float64(t.opts.Trials-done))
		fmt.Fprintf(&b, " | ETA %s", roundETA(eta))
	}
	what := strings.Join(report.Trial{Label: rec.Label, Params: rec.Params, Args: rec.Args}.Changes(), " ")
	switch {
	case rec.Label == report.BaselineLabel:
		what = "vLLM defaults"
	case report.IsRepeat(rec.Label):
		n, _ := report.LabelTrial(rec.Label)
		what = fmt.Sprintf("confirms #%d", n)
	case what == "":
		what = "no flags"
	}
	line := b.String() + " | " + what
	if utf8.RuneCountInString(line) > maxProgressWidth {
		line = string([]rune(line)[:maxProgressWidth-1]) + "…"
	}
	fmt.Fprintln(t.opts.Progress, line)
}

// over marks a P99 that misses its SLA limit, as Evaluate judges it.
func over(v, limit float64) string {
	if limit > 0 && Misses(v, limit) {
		return "!"
	}
	return ""
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

// phaseEvery is how often the phase of a running trial is looked at.
const phaseEvery = time.Second

// watchPhases shows the phase of trial number n while it runs, from the files the runner writes in its folder
// (server.log while the server starts, bench.log once the benchmark runs, bench.json once it has finished), so
// that the runner needs no hooks for it. benchTypical is how long benchmarks took so far (0: unknown), for a
// percentage. The returned function stops the watcher and clears a live line.
func (t *Tuner) watchPhases(n int, dir string, benchTypical time.Duration) (stop func()) {
	mode := t.opts.Phases
	if mode == PhasesOff {
		return func() {}
	}
	w := t.opts.Progress
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(phaseEvery)
		defer tick.Stop()
		began := time.Now()
		var last string
		var phaseBegan time.Time
		shown := false
		for {
			select {
			case <-quit:
				if shown && mode == PhasesLive {
					fmt.Fprint(w, "\r\x1b[K")
				}
				return
			case <-tick.C:
			}
			phase := currentPhase(dir)
			if phase != last {
				last, phaseBegan = phase, time.Now()
				if mode == PhasesLines {
					fmt.Fprintf(w, "trial %d: %s\n", n, phase)
					continue
				}
			}
			if mode != PhasesLive {
				continue
			}
			text := fmt.Sprintf("trial %d: %s %s", n, phase, time.Since(phaseBegan).Round(time.Second))
			if phase == phaseBenchmark {
				text = fmt.Sprintf("trial %d: %s %s", n, phase, benchProgress(dir, time.Since(phaseBegan), benchTypical))
			}
			text += fmt.Sprintf(" (trial running %s)", time.Since(began).Round(time.Second))
			fmt.Fprint(w, "\r\x1b[K"+text)
			shown = true
		}
	}()
	return func() { close(quit); wg.Wait() }
}

const (
	phaseStarting  = "starting the server"
	phaseBenchmark = "benchmarking"
	phaseStopping  = "stopping the server"
)

// currentPhase reads the phase of a trial from its folder.
func currentPhase(dir string) string {
	_, benchLog, benchJSON := runner.Files(dir)
	if _, err := os.Stat(benchJSON); err == nil {
		return phaseStopping
	}
	if _, err := os.Stat(benchLog); err == nil {
		return phaseBenchmark
	}
	return phaseStarting
}

// tqdmCount finds vllm bench serve's progress bar (" 80/200 [00:12<00:18") in its log.
var tqdmCount = regexp.MustCompile(`(\d+)/(\d+) \[`)

// benchProgress says how far the benchmark is: the percentage of its progress bar when its log has one,
// else the time it has run against how long benchmarks took so far (marked "~"), else its time.
func benchProgress(dir string, ran, typical time.Duration) string {
	_, benchLog, _ := runner.Files(dir)
	if data, err := readTail(benchLog, 4096); err == nil {
		if m := tqdmCount.FindAllStringSubmatch(data, -1); len(m) > 0 {
			done, _ := strconv.Atoi(m[len(m)-1][1])
			all, _ := strconv.Atoi(m[len(m)-1][2])
			if all > 0 {
				return fmt.Sprintf("%d%%", done*100/all)
			}
		}
	}
	if typical > 0 {
		return fmt.Sprintf("~%d%%", min(99, int(100*ran/typical)))
	}
	return ran.Round(time.Second).String()
}

func readTail(path string, n int64) (string, error) {
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	off := max(st.Size()-n, 0)
	buf := make([]byte, st.Size()-off)
	_, err = f.ReadAt(buf, off)
	if err != nil && err != io.EOF {
		return "", err
	}
	return string(buf), nil
}

// typical is the median of ds (0 when empty).
func typical(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
