package model

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

const qwen = "Qwen/Qwen2.5-0.5B"

func argv(s string) []string { return append([]string{qwen}, strings.Fields(s)...) }

// TestRefusals holds the simulator to vLLM's messages (vllm.md §10.1) and to the phase where each surfaces.
func TestRefusals(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		want   string
		phase  Phase
		engine bool
	}{
		{"bf16 on sm75", argv("--dtype bfloat16"), "Bfloat16 is only supported on GPUs with compute capability of at least 8.0", PhaseDevice, true},
		{"quant too new", argv("-q modelopt"), "The quantization method modelopt is not supported for the current GPU. Minimum capability: 89. Current capability: 75.", PhaseConfig, false},
		{"quant mxfp4", argv("-q mxfp4"), "Minimum capability: 80", PhaseConfig, false},
		{"awq needs a checkpoint", argv("-q awq"), "Cannot find the config file for awq", PhaseLoad, true},
		{"gptq needs a checkpoint", argv("-q gptq_marlin"), "Cannot find the config file for gptq_marlin", PhaseLoad, true},
		{"unknown quant", argv("-q int3"), "Unknown quantization method: int3. Must be one of [", PhaseConfig, false},
		{"quant mismatch", []string{"Qwen/Qwen2.5-0.5B-Instruct-AWQ", "-q", "fp8"}, "does not match the quantization method specified in the `quantization` argument (fp8)", PhaseConfig, false},
		{"deprecated quant", argv("-q fbgemm_fp8"), "--allow-deprecated-quantization", PhaseConfig, false},
		{"fp8 kv on sm75", argv("--kv-cache-dtype fp8"), "fp8e4nv", PhaseCompile, true},
		{"fp8_e4m3 kv on sm75", argv("--kv-cache-dtype fp8_e4m3"), "fp8e4nv", PhaseCompile, true},
		{"mnbt < max_num_seqs", argv("--max-num-seqs 256 --max-num-batched-tokens 128"), "max_num_batched_tokens (128) must be greater than or equal to max_num_seqs (256).", PhaseConfig, false},
		{"chunked off, mnbt < len", argv("--no-enable-chunked-prefill --max-num-batched-tokens 2048"), "max_num_batched_tokens (2048) is smaller than max_model_len (32768)", PhaseConfig, false},
		{"util > 1", argv("--gpu-memory-utilization 1.5"), "validation error for CacheConfig", PhaseConfig, false},
		{"util > 1 detail", argv("--gpu-memory-utilization 1.5"), "Input should be less than or equal to 1", PhaseConfig, false},
		{"max-num-seqs 0", argv("--max-num-seqs 0"), "Input should be greater than or equal to 1", PhaseConfig, false},
		{"max-model-len too long", argv("--max-model-len 65536"), "User-specified max_model_len (65536) is greater than the derived max_model_len", PhaseConfig, false},
		{"partial prefill", argv("--max-num-partial-prefills 2"), "Concurrent Partial Prefill is not supported", PhaseConfig, false},
		{"ngram min > max", argv(`--speculative-config {"method":"ngram","num_speculative_tokens":3,"prompt_lookup_min":5,"prompt_lookup_max":2}`), "prompt_lookup_min=5 must be <= prompt_lookup_max=2", PhaseConfig, false},
		{"ngram_gpu is newer", argv(`--speculative-config {"method":"ngram_gpu","num_speculative_tokens":3}`), "validation error for SpeculativeConfig", PhaseConfig, false},
		{"async forced with ngram", argv(`--async-scheduling --speculative-config {"method":"ngram","num_speculative_tokens":3}`), "Currently, async scheduling is only supported with EAGLE/MTP kind of speculative decoding.", PhaseConfig, false},
		{"FLASH_ATTN on sm75", argv("--attention-backend FLASH_ATTN"), "Selected backend FLASH_ATTN is not valid for this configuration", PhaseLoad, true},
		{"KV too small", argv("--gpu-memory-utilization 0.18"), "To serve at least one request with the models's max seq len (32768)", PhaseProfile, true},
		{"no room for KV", argv("--gpu-memory-utilization 0.1"), "No available memory for the cache blocks", PhaseProfile, true},
		{"graphs outside the budget OOM", argv("--gpu-memory-utilization 0.99"), "CUDA out of memory", PhaseCapture, true},
		{"unknown backend (0.15 text)", argv("--attention-backend FOO"), "Unknown attention backend: 'FOO'. Valid options are: FLASH_ATTN, FLASH_ATTN_DIFFKV, TRITON_ATTN", PhaseConfig, false},
		{"both backend spellings (0.15 text)", argv(`--attention-backend TRITON_ATTN -ac {"backend":"FLEX_ATTENTION"}`), "attention_backend and attention_config.backend are mutually exclusive", PhaseConfig, false},
		{"both capture-size spellings", argv(`--cudagraph-capture-sizes 8 -cc {"cudagraph_capture_sizes":[8]}`), "are mutually exclusive", PhaseConfig, false},
		{"compilation unknown key", argv(`-cc {"levle":3}`), "Extra inputs are not permitted", PhaseConfig, false},
		// 0.15 serves its default model under the name (the refusal came in March 2026); the simulator does not
		// model Qwen3-0.6B and says so.
		{"served name without model", []string{"--served-model-name", "x"}, `"Qwen/Qwen3-0.6B" is not modelled`, PhaseParse, false},
		{"-O out of range is a config error", argv("-O7"), "Input should be 0, 1, 2 or 3 [type=enum, input_value='7', input_type=str]", PhaseConfig, false},
		{"a model the simulator does not model", []string{"meta-llama/Llama-3-8B"}, `"meta-llama/Llama-3-8B" is not modelled`, PhaseParse, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Predict(tt.args, DefaultWorkload(), 0)
			if o.Failure == nil {
				t.Fatalf("Predict(%q) succeeded (%.0f tok/s), want a failure containing %q", tt.args, o.OutputThroughput, tt.want)
			}
			if !strings.Contains(o.Failure.Text(), tt.want) {
				t.Errorf("failure\n%s\nwant it to contain %q", o.Failure.Text(), tt.want)
			}
			if o.Failure.Phase != tt.phase || o.Failure.Engine != tt.engine {
				t.Errorf("phase %v engine %v, want %v %v", o.Failure.Phase, o.Failure.Engine, tt.phase, tt.engine)
			}
			if o.Failure.ExitCode != 1 {
				t.Errorf("exit code %d, want 1", o.Failure.ExitCode)
			}
		})
	}
}

func TestSuffixNeedsArcticInference(t *testing.T) {
	args := argv(`--speculative-config {"method":"suffix"}`)
	o := predictEnv(args, DefaultWorkload(), 0, Env{Packages: map[string]bool{}})
	if o.Failure == nil || !strings.Contains(o.Failure.Message, "ImportError: Arctic Inference is required for suffix decoding") {
		t.Fatalf("suffix without the package: %+v", o.Failure)
	}
	if o := predictEnv(args, DefaultWorkload(), 0, Env{Packages: map[string]bool{"arctic_inference": true}}); o.Failure != nil {
		t.Fatalf("suffix with the package failed: %s", o.Failure.Text())
	}
}

// TestDefaults checks the resolved defaults against t4-calibration.md §11 and vllm.md §6.3.
func TestDefaults(t *testing.T) {
	a, err := ParseServeArgs([]string{qwen})
	if err != nil {
		t.Fatal(err)
	}
	e, f := ResolveEngine(a, Env{})
	if f != nil {
		t.Fatal(f)
	}
	got := map[string]any{"dtype": e.Dtype, "mml": e.MaxModelLen, "mnbt": e.MNBT, "seqs": e.MaxNumSeqs, "block": e.BlockSize,
		"util": e.Util, "prefix": e.PrefixCaching, "chunked": e.Chunked, "async": e.Async, "mode": e.CompileMode,
		"cg": e.CGMode, "backend": e.Backend, "maxcap": e.MaxCaptureSize()}
	want := map[string]any{"dtype": "float16", "mml": 32768, "mnbt": 2048, "seqs": 256, "block": 16, "util": 0.9,
		"prefix": true, "chunked": true, "async": true, "mode": 3, "cg": "FULL_AND_PIECEWISE", "backend": "FLASHINFER", "maxcap": 512}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults\n got %v\nwant %v", got, want)
	}
	if pw, full := e.NumGraphs(); pw != 51 || full != 35 {
		t.Errorf("graphs = %d PIECEWISE + %d FULL, want 51 + 35 (t4-calibration.md §2.1)", pw, full)
	}
	mem, fail := PlanMemory(e, 0)
	if fail != nil {
		t.Fatal(fail)
	}
	if mem.KVGiB < 10.7 || mem.KVGiB > 10.82 || math.Abs(mem.GraphGiB-0.69) > 1e-9 {
		t.Errorf("KV %.3f GiB, graphs %.2f GiB; want ≈10.76 and 0.69 (t4-calibration.md §9.4)", mem.KVGiB, mem.GraphGiB)
	}
}

func TestCaptureSizes(t *testing.T) {
	tests := []struct {
		args    string
		wantMax int
		wantN   int
		cg      string
	}{
		{"--max-num-seqs 64", 128, 19, "FULL_AND_PIECEWISE"},
		{"--max-cudagraph-capture-size 32", 32, 7, "FULL_AND_PIECEWISE"},
		{"--cudagraph-capture-sizes 1 2 4 8 16 24 32 40 48 50 56 64", 64, 12, "FULL_AND_PIECEWISE"},
		{"--max-num-batched-tokens 256", 256, 35, "FULL_AND_PIECEWISE"},
		{"-O1", 512, 51, "PIECEWISE"},
		{"--enforce-eager", 0, 0, "NONE"},
		{"-O0", 0, 0, "NONE"},
		{`--speculative-config {"method":"ngram","num_speculative_tokens":3}`, 512, 51, "PIECEWISE"},
	}
	for _, tt := range tests {
		a, err := ParseServeArgs(argv(tt.args))
		if err != nil {
			t.Fatal(err)
		}
		e, f := ResolveEngine(a, Env{})
		if f != nil {
			t.Fatalf("%s: %s", tt.args, f.Text())
		}
		if e.MaxCaptureSize() != tt.wantMax || len(e.CaptureSizes) != tt.wantN || e.CGMode != tt.cg {
			t.Errorf("%s: max %d, %d sizes, %s; want %d, %d, %s", tt.args, e.MaxCaptureSize(), len(e.CaptureSizes), e.CGMode, tt.wantMax, tt.wantN, tt.cg)
		}
	}
}

func TestCompileKey(t *testing.T) {
	key := func(s string) string {
		a, _ := ParseServeArgs(argv(s))
		e, f := ResolveEngine(a, Env{})
		if f != nil {
			t.Fatal(f)
		}
		return e.CompileKey()
	}
	base := key("")
	// vllm.md §12: utilization, prefix caching and the seed reuse the cache; mnbt, max-num-seqs (via the
	// capture sizes), block size and max_model_len do not.
	for _, same := range []string{"--gpu-memory-utilization 0.8", "--no-enable-prefix-caching", "--seed 7"} {
		if key(same) != base {
			t.Errorf("%s changed the compile-cache key", same)
		}
	}
	for _, diff := range []string{"--max-num-batched-tokens 4096", "--max-num-seqs 64", "--block-size 32", "--max-model-len 2048"} {
		if key(diff) == base {
			t.Errorf("%s kept the compile-cache key", diff)
		}
	}
}
