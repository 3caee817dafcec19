package process

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary act as the simulator (`vllm`, `nvidia-smi`, `python`) when re-executed by a
// process-level test with AUTOTUNE_SIM_HELPER=1 (the os/exec helper-process pattern).
func TestMain(m *testing.M) {
	if os.Getenv("AUTOTUNE_SIM_HELPER") == "1" {
		os.Exit(Main(context.Background(), ConfigFromEnv(os.LookupEnv, time.Now(), os.Getuid()), os.Args[1:], os.Stdout, os.Stderr))
	}
	// Children re-exec this binary; built with -race, each would sleep 1 s at exit (TSan's atexit_sleep_ms).
	os.Setenv("GORACE", strings.TrimSpace("atexit_sleep_ms=0 "+os.Getenv("GORACE")))
	os.Exit(m.Run())
}

const qwen = "Qwen/Qwen2.5-0.5B"

// argv is `vllm serve qwen <s>` split at spaces.
func argv(s string) []string { return append([]string{qwen}, strings.Fields(s)...) }
