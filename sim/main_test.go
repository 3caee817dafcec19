package sim

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestMainReadsTheEnvironment: Main hands the subcommands what the environment says (AUTOTUNE_SIM_GPUS,
// AUTOTUNE_SIM_PACKAGES, AUTOTUNE_SIM_STATE), read at the entry point.
func TestMainReadsTheEnvironment(t *testing.T) {
	t.Setenv("AUTOTUNE_SIM_STATE", t.TempDir())
	t.Setenv("AUTOTUNE_SIM_GPUS", "2")
	t.Setenv("AUTOTUNE_SIM_PACKAGES", "")
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"nvidia-smi", "--query-gpu=index,count", "--format=csv,noheader"}, &out, &errb); code != 0 {
		t.Fatalf("nvidia-smi: exit %d: %s", code, errb.String())
	}
	if got := strings.TrimSpace(out.String()); got != "0, 2\n1, 2" {
		t.Errorf("nvidia-smi with AUTOTUNE_SIM_GPUS=2 lists\n%s", got)
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"python", "-c", "import arctic_inference"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "No module named 'arctic_inference'") {
		t.Errorf("python probe with AUTOTUNE_SIM_PACKAGES empty: exit %d, %q", code, errb.String())
	}
	t.Setenv("AUTOTUNE_SIM_PACKAGES", "arctic-inference")
	if code := Main(context.Background(), []string{"python", "-c", "import arctic_inference"}, &out, &errb); code != 0 {
		t.Errorf("python probe with arctic-inference installed: exit %d", code)
	}
	t.Setenv("AUTOTUNE_SIM_FAULT", "no_such_fault")
	errb.Reset()
	if code := Main(context.Background(), []string{"--version"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `AUTOTUNE_SIM_FAULT: unknown fault "no_such_fault"`) {
		t.Errorf("an unknown AUTOTUNE_SIM_FAULT: exit %d, %q; want 2 and the name", code, errb.String())
	}
}
