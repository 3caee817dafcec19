// Command autotune finds the fastest `vllm serve` configuration for one GPU under latency SLAs.
//
// It runs a goptuna study (TPE by default) over vLLM's serving flags: each trial restarts the server with a
// new configuration, benchmarks it with `vllm bench serve` exactly as the user scores it, and records the
// output throughput under the SLA in SQLite (tuning.db). Rerunning the same command resumes the study.
// `autotune --simulate` runs the same code against autotune's built-in simulator of vLLM 0.15.1 on a Tesla T4;
// its numbers are not measurements.
//
// Usage:
//
//	autotune [run] [flags]            run, or resume, the study in --db until it has --trials finished trials
//	autotune best [--export FILE]     best feasible trial against the baseline
//	autotune trials [--format table|json|csv]
//	autotune show N                   one trial: command line, metrics, failure, logs
//	autotune space                    the search space in force for this GPU and vLLM, and what was left out
//	autotune sim ...                  the simulated vLLM behind --simulate
//	autotune version                  the version and the commit autotune was built from
//
// Results, and help when asked for, go to stdout; progress, logs, warnings and usage errors to stderr. Exit
// codes: 0 done, 1 failed, 2 bad usage or input, 130 interrupted.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/autotune/autotune/sim"
)

func main() {
	if isSimChild(os.Args[1:]) {
		// The simulator plays vLLM and nvidia-smi: it handles signals the way they do.
		os.Exit(sim.Main(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
	}
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	os.Exit(runWithSignals(sigs, os.Args[1:], os.Stdout, os.Stderr))
}
