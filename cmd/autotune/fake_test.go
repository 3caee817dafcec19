package main

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/autotune/autotune/runner/runnertest"
)

// The test binary doubles as the fake machine's vllm, nvidia-smi and python (runnertest.Main), and as autotune
// itself (for `autotune sim ...` children of --simulate studies), chosen by its first argument when
// AUTOTUNE_TEST_MAIN is set.
func TestMain(m *testing.M) {
	runnertest.Main()
	if os.Getenv("AUTOTUNE_TEST_MAIN") == "1" && len(os.Args) > 1 {
		switch os.Args[1] {
		case "sim":
			main()
		case "autotune":
			// A child autotune, for tests that kill or interrupt it.
			os.Args = append(os.Args[:1], os.Args[2:]...)
			main()
		}
	}
	os.Setenv("AUTOTUNE_TEST_MAIN", "1")
	// Children re-exec this binary; built with -race, each would sleep 1 s at exit (TSan's atexit_sleep_ms).
	os.Setenv("GORACE", strings.TrimSpace("atexit_sleep_ms=0 "+os.Getenv("GORACE")))
	os.Exit(m.Run())
}

// fakeMachine returns the flags that point autotune at a fake machine of its own (runnertest.Machine: vllm,
// nvidia-smi, python and a reserved port), whose benchmark reports more throughput up to 64 --max-num-seqs and
// breaks the TPOT limit above 128. autotune passes its environment on to what it starts, so the machine's
// environment is set here: any process of the study left alive fails the test. The time limits only bound
// waiting on a loaded machine.
func fakeMachine(t *testing.T) []string {
	m := runnertest.NewMachine(t, runnertest.Config{})
	for _, kv := range m.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return []string{"--vllm", strings.Join(m.VLLM, " "), "--nvidia-smi", strings.Join(m.NvidiaSMI, " "),
		"--python", strings.Join(m.Python, " "), "--port", strconv.Itoa(m.Port),
		"--startup-timeout", "2m", "--bench-timeout", "2m", "--stop-grace", "2s"}
}
