package sim

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/autotune/autotune/sim/internal/process"
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
