package process

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// envOf is a lookup over a fixed environment, for ConfigFromEnv.
func envOf(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) { v, ok := vars[name]; return v, ok }
}

// TestSeveralGPUs: AUTOTUNE_SIM_GPUS sets how many GPUs nvidia-smi lists; a server's memory counts on the GPU
// CUDA_VISIBLE_DEVICES gives it, and an index the machine lacks is refused.
func TestSeveralGPUs(t *testing.T) {
	env := map[string]string{"AUTOTUNE_SIM_STATE": t.TempDir(), "AUTOTUNE_SIM_GPUS": "3", "CUDA_VISIBLE_DEVICES": "2"}
	cfg := ConfigFromEnv(envOf(env), time.Now(), os.Getuid())
	gpu, err := cfg.VisibleGPU()
	if err != nil || gpu != 2 {
		t.Fatalf("VisibleGPU = %d, %v; want 2", gpu, err)
	}
	st, err := openState(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.setGPUOn(os.Getpid(), 5000, gpu); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := nvidiaSMI(cfg, []string{"--query-gpu=index,memory.used,count", "--format=csv,noheader,nounits"}, &out, &errb); code != 0 {
		t.Fatalf("nvidia-smi: %d %s", code, errb.String())
	}
	if got := strings.TrimSpace(out.String()); got != "0, 0, 3\n1, 0, 3\n2, 5000, 3" {
		t.Errorf("nvidia-smi lists\n%s\nwant three GPUs with the memory on GPU 2", got)
	}
	env["CUDA_VISIBLE_DEVICES"] = "3"
	if _, err := ConfigFromEnv(envOf(env), time.Now(), os.Getuid()).VisibleGPU(); err == nil || !strings.Contains(err.Error(), "names no GPU") {
		t.Errorf("GPU 3 of 3: %v", err)
	}
	st.setGPUOn(os.Getpid(), 0, gpu)
}

// TestConfigFromEnv: each variable's default, its parsed value, and what an unparsable value falls back to.
func TestConfigFromEnv(t *testing.T) {
	now := time.Unix(0, 12345)
	cases := []struct {
		name  string
		env   map[string]string
		check func(c Config) bool
	}{
		{"defaults", map[string]string{}, func(c Config) bool {
			gpu, err := c.VisibleGPU()
			return c.StateDir == "/tmp/autotune-sim-42" && c.Speed == 1 && c.Seed == 12345 && c.Acceptance == 0 &&
				len(c.Packages) == 1 && c.Packages["arctic_inference"] && len(c.Faults) == 0 && c.GPUs == 1 &&
				gpu == 0 && err == nil && !c.AllowLongMaxLen && !c.DisableCompileCache && c.Err == nil
		}},
		{"TMPDIR names the default state directory", map[string]string{"TMPDIR": "/scratch"}, func(c Config) bool {
			return c.StateDir == "/scratch/autotune-sim-42"
		}},
		{"set", map[string]string{"AUTOTUNE_SIM_STATE": "/s", "AUTOTUNE_SIM_SPEED": "200", "AUTOTUNE_SIM_SEED": " -3 ",
			"AUTOTUNE_SIM_ACCEPTANCE": "0.5", "AUTOTUNE_SIM_PACKAGES": "arctic-inference, flash_attn,",
			"AUTOTUNE_SIM_FAULT": "hang, slow_health", "AUTOTUNE_SIM_GPUS": "40",
			"VLLM_ALLOW_LONG_MAX_MODEL_LEN": "TRUE", "VLLM_DISABLE_COMPILE_CACHE": "yes"}, func(c Config) bool {
			return c.StateDir == "/s" && c.Speed == 200 && c.Seed == ^uint64(2) && c.Acceptance == 0.5 &&
				len(c.Packages) == 2 && c.Packages["arctic_inference"] && c.Packages["flash_attn"] &&
				len(c.Faults) == 2 && c.Faults[faultHang] && c.Faults[faultSlowHealth] && c.GPUs == 16 &&
				c.AllowLongMaxLen && c.DisableCompileCache && c.Err == nil
		}},
		{"unparsable values keep the defaults", map[string]string{"AUTOTUNE_SIM_SPEED": "-2", "AUTOTUNE_SIM_SEED": "x",
			"AUTOTUNE_SIM_GPUS": "0", "VLLM_ALLOW_LONG_MAX_MODEL_LEN": "0"}, func(c Config) bool {
			return c.Speed == 1 && c.Seed == 12345 && c.GPUs == 1 && !c.AllowLongMaxLen
		}},
		{"an unknown fault is an error that names it", map[string]string{"AUTOTUNE_SIM_FAULT": "hang,oom_statrup"}, func(c Config) bool {
			return c.Err != nil && strings.Contains(c.Err.Error(), `AUTOTUNE_SIM_FAULT: unknown fault "oom_statrup"`)
		}},
		{"empty AUTOTUNE_SIM_PACKAGES installs none", map[string]string{"AUTOTUNE_SIM_PACKAGES": ""}, func(c Config) bool {
			return len(c.Packages) == 0
		}},
	}
	for _, tc := range cases {
		if c := ConfigFromEnv(envOf(tc.env), now, 42); !tc.check(c) {
			t.Errorf("%s: %+v", tc.name, c)
		}
	}
}

// TestEveryFaultIsDocumented: each fault name has its line in the package comment's table, and
// AUTOTUNE_SIM_FAULT switches on every one of them.
func TestEveryFaultIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range allFaults {
		if !strings.Contains(string(doc), "\n//\t"+f+" ") {
			t.Errorf("fault %q has no line in doc.go's table", f)
		}
	}
	c := ConfigFromEnv(envOf(map[string]string{"AUTOTUNE_SIM_FAULT": strings.Join(allFaults, ",")}), time.Now(), 0)
	if len(c.Faults) != len(allFaults) {
		t.Errorf("AUTOTUNE_SIM_FAULT with all %d faults switches on %d: %v", len(allFaults), len(c.Faults), c.Faults)
	}
}
