package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	readmodel "github.com/autotune/autotune/report"
	"github.com/autotune/autotune/store"
)

// showJSON is `show N --format json`: the trial with its whole record. Its names are a stable interface.
type showJSON struct {
	readmodel.Trial
	Simulated bool           `json:"simulated"` // the study ran on the simulator: nothing here was measured
	Command   []string       `json:"command"`   // the serve command as a person would type it (see Trial.Command)
	ServeArgv []string       `json:"serve_argv"`
	BenchArgv []string       `json:"bench_argv"`
	Metrics   map[string]any `json:"metrics"`
	Proof     []string       `json:"proof"` // the log lines that prove the failure
	LogTail   string         `json:"log_tail"`
	ServerLog string         `json:"server_log"`
	BenchLog  string         `json:"bench_log"`
	BenchJSON string         `json:"bench_json"`
}

func runShow(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("show", stderr)
	db, study := reportFlags(fs)
	format := fs.String("format", "text", "output format: text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("show: want one trial number, as in `autotune show 7`")
	}
	n, err := strconv.Atoi(fs.Arg(0))
	if err != nil || n < 0 {
		return usagef("show: %q is not a trial number", fs.Arg(0))
	}
	if *format != "text" && *format != "json" {
		return usagef("--format %q: must be text or json", *format)
	}
	ls, err := loadStudy(*db, *study)
	if err != nil {
		return err
	}
	t := ls.model.Trial(n)
	if t == nil {
		return fmt.Errorf("trial %d: %w in study %q (it has %d trials)", n, store.ErrNoTrial, ls.view.Name, len(ls.trials))
	}
	if *format == "json" {
		return writeShowJSON(stdout, ls, t)
	}
	writeShow(stdout, ls, t)
	return nil
}

func writeShowJSON(w io.Writer, ls *loadedStudy, t *readmodel.Trial) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	rec := t.Record
	return enc.Encode(showJSON{Trial: *t, Simulated: ls.view.Simulated, Command: orEmpty(t.Command(ls.view.Simulated)),
		ServeArgv: orEmpty(rec.ServeArgv), BenchArgv: orEmpty(rec.BenchArgv), Metrics: t.Metrics, Proof: orEmpty(t.Proof()),
		LogTail: rec.LogTail, ServerLog: rec.ServerLog, BenchLog: rec.BenchLog, BenchJSON: rec.BenchPath})
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeShow(w io.Writer, ls *loadedStudy, t *readmodel.Trial) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	rec := t.Record
	if ls.view.Simulated {
		p("%s\n", simulatedNote)
	}
	p("trial %d", t.Number)
	if t.Label != "" {
		p(" (%s)", t.Label)
	}
	p(": %s", t.Outcome)
	switch {
	case t.Failure != "" && t.DuplicateOf == nil:
		p(" (%s)", t.Failure)
	case t.DuplicateOf != nil:
		p(" (same flags as trial %d, not run again)", *t.DuplicateOf)
	}
	p("\n")
	if cmd := t.Command(ls.view.Simulated); len(cmd) > 0 {
		p("command:   %s\n", shellJoin(cmd))
		if ls.view.Simulated && len(rec.ServeArgv) > 0 && rec.ServeArgv[0] != cmd[0] {
			p("           (run by autotune's simulator in its place)\n")
		}
	} else {
		p("flags:     %s\n", (trialView{Trial: *t}).flagsText())
	}
	if len(t.Env) > 0 {
		keys := make([]string, 0, len(t.Env))
		for k := range t.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+shellQuote(t.Env[k]))
		}
		p("env:       %s (set by the space file)\n", strings.Join(kv, " "))
	}
	if ch := t.Changes(); len(ch) > 0 {
		p("changes:   %s\n", strings.Join(ch, " "))
	}
	tpotMax, ttftMax := ls.view.Limits()
	if t.OutputThroughput != nil {
		p("result:    %s tok/s, P99 TPOT %s ms, P99 TTFT %s ms (SLA: < %g ms, < %g ms)\n",
			roundPtr(t.OutputThroughput), roundPtr(t.P99TPOTms), roundPtr(t.P99TTFTms), tpotMax, ttftMax)
	}
	if t.Violation != "" && t.Violation != t.Failure {
		p("missed:    %s\n", t.Violation)
	}
	p("objective: %s\n", objectiveText(t))
	if t.StartupS > 0 || t.BenchmarkS > 0 {
		p("phases:    starting the server %s s, benchmarking %s s, stopping %s s\n",
			readmodel.Round(t.StartupS), readmodel.Round(t.BenchmarkS), readmodel.Round(t.TeardownS))
	}
	if t.Failure != "" && t.DuplicateOf == nil {
		p("failure:   %s: %s\n", t.Failure, t.Message)
	} else if t.Message != "" {
		p("note:      %s\n", t.Message)
	}
	if proof := t.Proof(); len(proof) > 0 && t.DuplicateOf == nil {
		p("proof, from the log:\n")
		for _, line := range proof {
			p("  | %s\n", clip(line, 200))
		}
	}
	if t.Metrics != nil && t.DuplicateOf == nil {
		keys := make([]string, 0, len(t.Metrics))
		for k, v := range t.Metrics {
			if _, ok := v.(float64); ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		p("metrics (rounded; --format json has the exact values):\n")
		for _, k := range keys {
			p("  %-28s %s\n", k, readmodel.Round(t.Metrics[k].(float64)))
		}
	}
	for _, f := range [][2]string{{"server log", rec.ServerLog}, {"bench log", rec.BenchLog}, {"bench json", rec.BenchPath}} {
		if f[1] != "" {
			p("%-10s %s\n", f[0]+":", f[1])
		}
	}
}

func roundPtr(p *float64) string {
	if p == nil {
		return "-"
	}
	return readmodel.Round(*p)
}

// objectiveText explains the value the sampler was told for a trial.
func objectiveText(t *readmodel.Trial) string {
	if t.Objective == nil {
		switch t.State {
		case store.StateFailed:
			return "none: not counted, and the sampler ignores it (it says nothing about the config)"
		case store.StateWaiting, store.StateRunning:
			return "none yet"
		}
		return "none"
	}
	v := readmodel.Round(*t.Objective)
	switch {
	case t.DuplicateOf != nil:
		return fmt.Sprintf("%s, the result of trial %d, reused", v, *t.DuplicateOf)
	case t.Feasible:
		return v + ", the output throughput (the trial met the SLA)"
	case t.Outcome == readmodel.Crashed || t.Outcome == readmodel.Refused:
		return v + ", the lowest value the sampler is told: the config did not serve, so TPE avoids its neighbourhood"
	}
	return v + ", below every feasible value since the SLA was missed; the closer to -1, the closer to the SLA"
}
