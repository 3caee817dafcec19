package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// shellQuote quotes s for bash so that it reaches the program as one argument, byte for byte: JSON values such
// as --speculative-config '{"method":"ngram"}' survive.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// exportScript renders the best trial as an executable bash script that starts vllm serve with exactly its flags.
func exportScript(ls *loadedStudy, best, baseline *trialView, now time.Time) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("#!/usr/bin/env bash\n")
	w("# Start vLLM with the fastest configuration autotune found (%s of study %q in %s).\n", best.trialsText(), ls.study.Name, ls.view.DB)
	w("# Generated %s by autotune %s.\n", now.Format("2006-01-02 15:04 MST"), version)
	w("#\n")
	if ls.view.Simulated {
		w("# %s\n#\n", simulatedNote)
	}
	measured := "Measured"
	if ls.view.Simulated {
		measured = "Simulated (not measured)"
	}
	w("# %s: output throughput %s tok/s, P99 TPOT %s ms, P99 TTFT %s ms, mean TPOT %s ms.\n",
		measured, fmtNum(best.OutputThroughput, "%.1f"), fmtNum(best.P99TPOTms, "%.1f"), fmtNum(best.P99TTFTms, "%.0f"),
		fmtNum(best.MeanTPOTms, "%.2f"))
	if len(best.Measurements) > 1 {
		var runs []string
		for _, m := range best.Measurements {
			runs = append(runs, fmt.Sprintf("%.1f (#%d)", m.OutputThroughput, m.Number))
		}
		w("# Throughput and mean TPOT are the means of %d runs of these flags (%s tok/s); the P99s are the worst run's.\n",
			len(best.Measurements), strings.Join(runs, ", "))
	}
	if baseline != nil {
		w("# Baseline (vLLM defaults, trial %d): %s tok/s, P99 TPOT %s ms, P99 TTFT %s ms (throughput %s).\n",
			baseline.Number, fmtNum(baseline.OutputThroughput, "%.1f"), fmtNum(baseline.P99TPOTms, "%.1f"),
			fmtNum(baseline.P99TTFTms, "%.0f"), fmtDelta(best.OutputThroughput, baseline.OutputThroughput))
	}
	w("# SLA: %s.\n", slaText(ls.view.SLA))
	w("# vLLM %s on %s.\n", orUnknown(ls.view.VLLMVersion), orUnknown(ls.view.GPU))
	w("# Workload: %s\n", workloadText(ls.view.Workload))
	w("#\n# Override the port with PORT=8001, the executable with VLLM=/path/to/vllm; extra arguments are passed on.\n")
	w("set -euo pipefail\n\n")
	w("PORT=\"${PORT:-8000}\"\n")
	w("VLLM=\"${VLLM:-vllm}\"\n")
	if env := best.rec.Env; len(env) > 0 {
		keys := make([]string, 0, len(env))
		for k := range env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			w("export %s=%s\n", k, shellQuote(env[k]))
		}
	}
	model := ls.view.Model
	if best.rec.Model != "" {
		model = best.rec.Model
	}
	w("\nexec \"$VLLM\" serve %s \\\n", shellQuote(model))
	// One line per flag, with its values (a capture-size list has several).
	for i := 0; i < len(best.Args); {
		line := shellQuote(best.Args[i])
		for i++; i < len(best.Args) && !strings.HasPrefix(best.Args[i], "-"); i++ {
			line += " " + shellQuote(best.Args[i])
		}
		w("  %s \\\n", line)
	}
	w("  --port \"$PORT\" \"$@\"\n")
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// writeExecutable replaces the file at path with an executable (0755) one holding text. It writes a temporary
// file next to it and renames it over: os.WriteFile's mode applies only to a new file, so a re-export over an
// existing non-executable flags.sh would stay non-executable, and a crash mid-write would leave half a script.
func writeExecutable(path, text string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.WriteString(text)
	if err == nil {
		err = f.Chmod(0o755)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
