// Command searchq measures the search quality of autotune's samplers on the simulator: N seeds x {tpe, random,
// grid} x T trials, each study run in process against sim.Predict, each best pick scored by its noise-free
// throughput as a fraction of the simulator's optimum. Nothing it prints is a measurement.
//
// Usage:
//
//	go run ./cmd/searchq --seeds 10 --trials 40 --samplers tpe,random,grid
//	go run ./cmd/searchq --recompute-optimum --optimum-only
//
// The table goes to stdout, progress to stderr. Exit codes: 0 done, 1 failed, 2 bad usage, 130 interrupted.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/autotune/autotune/searchq"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := searchq.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
