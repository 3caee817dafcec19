package sim

import (
	"context"
	"os"
	"testing"
)

// TestMain lets the test binary act as the simulator (`vllm`, `nvidia-smi`, `python`) when re-executed by a
// process-level test with AUTOTUNE_SIM_HELPER=1 (the os/exec helper-process pattern).
func TestMain(m *testing.M) {
	if os.Getenv("AUTOTUNE_SIM_HELPER") == "1" {
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
