package sim

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/autotune/autotune/sim/internal/process"
)

// The environment variables through which autotune sets the simulated machine up for a study (process.Config
// lists every variable the simulator reads).
const (
	EnvState = process.EnvState // the directory the simulated processes share
	EnvSpeed = process.EnvSpeed // how many times faster than real time
	EnvSeed  = process.EnvSeed  // the run-to-run noise's seed
	EnvGPUs  = process.EnvGPUs  // how many GPUs the machine has
	EnvFault = process.EnvFault // faults to inject, a comma list
)

// Main runs the simulator's command line: `serve MODEL [flags]`, `bench serve [options]`, `--version`,
// `nvidia-smi ...` and `python -c CODE`, returning the exit status. cmd/autotune calls it for
// `autotune sim <args...>`; it must not install its own SIGTERM/SIGINT handling for that subcommand, because
// `serve` handles the signals itself (vLLM exits 0 on both). Main reads the environment here, once
// (process.Config lists the variables), and the subcommands see only that.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := process.ConfigFromEnv(os.LookupEnv, time.Now(), os.Getuid())
	return process.Main(ctx, cfg, args, stdout, stderr)
}
