package sim

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestSeveralGPUs: AUTOTUNE_SIM_GPUS sets how many GPUs nvidia-smi lists; a server's memory counts on the GPU
// CUDA_VISIBLE_DEVICES gives it, and an index the machine lacks is refused.
func TestSeveralGPUs(t *testing.T) {
	t.Setenv("AUTOTUNE_SIM_STATE", t.TempDir())
	t.Setenv("AUTOTUNE_SIM_GPUS", "3")
	t.Setenv("CUDA_VISIBLE_DEVICES", "2")
	gpu, err := VisibleGPU()
	if err != nil || gpu != 2 {
		t.Fatalf("VisibleGPU = %d, %v; want 2", gpu, err)
	}
	st, err := OpenState()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetGPUOn(os.Getpid(), 5000, gpu); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := nvidiaSMI([]string{"--query-gpu=index,memory.used", "--format=csv,noheader,nounits"}, &out, &errb); code != 0 {
		t.Fatalf("nvidia-smi: %d %s", code, errb.String())
	}
	if got := strings.TrimSpace(out.String()); got != "0, 0\n1, 0\n2, 5000" {
		t.Errorf("nvidia-smi lists\n%s\nwant three GPUs with the memory on GPU 2", got)
	}
	t.Setenv("CUDA_VISIBLE_DEVICES", "3")
	if _, err := VisibleGPU(); err == nil || !strings.Contains(err.Error(), "names no GPU") {
		t.Errorf("GPU 3 of 3: %v", err)
	}
	st.SetGPUOn(os.Getpid(), 0, gpu)
}
