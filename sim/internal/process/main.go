package process

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/autotune/autotune/sim/internal/model"
)

// Main runs the simulator's command line (see package sim) on the machine cfg describes, returning the exit
// status.
func Main(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) int {
	if cfg.Err != nil {
		fmt.Fprintf(stderr, "autotune sim: %v\n", cfg.Err)
		return 2
	}
	leading := leadingArgs(args)
	if len(args) == 0 {
		io.WriteString(stderr, model.TopUsage+"\nvllm: error: the following arguments are required: subparser\n")
		return 2
	}
	switch args[0] {
	case "--version", "-v", "version":
		fmt.Fprintln(stdout, model.VLLMVersion)
		return 0
	case "-h", "--help":
		fmt.Fprintf(stdout, "%s\n\nautotune sim: a SIMULATED vLLM %s on a simulated Tesla T4 (not a measurement).\n\npositional arguments:\n  {serve,bench}\n    serve   Launch a local OpenAI-compatible API server to serve LLM completions via HTTP.\n    bench   vLLM bench subcommand.\n\nalso: nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits], python -c CODE\n", model.TopUsage, model.VLLMVersion)
		return 0
	case "serve":
		return serve(ctx, cfg, args[1:], leading, stdout, stderr)
	case "bench":
		if len(args) < 2 || args[1] != "serve" {
			io.WriteString(stderr, "usage: vllm bench [-h] {latency,serve,throughput} ...\nvllm bench: error: argument bench_type: invalid choice (only 'serve' is simulated)\n")
			return 2
		}
		return benchServe(ctx, cfg, args[2:], stdout, stderr)
	case "nvidia-smi":
		return nvidiaSMI(cfg, args[1:], stdout, stderr)
	case "python", "python3":
		return python(cfg.Packages, args[1:], stdout, stderr)
	case "engine-core":
		return engineCore(ctx, cfg)
	}
	fmt.Fprintf(stderr, "%s\nvllm: error: argument subparser: invalid choice: '%s' (choose from 'chat', 'complete', 'serve', 'bench', 'collect-env', 'run-batch')\n", model.TopUsage, args[0])
	return 2
}

// leadingArgs are the arguments of this process before Main's own (e.g. "sim" in `autotune sim serve ...`),
// which the fork_holder child re-uses to reach Main again.
func leadingArgs(args []string) []string {
	if len(os.Args) < 1+len(args) {
		return nil
	}
	lead := os.Args[1 : len(os.Args)-len(args)]
	for i, a := range args {
		if os.Args[len(os.Args)-len(args)+i] != a {
			return nil
		}
	}
	return append([]string(nil), lead...)
}

// mix combines seeds (splitmix64 steps).
func mix(vals ...uint64) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, v := range vals {
		h ^= v + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
		h ^= h >> 30
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 27
		h *= 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}
