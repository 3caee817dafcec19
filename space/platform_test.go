package space

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/autotune/autotune/runner"
)

func choicesOf(s *Space, name string) []string {
	for _, p := range s.Describe().Params {
		if p.Name == name {
			if p.Fixed != "" {
				return []string{"fixed:" + p.Fixed}
			}
			return p.Choices
		}
	}
	return nil
}

func droppedReason(s *Space, name, value string) (string, bool) {
	for _, d := range s.Describe().Dropped {
		if d.Param == name && d.Value == value {
			return d.Reason, true
		}
	}
	return "", false
}

// Pruning per GPU and version, with probe-like platforms and help texts in testdata/.
func TestPruningPerPlatform(t *testing.T) {
	type drop struct{ param, value, reason string } // reason: a fragment that must be in it
	tests := []struct {
		name    string
		p       Platform
		choices map[string][]string // nil value: parameter not in force
		drops   []drop
		render  map[string][]string // param=value -> args fragment
		env     map[string]string   // param=value -> VAR=value in Env
	}{{
		name: "T4, vLLM 0.15.1 help, no arctic-inference",
		p:    withHelp(t, tesla("0.15.1"), "testdata/vllm-0.15.1-help.txt"),
		choices: map[string][]string{
			"quantization":           {"default", "fp8", "bitsandbytes"},
			"attention_backend":      {"default", "TRITON_ATTN", "FLEX_ATTENTION"},
			"speculative":            {"default", "ngram"},
			"max_num_seqs":           {"default", "50", "56", "64", "128"},
			"max_num_batched_tokens": {"default", "1024", "4096", "8192", "16384", "25600"},
			"max_model_len":          {"default", "1024", "2048", "4096"},
			"optimization":           {"default", "O1", "eager"},
			"cudagraph_capture":      {"default", "max:56", "max:128", "max:256", "upto:50", "default+50"},
			"async_scheduling":       {"default", "off"},
			"stream_interval":        {"default", "2", "4", "8", "16"},
			"gpu_memory_utilization": {"default", "0.8", "0.95"},
			"dtype":                  nil, "kv_cache_dtype": nil, "performance_mode": nil, "model": nil,
		},
		drops: []drop{
			{"attention_backend", "FLASH_ATTN", "FA2 is only supported on devices with compute capability >= 8"},
			{"attention_backend", "FLASHINFER", "picks FLASHINFER on Tesla T4 by itself"},
			{"speculative", "suffix", "arctic-inference"},
			{"speculative", "ngram_gpu", "PR #29184"},
			{"kv_cache_dtype", "fp8", "fp8e4nv"}, {"kv_cache_dtype", "fp8_e4m3", "fp8e4nv"}, {"kv_cache_dtype", "fp8_e5m2", "sm75"},
			{"dtype", "bfloat16", "Bfloat16 is only supported on GPUs with compute capability of at least 8.0"},
			{"dtype", "float16", "falls back to float16"},
			{"performance_mode", "", "does not list --performance-mode"},
			{"max_num_batched_tokens", "2048", "max_num_batched_tokens=2048"},
			{"async_scheduling", "on", "on by default"},
		},
		render: map[string][]string{"cudagraph_capture=upto:50": {"--cudagraph-capture-sizes", "1", "2", "4", "8"}, "attention_backend=TRITON_ATTN": {"--attention-backend", "TRITON_ATTN"}},
	}, {
		name:    "T4, vLLM 0.15.1 help, arctic-inference installed",
		p:       withArctic(withHelp(t, tesla("0.15.1"), "testdata/vllm-0.15.1-help.txt")),
		choices: map[string][]string{"speculative": {"default", "ngram", "suffix"}},
	}, {
		name: "T4, vLLM 0.10.2 help: old spellings, fewer flags",
		p:    withArctic(withHelp(t, tesla("0.10.2"), "testdata/vllm-0.10.2-help.txt")),
		choices: map[string][]string{
			"attention_backend": {"default", "TRITON_ATTN"},
			"speculative":       {"default", "ngram"},
			"optimization":      {"default", "eager"},
			"async_scheduling":  {"default", "on", "off"},
			"cudagraph_capture": {"default", "max:56", "max:128", "max:256", "upto:50", "default+50"},
			"stream_interval":   nil, "performance_mode": nil,
		},
		drops: []drop{
			{"stream_interval", "", "does not list --stream-interval"},
			{"optimization", "O1", "PR #26847"},
			{"speculative", "suffix", "PR #25784"},
			{"attention_backend", "FLEX_ATTENTION", "picks FLEX_ATTENTION"},
			{"attention_backend", "FLASHINFER", "PR #26443"},
		},
		render: map[string][]string{
			"cudagraph_capture=upto:50": {"--cuda-graph-sizes", "1", "2", "4", "8", "16", "24", "32", "40", "48", "50"},
			"cudagraph_capture=max:128": {"--cuda-graph-sizes", "128"},
		},
		env: map[string]string{"attention_backend=TRITON_ATTN": "VLLM_ATTENTION_BACKEND=TRITON_ATTN"},
	}, {
		name: "T4, vLLM 0.24.0 help: TRITON_ATTN by default, performance mode, ngram_gpu",
		p:    withArctic(withHelp(t, tesla("0.24.0"), "testdata/vllm-0.24.0-help.txt")),
		choices: map[string][]string{
			"attention_backend": {"default", "FLEX_ATTENTION"},
			"speculative":       {"default", "ngram", "ngram_gpu", "suffix"},
			"performance_mode":  {"default", "throughput", "interactivity"},
		},
		drops: []drop{
			{"attention_backend", "FLASHINFER", "PR #45375"},
			{"attention_backend", "TRITON_ATTN", "picks TRITON_ATTN"},
		},
	}, {
		name: "A100 40 GB, vLLM 0.15.1, no help text: version table",
		p:    ampere("0.15.1"),
		choices: map[string][]string{
			"attention_backend": {"default", "FLASHINFER", "TRITON_ATTN", "FLEX_ATTENTION"},
			"dtype":             {"default", "float16", "bfloat16"},
			"kv_cache_dtype":    nil,
			"performance_mode":  nil,
		},
		drops: []drop{
			{"attention_backend", "FLASH_ATTN", "picks FLASH_ATTN"},
			{"kv_cache_dtype", "fp8", "NVIDIA A100-SXM4-40GB has 8"},
			{"performance_mode", "", "exists in vLLM >= 0.17.0 only"},
		},
	}, {
		name: "H100 80 GB: vLLM's larger batch defaults",
		p:    Platform{GPUName: "NVIDIA H100 80GB HBM3", ComputeCap: 9.0, MemoryMiB: 81559, VLLMVersion: "0.15.1"},
		choices: map[string][]string{
			"max_num_batched_tokens": {"default", "1024", "2048", "4096", "16384", "25600"},
			"kv_cache_dtype":         {"default", "fp8", "fp8_e4m3", "fp8_e5m2"},
		},
		drops: []drop{{"max_num_batched_tokens", "8192", "max_num_batched_tokens=8192"}},
	}, {
		name:    "V100: no fp8 Marlin, no FlashInfer",
		p:       Platform{GPUName: "Tesla V100-SXM2-16GB", ComputeCap: 7.0, MemoryMiB: 16384, VLLMVersion: "0.15.1"},
		choices: map[string][]string{"quantization": {"default", "bitsandbytes"}, "attention_backend": {"default", "FLEX_ATTENTION"}},
		drops: []drop{
			{"quantization", "fp8", "Minimum capability: 75"},
			{"attention_backend", "FLASHINFER", "needs compute capability >= 7.5"},
			{"attention_backend", "TRITON_ATTN", "picks TRITON_ATTN"},
		},
	}, {
		name:    "6 GiB sm75 card: 0.95 leaves no room for the CUDA graphs",
		p:       Platform{GPUName: "NVIDIA GeForce GTX 1660", ComputeCap: 7.5, MemoryMiB: 6144, VLLMVersion: "0.15.1"},
		choices: map[string][]string{"gpu_memory_utilization": {"default", "0.8"}},
		drops:   []drop{{"gpu_memory_utilization", "0.95", "CUDA graphs"}},
	}, {
		name:    "unknown GPU and version",
		p:       Platform{},
		choices: map[string][]string{"attention_backend": {"default", "TRITON_ATTN", "FLEX_ATTENTION"}, "quantization": nil},
		drops: []drop{
			{"attention_backend", "FLASHINFER", "unknown"},
			{"quantization", "fp8", "unknown"},
			{"quantization", "bitsandbytes", "unknown"},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustDefault(t, tc.p)
			for name, want := range tc.choices {
				got := choicesOf(s, name)
				if len(want) == 0 {
					if got != nil {
						t.Errorf("%s in force with %v, want it dropped", name, got)
					}
					continue
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s choices %v, want %v", name, got, want)
				}
			}
			for _, d := range tc.drops {
				r, ok := droppedReason(s, d.param, d.value)
				if !ok {
					t.Errorf("%s=%q not dropped; dropped: %v", d.param, d.value, s.Describe().Dropped)
				} else if !strings.Contains(r, d.reason) {
					t.Errorf("%s=%q dropped because %q, want it to mention %q", d.param, d.value, r, d.reason)
				}
			}
			for pv, want := range tc.render {
				name, v, _ := strings.Cut(pv, "=")
				c := sampleWith(t, s, map[string]string{name: v})
				if !contains(c.Args, want...) {
					t.Errorf("%s renders %q, want %q in it", pv, c.Args, want)
				}
				if err := s.Validate(c); err != nil {
					t.Errorf("%s: %v", pv, err)
				}
			}
			for pv, want := range tc.env {
				name, v, _ := strings.Cut(pv, "=")
				c := sampleWith(t, s, map[string]string{name: v})
				k, x, _ := strings.Cut(want, "=")
				if c.Env[k] != x {
					t.Errorf("%s: env %v, want %s", pv, c.Env, want)
				}
				for _, a := range c.Args {
					if a == "--attention-backend" {
						t.Errorf("%s: args %q carry --attention-backend on a vLLM without it", pv, c.Args)
					}
				}
			}
		})
	}
}

func TestHelpTextOverridesVersionTable(t *testing.T) {
	// A 0.15.1 whose help lacks --stream-interval (e.g. a patched build): the help wins.
	p := tesla("0.15.1")
	p.ServeFlags = helpFlags(t, "testdata/vllm-0.15.1-help.txt")
	delete(p.ServeFlags, "--stream-interval")
	s := mustDefault(t, p)
	if r, ok := droppedReason(s, "stream_interval", ""); !ok || !strings.Contains(r, "help=all") {
		t.Errorf("stream_interval: dropped=%v reason %q, want dropped because the help does not list it", ok, r)
	}
	// Without help text, the version decides.
	s = mustDefault(t, tesla("0.15.1"))
	if choicesOf(s, "stream_interval") == nil {
		t.Error("stream_interval dropped on 0.15.1 without help text")
	}
}

func TestUnknownVersionIsNoted(t *testing.T) {
	s := mustDefault(t, tesla(""))
	d := s.Describe()
	if d.VLLMVersion != "0.15.1 (assumed)" {
		t.Errorf("version %q", d.VLLMVersion)
	}
	if !strings.Contains(strings.Join(d.Notes, "\n"), "vLLM version unknown") {
		t.Errorf("notes %q do not say the version is assumed", d.Notes)
	}
	if _, err := Default(tesla("not-a-version"), runner.DefaultWorkload()); err == nil {
		t.Error("a garbage version was accepted")
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{"0.15.1": {0, 15, 1}, "v0.10.2": {0, 10, 2}, "0.20.2+cu129": {0, 20, 2}, "0.11.0rc1": {0, 11, 0}, "0.16": {0, 16, 0}} {
		if got, err := ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a := mustDefault(t, tesla("0.15.1")).Fingerprint()
	if b := mustDefault(t, tesla("0.15.1")).Fingerprint(); a != b {
		t.Errorf("fingerprint not stable: %s vs %s", a, b)
	}
	for name, p := range map[string]Platform{"arctic": withArctic(tesla("0.15.1")), "0.24": tesla("0.24.0"), "A100": ampere("0.15.1")} {
		if b := mustDefault(t, p).Fingerprint(); a == b {
			t.Errorf("%s: same fingerprint %s as the T4 0.15.1 space", name, a)
		}
	}
	w := runner.DefaultWorkload()
	w.MaxConcurrency = 64
	s, err := Default(tesla("0.15.1"), w)
	if err != nil {
		t.Fatal(err)
	}
	if s.Fingerprint() == a {
		t.Error("another workload gave the same fingerprint")
	}
	if len(a) != 16 {
		t.Errorf("fingerprint %q: want 16 hex digits", a)
	}
}

func TestWorkloadDerivedLevels(t *testing.T) {
	w := runner.Workload{Model: "m", MaxConcurrency: 64, InputLen: 1000, OutputLen: 200, ModelMaxLen: 32768}
	s, err := Default(tesla("0.15.1"), w)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"max_num_seqs":           {"default", "64", "128"},
		"max_num_batched_tokens": {"default", "1024", "4096", "8192", "16384", "32768", "64000"},
		"max_model_len":          {"default", "1200", "2048", "4096"},
		"cudagraph_capture":      {"default", "max:64", "max:128", "max:256", "upto:64"},
	}
	for name, w := range want {
		if got := choicesOf(s, name); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	if r, ok := droppedReason(s, "cudagraph_capture", "default+64"); !ok || !strings.Contains(r, "already on vLLM's capture ladder") {
		t.Errorf("default+64 should be dropped as identical to the default ladder: %v %q", ok, r)
	}
	for _, bad := range []runner.Workload{{MaxConcurrency: 0, InputLen: 1, OutputLen: 1}, {MaxConcurrency: 1, InputLen: 30000, OutputLen: 5000, ModelMaxLen: 32768}} {
		if _, err := Default(tesla("0.15.1"), bad); err == nil {
			t.Errorf("workload %+v accepted", bad)
		}
	}
}

func TestJSONRecord(t *testing.T) {
	s := mustDefault(t, tesla("0.15.1"))
	var rec struct {
		VLLMVersion string `json:"vllm_version"`
		Fingerprint string `json:"fingerprint"`
		Params      []struct {
			Name   string `json:"name"`
			Domain string `json:"domain"`
		} `json:"params"`
		Dropped []struct{ Param, Value, Reason string } `json:"dropped"`
		Rules   []Rule                                  `json:"rules"`
	}
	if err := json.Unmarshal([]byte(s.JSON()), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.VLLMVersion != "0.15.1" || rec.Fingerprint != s.Fingerprint() || len(rec.Params) != len(s.params) || len(rec.Dropped) != len(s.dropped) || len(rec.Rules) != len(rules) {
		t.Errorf("record %+v", rec)
	}
	if rec.Dropped[0].Reason == "" {
		t.Error("dropped reasons missing from the record")
	}
}

// Every feature name the package asks about is in featureSpans: a misspelt one would panic at run time.
func TestFeatureNamesExist(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	call := regexp.MustCompile(`\.feature\("([^"]+)"\)`)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range call.FindAllStringSubmatch(string(src), -1) {
			n++
			if _, ok := featureSpans[m[1]]; !ok {
				t.Errorf("%s: feature %q is not in featureSpans", f, m[1])
			}
		}
	}
	if n == 0 {
		t.Error("found no feature calls: the pattern is out of date")
	}
}
