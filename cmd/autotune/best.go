package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/autotune/autotune/runner"
)

// errNoFeasible: the study has results, but none met the SLA. Exit code 1: nothing is wrong with the input.
var errNoFeasible = errors.New("no feasible trial")

func runBest(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("best", stderr)
	db := fs.String("db", "tuning.db", "study database")
	study := fs.String("study", "", "study name (default: the only study in --db)")
	export := fs.String("export", "", "write an executable script that starts vllm serve with the best flags to `FILE`")
	format := fs.String("format", "table", "output format: table or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("best: unexpected argument %q", fs.Arg(0))
	}
	if *format != "table" && *format != "json" {
		return usagef("--format %q: must be table or json", *format)
	}
	ls, err := loadStudy(*db, *study)
	if err != nil {
		return err
	}
	defer ls.Close()
	best, baseline := ls.bestAndBaseline()
	if ls.view.Finished == 0 {
		return usagef("study %q in %s has no finished trials yet; run `autotune --trials N`", ls.study.Name, *db)
	}
	if best == nil {
		fmt.Fprintf(stderr, "autotune: none of the %d finished trials met the SLA (%s); nothing to export\n",
			ls.view.Finished, slaText(ls.view.SLA))
		return fmt.Errorf("%w in study %q", errNoFeasible, ls.study.Name)
	}
	if *export != "" {
		script, err := exportScript(ls, best, baseline, time.Now())
		if err == nil {
			err = writeExecutable(*export, script)
		}
		if err != nil {
			return fmt.Errorf("--export %s: %w", *export, err)
		}
		fmt.Fprintf(stderr, "wrote %s: vllm serve with the flags of %s\n", *export, best.trialsText())
	}
	if *format == "json" {
		return writeBestJSON(stdout, ls, best, baseline)
	}
	writeBestTable(stdout, ls, best, baseline)
	return nil
}

type bestJSON struct {
	Study    studyView          `json:"study"`
	Best     trialView          `json:"best"`
	Baseline *trialView         `json:"baseline"`
	DeltaPct map[string]float64 `json:"delta_pct,omitempty"`
}

func writeBestJSON(w io.Writer, ls *loadedStudy, best, baseline *trialView) error {
	out := bestJSON{Study: ls.view, Best: *best, Baseline: baseline}
	if baseline != nil {
		out.DeltaPct = map[string]float64{}
		for key, pair := range map[string][2]*float64{
			"output_throughput": {best.OutputThroughput, baseline.OutputThroughput},
			"p99_tpot_ms":       {best.P99TPOTms, baseline.P99TPOTms},
			"p99_ttft_ms":       {best.P99TTFTms, baseline.P99TTFTms},
		} {
			if d, ok := deltaPct(pair[0], pair[1]); ok {
				out.DeltaPct[key] = d
			}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func deltaPct(now, then *float64) (float64, bool) {
	if now == nil || then == nil || *then == 0 {
		return 0, false
	}
	return (*now - *then) / *then * 100, true
}

func fmtDelta(now, then *float64) string {
	d, ok := deltaPct(now, then)
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", d)
}

func writeBestTable(w io.Writer, ls *loadedStudy, best, baseline *trialView) {
	if ls.view.Simulated {
		fmt.Fprintln(w, simulatedNote)
	}
	fmt.Fprintf(w, "Best of %d finished trials in study %q (%s):\n", ls.view.Finished, ls.study.Name, ls.view.DB)
	baseHead, baseTput, baseTPOT, baseTTFT := "baseline", "-", "-", "-"
	if baseline != nil {
		baseHead = fmt.Sprintf("baseline (#%d)", baseline.Number)
		baseTput = fmtNum(baseline.OutputThroughput, "%.0f")
		baseTPOT = fmtNum(baseline.P99TPOTms, "%.1f")
		baseTTFT = fmtNum(baseline.P99TTFTms, "%.0f")
	} else {
		baseline = &trialView{}
	}
	tw := newTable(w)
	tw.Header("metric", baseHead, fmt.Sprintf("best (%s)", best.measuredText()), "change")
	tw.Append("output throughput (tok/s)", baseTput, fmtNum(best.OutputThroughput, "%.0f"), fmtDelta(best.OutputThroughput, baseline.OutputThroughput))
	tw.Append("P99 TPOT (ms)", baseTPOT, fmtNum(best.P99TPOTms, "%.1f"), fmtDelta(best.P99TPOTms, baseline.P99TPOTms))
	tw.Append("P99 TTFT (ms)", baseTTFT, fmtNum(best.P99TTFTms, "%.0f"), fmtDelta(best.P99TTFTms, baseline.P99TTFTms))
	tw.Render()
	if len(best.Measurements) > 1 {
		var runs []string
		for _, m := range best.Measurements {
			runs = append(runs, fmt.Sprintf("#%d %.0f", m.Number, m.OutputThroughput))
		}
		fmt.Fprintf(w, "measured %d times (tok/s): %s; P99 columns show the worst run\n", len(best.Measurements), strings.Join(runs, ", "))
	}
	fmt.Fprintf(w, "flags: %s\n", best.flagsText())
}

// slaText renders the stored SLA JSON for people.
func slaText(raw json.RawMessage) string {
	var s struct {
		TPOT float64 `json:"max_p99_tpot_ms"`
		TTFT float64 `json:"max_p99_ttft_ms"`
	}
	if json.Unmarshal(raw, &s) != nil {
		return string(raw)
	}
	return fmt.Sprintf("P99 TPOT < %g ms, P99 TTFT < %g ms, every request successful", s.TPOT, s.TTFT)
}

// workloadText renders the stored workload as the benchmark command it stands for.
func workloadText(raw json.RawMessage) string {
	var w runner.Workload
	if json.Unmarshal(raw, &w) != nil {
		return string(raw)
	}
	return strings.Join(append(append([]string{"vllm bench serve"}, w.BenchFlags()...), w.ExtraArgs...), " ")
}
