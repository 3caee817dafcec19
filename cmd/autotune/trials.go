package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	readmodel "github.com/autotune/autotune/report"
	"github.com/autotune/autotune/tuner"
)

// trialSorts are the orders `trials --sort` knows.
var trialSorts = []string{"number", "throughput", "tpot", "ttft"}

func runTrials(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trials", stderr)
	db, study := reportFlags(fs)
	format := fs.String("format", "table", "output format: table, json or csv")
	sortBy := fs.String("sort", "number", "table row order: number, throughput (highest first), tpot or ttft (lowest first)")
	top := fs.Int("top", 0, "show only the first `N` rows in --sort order (0: all)")
	wide := fs.Bool("wide", false, "table: do not fit the terminal's width; show every flag")
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
	if !contains(trialSorts, *sortBy) {
		return usagef("--sort %q: must be one of %s", *sortBy, strings.Join(trialSorts, ", "))
	}
	if *top < 0 {
		return usagef("--top %d: must be >= 0", *top)
	}
	ls, err := loadStudy(*db, *study)
	if err != nil {
		return err
	}
	trials := sortTrials(ls.model.Trials, *sortBy)
	if *top > 0 && *top < len(trials) {
		trials = trials[:*top]
	}
	switch *format {
	case "json":
		return writeTrialsJSON(stdout, ls, trials)
	case "csv":
		return writeTrialsCSV(stdout, trials)
	}
	width := terminalWidth(stdout)
	if *wide {
		width = 0
	}
	writeTrialsTable(stdout, ls, trials, width)
	return nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// writeTrialsJSON prints {"study": ..., "trials": [...]}, exact values.
func writeTrialsJSON(w io.Writer, ls *loadedStudy, trials []readmodel.Trial) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Study  studyView         `json:"study"`
		Trials []readmodel.Trial `json:"trials"`
	}{ls.view, trials})
}

// sortTrials returns the trials in the given order; trials without the metric go last, by number.
func sortTrials(ts []readmodel.Trial, by string) []readmodel.Trial {
	out := append([]readmodel.Trial(nil), ts...)
	key := func(t readmodel.Trial) (float64, bool) {
		switch by {
		case "throughput":
			if t.OutputThroughput != nil {
				return -*t.OutputThroughput, true
			}
		case "tpot":
			if t.P99TPOTms != nil {
				return *t.P99TPOTms, true
			}
		case "ttft":
			if t.P99TTFTms != nil {
				return *t.P99TTFTms, true
			}
		}
		return 0, false
	}
	if by == "number" {
		return out
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, aok := key(out[i])
		b, bok := key(out[j])
		if aok != bok {
			return aok
		}
		return aok && a < b
	})
	return out
}

// writeTrialsTable prints the trials for people, fitted to width (0: no limit). The last column says how each
// config differs from the baseline; what every row shares is printed once above the table.
func writeTrialsTable(w io.Writer, ls *loadedStudy, trials []readmodel.Trial, width int) {
	if ls.view.Simulated {
		wrap(w, simulatedNote, width)
	}
	common := readmodel.CommonChanges(trials)
	if len(common) > 0 {
		wrap(w, "every config below but the baseline sets: "+strings.Join(common, " "), width)
	}
	drop := map[string]bool{}
	for _, c := range common {
		drop[c] = true
	}
	tpotMax, ttftMax := ls.view.Limits()
	missed := false
	tt := &textTable{header: []string{"#", "state", "tok/s", "TPOT", "TTFT", "flags (vs baseline)"},
		right: map[int]bool{0: true, 2: true, 3: true, 4: true}}
	for _, t := range trials {
		tpot, ttft := fmtNum(t.P99TPOTms, "%.1f"), fmtNum(t.P99TTFTms, "%.0f")
		if t.P99TPOTms != nil && tpotMax > 0 && tuner.Misses(*t.P99TPOTms, tpotMax) {
			tpot, missed = tpot+"!", true
		}
		if t.P99TTFTms != nil && ttftMax > 0 && tuner.Misses(*t.P99TTFTms, ttftMax) {
			ttft, missed = ttft+"!", true
		}
		tt.append(strconv.Itoa(t.Number), t.Outcome, fmtNum(t.OutputThroughput, "%.0f"), tpot, ttft, configText(ls.model, t, drop))
	}
	tt.render(w, width)
	var notes []string
	if missed {
		notes = append(notes, fmt.Sprintf("TPOT, TTFT: P99 in ms, ! misses the SLA (< %g, < %g)", tpotMax, ttftMax))
	} else {
		notes = append(notes, "TPOT, TTFT: P99 in ms")
	}
	if width > 0 {
		notes = append(notes, "--wide shows every flag")
	}
	fmt.Fprintf(w, "%s\n", strings.Join(notes, "; "))
	fmt.Fprintf(w, "%d finished trials in study %q (%s); %s of GPU time\n", ls.view.Finished, ls.view.Name, ls.view.DB,
		gpuTime(ls.view.GPUSeconds))
	fmt.Fprintf(w, "one trial in detail: %s\n", ls.hint("show", "N"))
}

// configText is the last column of the trials table: where the trial came from when that matters, and how its
// config differs from the baseline, most important parameter first, leaving out the changes in drop (shared by
// every row).
func configText(v *readmodel.View, t readmodel.Trial, drop map[string]bool) string {
	var prefix string
	switch {
	case t.Label == readmodel.BaselineLabel:
		return "(vLLM defaults)"
	case t.DuplicateOf != nil:
		return fmt.Sprintf("same flags as #%d: not run again", *t.DuplicateOf)
	case t.Outcome == readmodel.Refused || t.Outcome == readmodel.Crashed:
		prefix = "[" + t.Failure + "] "
	case t.Outcome == readmodel.Harness || t.Outcome == readmodel.Interrupted:
		prefix = "[not counted: " + t.Failure + "] "
	}
	if readmodel.IsRepeat(t.Label) || readmodel.IsRetry(t.Label) {
		prefix += t.Label + ": "
	}
	var ch []string
	for _, c := range v.SortChanges(t.Changes()) {
		if !drop[c] {
			ch = append(ch, c)
		}
	}
	switch {
	case len(ch) > 0:
		return prefix + strings.Join(ch, " ")
	case len(t.Changes()) > 0:
		return prefix + "(only the shared changes)"
	case t.Label != "":
		return prefix + t.Label
	}
	return strings.TrimSuffix(prefix, " ")
}

// gpuTime rounds a duration in seconds for people: "42 s", "12 min", "3.2 h".
func gpuTime(s float64) string {
	switch {
	case s < 10:
		return fmt.Sprintf("%.1f s", s) // a simulated study's trials take a fraction of a second each
	case s < 120:
		return fmt.Sprintf("%.0f s", s)
	case s < 7200:
		return fmt.Sprintf("%.0f min", s/60)
	}
	return fmt.Sprintf("%.1f h", s/3600)
}

// wrap prints text folded at spaces to width (0: one line).
func wrap(w io.Writer, text string, width int) {
	if width <= 0 {
		fmt.Fprintln(w, text)
		return
	}
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			fmt.Fprintln(w, line)
			line = "  " + word
			continue
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	fmt.Fprintln(w, line)
}

// writeTrialsCSV writes exact values: rounding is for people.
func writeTrialsCSV(w io.Writer, trials []readmodel.Trial) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"number", "state", "label", "feasible", "output_throughput", "p99_tpot_ms", "p99_ttft_ms",
		"mean_tpot_ms", "mean_ttft_ms", "failure", "violation", "objective", "duplicate_of", "startup_s",
		"benchmark_s", "teardown_s", "args", "outcome"})
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
			t.Violation, f(t.Objective), dup, strconv.FormatFloat(t.StartupS, 'f', -1, 64),
			strconv.FormatFloat(t.BenchmarkS, 'f', -1, 64), strconv.FormatFloat(t.TeardownS, 'f', -1, 64), string(args),
			t.Outcome})
	}
	cw.Flush()
	return cw.Error()
}

func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}
