package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/autotune/autotune/store"
)

func runTrials(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trials", stderr)
	db := fs.String("db", "tuning.db", "study database")
	study := fs.String("study", "", "study name (default: the only study in --db)")
	format := fs.String("format", "table", "output format: table, json or csv")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("trials: unexpected argument %q", fs.Arg(0))
	}
	switch *format {
	case "table", "json", "csv":
	default:
		return usagef("--format %q: must be table, json or csv", *format)
	}
	ls, err := loadStudy(*db, *study)
	if err != nil {
		return err
	}
	defer ls.Close()
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		trials := ls.trials
		if trials == nil {
			trials = []trialView{}
		}
		return enc.Encode(struct {
			Study  studyView   `json:"study"`
			Trials []trialView `json:"trials"`
		}{ls.view, trials})
	case "csv":
		return writeTrialsCSV(stdout, ls.trials)
	}
	if ls.view.Simulated {
		fmt.Fprintln(stdout, simulatedNote)
	}
	tw := newTable(stdout)
	tw.Header("#", "state", "tok/s", "P99 TPOT ms", "P99 TTFT ms", "verdict", "flags")
	for _, t := range ls.trials {
		tw.Append(strconv.Itoa(t.Number), t.State, fmtNum(t.OutputThroughput, "%.0f"), fmtNum(t.P99TPOTms, "%.1f"),
			fmtNum(t.P99TTFTms, "%.0f"), clip(t.verdict(), 48), clip(t.flagsText(), 72))
	}
	tw.Render()
	fmt.Fprintf(stdout, "%d finished trials in study %q (%s)\n", ls.view.Finished, ls.study.Name, ls.view.DB)
	return nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func writeTrialsCSV(w io.Writer, trials []trialView) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"number", "state", "label", "feasible", "output_throughput", "p99_tpot_ms", "p99_ttft_ms",
		"mean_tpot_ms", "mean_ttft_ms", "failure", "violation", "objective", "duplicate_of", "startup_s",
		"benchmark_s", "teardown_s", "args"})
	f := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	for _, t := range trials {
		dup := ""
		if t.DuplicateOf != nil {
			dup = strconv.Itoa(*t.DuplicateOf)
		}
		args, _ := json.Marshal(t.Args)
		cw.Write([]string{strconv.Itoa(t.Number), t.State, t.Label, strconv.FormatBool(t.Feasible),
			f(t.OutputThroughput), f(t.P99TPOTms), f(t.P99TTFTms), f(t.MeanTPOTms), f(t.MeanTTFTms), t.Failure,
			t.Violation, f(t.Objective), dup, strconv.FormatFloat(t.StartupS, 'f', 2, 64),
			strconv.FormatFloat(t.BenchmarkS, 'f', 2, 64), strconv.FormatFloat(t.TeardownS, 'f', 2, 64), string(args)})
	}
	cw.Flush()
	return cw.Error()
}

func runShow(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("show", stderr)
	db := fs.String("db", "tuning.db", "study database")
	study := fs.String("study", "", "study name (default: the only study in --db)")
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
	defer ls.Close()
	var t *trialView
	for i := range ls.trials {
		if ls.trials[i].Number == n {
			t = &ls.trials[i]
		}
	}
	if t == nil {
		return fmt.Errorf("trial %d: %w in study %q (it has %d trials)", n, store.ErrNoTrial, ls.study.Name, len(ls.trials))
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			trialView
			Simulated bool           `json:"simulated"` // the study ran on the simulator: nothing here was measured
			ServeArgv []string       `json:"serve_argv"`
			BenchArgv []string       `json:"bench_argv"`
			Metrics   map[string]any `json:"metrics"`
			LogTail   string         `json:"log_tail"`
			ServerLog string         `json:"server_log"`
			BenchLog  string         `json:"bench_log"`
			BenchJSON string         `json:"bench_json"`
		}{*t, ls.view.Simulated, t.rec.ServeArgv, t.rec.BenchArgv, t.metrics, t.rec.LogTail, t.rec.ServerLog, t.rec.BenchLog, t.rec.BenchPath})
	}
	writeShow(stdout, ls, t)
	return nil
}

func writeShow(w io.Writer, ls *loadedStudy, t *trialView) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	if ls.view.Simulated {
		p("%s\n", simulatedNote)
	}
	p("trial %d", t.Number)
	if t.Label != "" {
		p(" (%s)", t.Label)
	}
	p(": %s, %s\n", t.State, t.verdict())
	if len(t.rec.ServeArgv) > 0 {
		p("command:   %s\n", shellJoin(t.rec.ServeArgv))
	} else {
		p("flags:     %s\n", t.flagsText())
	}
	if len(t.Params) > 0 {
		keys := make([]string, 0, len(t.Params))
		for k := range t.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+t.Params[k])
		}
		p("params:    %s\n", strings.Join(kv, " "))
	}
	if t.OutputThroughput != nil {
		p("result:    %s tok/s, P99 TPOT %s ms, P99 TTFT %s ms, mean TPOT %s ms, mean TTFT %s ms\n",
			fmtNum(t.OutputThroughput, "%.1f"), fmtNum(t.P99TPOTms, "%.2f"), fmtNum(t.P99TTFTms, "%.1f"),
			fmtNum(t.MeanTPOTms, "%.2f"), fmtNum(t.MeanTTFTms, "%.1f"))
	}
	if t.Objective != nil {
		p("objective: %g\n", *t.Objective)
	}
	if t.rec.Startup > 0 || t.rec.Benchmark > 0 {
		p("phases:    startup %.1fs, benchmark %.1fs, teardown %.1fs\n", t.StartupS, t.BenchmarkS, t.TeardownS)
	}
	if t.Failure != "" {
		p("failure:   %s: %s\n", t.Failure, t.Message)
	} else if t.Message != "" {
		p("note:      %s\n", t.Message)
	}
	if t.metrics != nil {
		keys := make([]string, 0, len(t.metrics))
		for k, v := range t.metrics {
			if _, ok := v.(float64); ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		p("metrics:\n")
		for _, k := range keys {
			p("  %-28s %v\n", k, t.metrics[k])
		}
	}
	for _, f := range [][2]string{{"server log", t.rec.ServerLog}, {"bench log", t.rec.BenchLog}, {"bench json", t.rec.BenchPath}} {
		if f[1] != "" {
			p("%-10s %s\n", f[0]+":", f[1])
		}
	}
	if t.rec.LogTail != "" {
		p("log tail:\n")
		for _, line := range strings.Split(strings.TrimRight(t.rec.LogTail, "\n"), "\n") {
			p("  | %s\n", line)
		}
	}
}

func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}
