package space

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/autotune/autotune/runner"
)

// Each rule against the message docs/vllm.md gives for it.
func TestCheckRules(t *testing.T) {
	t4 := withArctic(tesla("0.15.1"))
	a100 := ampere("0.15.1")
	noArctic := t4
	noArctic.Packages = nil
	tests := []struct {
		name  string
		p     Platform
		args  []string
		env   map[string]string
		model string
		rule  string
		msg   string // exact message, or a prefix ending in "…"
	}{
		{name: "defaults pass", p: t4, args: nil},
		{name: "mnbt below seqs", p: t4, args: []string{"--max-num-seqs", "128", "--max-num-batched-tokens", "64"},
			rule: "mnbt-ge-seqs", msg: "max_num_batched_tokens (64) must be greater than or equal to max_num_seqs (128)."},
		{name: "seqs above default budget", p: t4, args: []string{"--max-num-seqs", "4096"},
			rule: "mnbt-ge-seqs", msg: "max_num_batched_tokens (2048) must be greater than or equal to max_num_seqs (4096)."},
		{name: "default seqs are capped by a small budget", p: t4, args: []string{"--max-num-batched-tokens", "128"}},
		{name: "chunked prefill off", p: t4, args: []string{"--no-enable-chunked-prefill", "--max-num-batched-tokens", "2048", "--max-model-len", "4096"},
			rule: "chunked-off-mnbt-ge-mml", msg: "max_num_batched_tokens (2048) is smaller than max_model_len (4096). This effectively limits the maximum sequence length to max_num_batched_tokens and makes vLLM reject longer sequences. Please increase max_num_batched_tokens or decrease max_model_len."},
		{name: "chunked prefill off, default budget raised", p: t4, args: []string{"--no-enable-chunked-prefill", "--max-model-len", "4096"}},
		{name: "request does not fit", p: t4, args: []string{"--max-model-len", "1000"},
			rule: "max-model-len-fits-request", msg: "This model's maximum context length is 1000 tokens. However, you requested 512 output tokens and your prompt contains 512 input tokens, for a total of 1024 tokens."},
		{name: "above the model's length", p: t4, args: []string{"--max-model-len", "65536"},
			rule: "max-model-len-above-model", msg: "User-specified max_model_len (65536) is greater than the derived max_model_len (32768)"},
		{name: "gpu util above 1", p: t4, args: []string{"--gpu-memory-utilization", "1.2"},
			rule: "field-limits", msg: "1 validation error for CacheConfig\ngpu_memory_utilization\n  Input should be less than or equal to 1"},
		{name: "max-num-seqs 0", p: t4, args: []string{"--max-num-seqs", "0"},
			rule: "mnbt-ge-seqs"}, // 2048 >= 0 passes; the pydantic limit comes next
		{name: "bf16 on a T4", p: t4, args: []string{"--dtype", "bfloat16"}, rule: "bf16-capability",
			msg: "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your Tesla T4 GPU has compute capability 7.5. You can use float16 instead by explicitly setting the `dtype` flag in CLI, for example: --dtype=half."},
		{name: "bf16 on an A100", p: a100, args: []string{"--dtype", "bfloat16"}},
		{name: "bad dtype choice", p: t4, args: []string{"--dtype", "fp16"}, rule: "invalid-choice",
			msg: "argument --dtype: invalid choice: 'fp16' (choose from 'auto', 'half', 'float16', 'bfloat16', 'float', 'float32')"},
		{name: "block size outside 0.16 choices", p: t4, args: []string{"--block-size", "48"}, rule: "invalid-choice",
			msg: "argument --block-size: invalid choice: '48' (choose from '1', '8', '16', '32', '64', '128', '256')"},
		{name: "quantization above capability", p: t4, args: []string{"--quantization", "modelopt"}, rule: "quantization-capability",
			msg: "ValueError: The quantization method modelopt is not supported for the current GPU. Minimum capability: 89. Current capability: 75."},
		{name: "awq on the unquantized checkpoint", p: t4, args: []string{"--quantization", "awq"}, rule: "quantization-config-file",
			msg: "ValueError: Cannot find the config file for awq"},
		{name: "awq_marlin on an AWQ variant", p: t4, model: "Qwen/Qwen2.5-0.5B-Instruct-AWQ",
			args: []string{"--served-model-name", "Qwen/Qwen2.5-0.5B", "--quantization", "awq_marlin"}},
		{name: "variant without served name", p: t4, model: "Qwen/Qwen2.5-0.5B-Instruct-AWQ", rule: "served-model-name"},
		{name: "unknown quantization", p: t4, args: []string{"--quantization", "int3"}, rule: "quantization-unknown", msg: "Unknown quantization method: int3. Must be one of …"},
		{name: "fp8 weights on a T4", p: t4, args: []string{"--quantization", "fp8"}},
		{name: "ngram lookup order", p: t4, args: []string{"--speculative-config", `{"method":"ngram","num_speculative_tokens":4,"prompt_lookup_max":2,"prompt_lookup_min":4}`},
			rule: "ngram-lookup-order", msg: "prompt_lookup_min=4 must be <= prompt_lookup_max=2"},
		{name: "ngram lookup min alone copies to max", p: t4, args: []string{"--speculative-config", `{"method":"ngram","num_speculative_tokens":4,"prompt_lookup_min":4}`}},
		{name: "ngram without tokens", p: t4, args: []string{"--speculative-config", `{"method":"ngram"}`}, rule: "spec-tokens-required"},
		{name: "ngram with forced async", p: t4, args: []string{"--speculative-config", `{"method":"ngram","num_speculative_tokens":4}`, "--async-scheduling"},
			rule: "spec-forced-async", msg: "Currently, async scheduling is only supported with EAGLE/MTP/Draft Model/NGram GPU kind of speculative decoding"},
		{name: "suffix with async off", p: t4, args: []string{"--speculative-config", `{"method":"suffix"}`, "--no-async-scheduling"}},
		{name: "suffix with forced async", p: t4, args: []string{"--speculative-config", `{"method":"suffix"}`, "--async-scheduling"}, rule: "spec-forced-async"},
		{name: "suffix without arctic-inference", p: noArctic, args: []string{"--speculative-config", `{"method":"suffix"}`},
			rule: "suffix-needs-arctic-inference", msg: "ImportError: Arctic Inference is required for suffix decoding…"},
		{name: "ngram_gpu is not in 0.15", p: t4, args: []string{"--speculative-config", `{"method":"ngram_gpu","num_speculative_tokens":4}`}, rule: "spec-method-version"},
		{name: "ngram_gpu with async in 0.24", p: withHelp(t, tesla("0.24.0"), "testdata/vllm-0.24.0-help.txt"),
			args: []string{"--speculative-config", `{"method":"ngram_gpu","num_speculative_tokens":4}`, "--async-scheduling"}},
		{name: "spec method twice", p: t4, args: []string{"--spec-method", "ngram", "--speculative-config", `{"method":"ngram","num_speculative_tokens":4}`},
			rule: "spec-method-exclusive", msg: "--spec-method and --speculative-config['method'] are mutually exclusive"},
		{name: "LoRA budget for spec decode", p: t4, args: []string{"--enable-lora", "--max-num-seqs", "256", "--speculative-config", `{"method":"ngram","num_speculative_tokens":8}`},
			rule: "spec-lora-budget", msg: "max_num_batched_tokens (2048) < max_num_seqs (256) * (num_speculative_tokens (8) + 1): Consider increasing max_num_batched_tokens or decreasing num_speculative_tokens"},
		{name: "FLASH_ATTN on a T4", p: t4, args: []string{"--attention-backend", "FLASH_ATTN"}, rule: "attention-backend-valid",
			msg: "ValueError: Selected backend FLASH_ATTN is not valid for this configuration. Reason: ['FLASH_ATTN needs compute capability >= 8; Tesla T4 has 7.5: \"FA2 is only supported on devices with compute capability >= 8\" (§9.1, vLLM 0.15.1 log); FlashAttention 2/3 never supports sm75']"},
		{name: "FLASH_ATTN on an A100", p: a100, args: []string{"--attention-backend", "FLASH_ATTN"}},
		{name: "FLASHINFER on a T4 with 0.24", p: withHelp(t, tesla("0.24.0"), "testdata/vllm-0.24.0-help.txt"), args: []string{"--attention-backend", "FLASHINFER"}, rule: "attention-backend-valid"},
		{name: "Triton with block 8", p: withHelp(t, tesla("0.24.0"), "testdata/vllm-0.24.0-help.txt"), args: []string{"--attention-backend", "TRITON_ATTN", "--block-size", "8"},
			rule: "attention-backend-valid", msg: "ValueError: Selected backend TRITON_ATTN is not valid for this configuration. Reason: ['block size 8 is not a multiple of 16']"},
		{name: "fp8 KV on a T4", p: t4, args: []string{"--kv-cache-dtype", "fp8"}, rule: "kv-fp8-below-sm89", msg: "fp8e4nv data type is not supported on CUDA arch < 89 (--kv-cache-dtype fp8)"},
		{name: "fp8 KV on an L4", p: Platform{GPUName: "NVIDIA L4", ComputeCap: 8.9, MemoryMiB: 23034, VLLMVersion: "0.15.1"}, args: []string{"--kv-cache-dtype", "fp8"}},
		{name: "partial prefill", p: t4, args: []string{"--max-num-partial-prefills", "2"}, rule: "partial-prefill",
			msg: "NotImplementedError: Concurrent Partial Prefill is not supported. We recommend to remove Concurrent Partial Prefill from your config."},
		{name: "capture sizes twice", p: t4, args: []string{"--cudagraph-capture-sizes", "1", "2", "--compilation-config", `{"cudagraph_capture_sizes":[1,2]}`},
			rule: "capture-sizes-exclusive", msg: "ValueError: --cudagraph-capture-sizes and compilation_config.cudagraph_capture_sizes are mutually exclusive"},
		{name: "capture list and inconsistent max", p: t4, args: []string{"--cudagraph-capture-sizes", "1", "2", "50", "--max-cudagraph-capture-size", "64"},
			rule: "capture-max-consistent", msg: "customized max_cudagraph_capture_size(=64) should be consistent with the max value of cudagraph_capture_sizes(=50)"},
		{name: "capture list and consistent max", p: t4, args: []string{"--cudagraph-capture-sizes", "1", "2", "50", "--max-cudagraph-capture-size", "50"}},
		{name: "eager with capture sizes", p: t4, args: []string{"--enforce-eager", "--cudagraph-capture-sizes", "1", "50"}, rule: "eager-ignores-graphs"},
		{name: "removed flag", p: t4, args: []string{"--cuda-graph-sizes", "64"}, rule: "unknown-flag", msg: "vllm: error: unrecognized arguments: --cuda-graph-sizes"},
		{name: "flag from a later version", p: withHelp(t, tesla("0.15.1"), "testdata/vllm-0.15.1-help.txt"), args: []string{"--performance-mode", "throughput"},
			rule: "unknown-flag", msg: "vllm: error: unrecognized arguments: --performance-mode"},
		{name: "new flag on 0.10.2", p: withHelp(t, tesla("0.10.2"), "testdata/vllm-0.10.2-help.txt"), args: []string{"--cudagraph-capture-sizes", "1", "50"}, rule: "unknown-flag"},
		{name: "old flag on 0.10.2", p: withHelp(t, tesla("0.10.2"), "testdata/vllm-0.10.2-help.txt"), args: []string{"--cuda-graph-sizes", "1", "50"}},
		{name: "removed env var", p: t4, env: map[string]string{"VLLM_ATTENTION_BACKEND": "TRITON_ATTN"}, rule: "env-removed",
			msg: "Unknown vLLM environment variable detected: VLLM_ATTENTION_BACKEND"},
		{name: "env var on 0.10.2", p: withHelp(t, tesla("0.10.2"), "testdata/vllm-0.10.2-help.txt"), env: map[string]string{"VLLM_ATTENTION_BACKEND": "TRITON_ATTN"}},
		{name: "duplicate flag", p: t4, args: []string{"--max-num-seqs", "64", "--max_num_seqs", "64"}, rule: "duplicate-flag", msg: "flag given twice: --max-num-seqs"},
		{name: "short aliases", p: t4, model: "Qwen/Qwen2.5-0.5B-Instruct-AWQ", args: []string{"--served-model-name", "Qwen/Qwen2.5-0.5B", "-q", "awq_marlin", "-cc.mode", "3"}},
		{name: "short alias refused like its long form", p: t4, args: []string{"-q", "awq"}, rule: "quantization-config-file"},
		{name: "dotted capture sizes and the flag", p: t4, args: []string{"--cudagraph-capture-sizes", "1", "2", "-cc.cudagraph_capture_sizes", "[1,2]"}, rule: "capture-sizes-exclusive"},
		{name: "unknown short option", p: t4, args: []string{"-z", "1"}, rule: "unknown-flag", msg: "vllm: error: unrecognized arguments: -z"},
		{name: "-O form", p: t4, args: []string{"-O4"}, rule: "invalid-choice", msg: "argument --optimization-level: invalid choice: '4' (choose from '0', '1', '2', '3')"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustDefault(t, tc.p)
			err := s.Check(tc.args, tc.env, tc.model)
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tc.args, err)
				}
				return
			}
			var r *Refusal
			if !errors.As(err, &r) {
				t.Fatalf("Check(%q) = %v, want a refusal by %s", tc.args, err, tc.rule)
			}
			if r.Rule != tc.rule && !(tc.name == "max-num-seqs 0" && r.Rule == "field-limits") {
				t.Fatalf("Check(%q) refused by %s (%s), want %s", tc.args, r.Rule, r.Message, tc.rule)
			}
			if want, ok := strings.CutSuffix(tc.msg, "…"); ok {
				if !strings.HasPrefix(r.Message, want) {
					t.Errorf("message %q\nwant prefix %q", r.Message, want)
				}
			} else if tc.msg != "" && r.Message != tc.msg {
				t.Errorf("message %q\nwant        %q", r.Message, tc.msg)
			}
		})
	}
}

func TestRulesAreDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if r.ID == "" || r.Source == "" || r.Message == "" || r.Enforced == "" {
			t.Errorf("rule %+v is missing a field", r)
		}
		if seen[r.ID] {
			t.Errorf("rule %s listed twice", r.ID)
		}
		seen[r.ID] = true
	}
}

// Repairs: values drawn outside a dependent limit are moved inside it, and Params records the result.
func TestSampleRepairs(t *testing.T) {
	s := mustDefault(t, withArctic(tesla("0.15.1")))
	base, _ := s.defaultAssignment(nil)
	draw := func(over map[string]string) Config {
		t.Helper()
		values := map[string]string(base.clone())
		for k, v := range over {
			values[k] = v
		}
		c, err := s.Sample(&fixedSuggester{values: values})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := draw(map[string]string{"speculative": "ngram", "num_speculative_tokens": "4", "prompt_lookup_min": "5", "prompt_lookup_max": "2"})
	if c.Params["prompt_lookup_min"] != "2" {
		t.Errorf("prompt_lookup_min = %s, want it repaired to 2", c.Params["prompt_lookup_min"])
	}
	if want := `{"method":"ngram","num_speculative_tokens":4,"prompt_lookup_max":2,"prompt_lookup_min":2}`; !contains(c.Args, want) {
		t.Errorf("args %q lack %s", c.Args, want)
	}

	// A space file that lets max_num_seqs exceed the token budget gets the budget raised.
	sf, err := Parse("space.yaml", []byte("params:\n  max_num_seqs: {choices: [default, 4096]}\n  max_num_batched_tokens: {choices: [default, 1024]}\n"), tesla("0.15.1"), runner.DefaultWorkload())
	if err != nil {
		t.Fatal(err)
	}
	sfBase, _ := sf.defaultAssignment(nil)
	with := func(over map[string]string) map[string]string {
		v := map[string]string(sfBase.clone())
		for k, x := range over {
			v[k] = x
		}
		return v
	}
	c, err = sf.Sample(&fixedSuggester{values: with(map[string]string{"max_num_seqs": "4096", "max_num_batched_tokens": "1024"})})
	if err != nil {
		t.Fatal(err)
	}
	if c.Params["max_num_batched_tokens"] != "4096" || !contains(c.Args, "--max-num-batched-tokens", "4096") {
		t.Errorf("Params %v Args %q: want max_num_batched_tokens repaired to 4096", c.Params, c.Args)
	}
	c, err = sf.Sample(&fixedSuggester{values: with(map[string]string{"max_num_seqs": "4096"})})
	if err != nil {
		t.Fatal(err)
	}
	if c.Params["max_num_batched_tokens"] != "4096" {
		t.Errorf("default budget 2048 < max_num_seqs 4096: Params %v, want the budget set to 4096", c.Params)
	}

	// A budget the space file fixed is never repaired: the batch size gives way instead.
	sf, err = Parse("space.yaml", []byte("params:\n  max_num_seqs: {choices: [default, 4096]}\n  max_num_batched_tokens: {fix: 1024}\n"), tesla("0.15.1"), runner.DefaultWorkload())
	if err != nil {
		t.Fatal(err)
	}
	sfBase, _ = sf.defaultAssignment(nil)
	c, err = sf.Sample(&fixedSuggester{values: with(map[string]string{"max_num_seqs": "4096"})})
	if err != nil {
		t.Fatal(err)
	}
	if c.Params["max_num_batched_tokens"] != "1024" || !contains(c.Args, "--max-num-batched-tokens", "1024") ||
		c.Params["max_num_seqs"] != "1024" || !contains(c.Args, "--max-num-seqs", "1024") {
		t.Errorf("Params %v Args %q: want the fixed budget 1024 kept and max_num_seqs lowered to it", c.Params, c.Args)
	}

	// With LoRA (a fixed flag from a space file) and speculation, the budget covers seqs x (k+1).
	sf, err = Parse("space.yaml", []byte("params:\n  lora: {flag: --enable-lora, render: switch, fix: \"on\"}\n"), tesla("0.15.1"), runner.DefaultWorkload())
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string(base.clone())
	values["speculative"], values["num_speculative_tokens"], values["prompt_lookup_min"], values["prompt_lookup_max"] = "ngram", "8", "1", "5"
	c, err = sf.Sample(&fixedSuggester{values: values})
	if err != nil {
		t.Fatal(err)
	}
	if c.Params["max_num_batched_tokens"] != "2304" {
		t.Errorf("LoRA + ngram k=8 with 256 seqs: max_num_batched_tokens = %q, want 2304", c.Params["max_num_batched_tokens"])
	}
}

func contains(args []string, seq ...string) bool {
	for i := 0; i+len(seq) <= len(args); i++ {
		ok := true
		for j, s := range seq {
			if args[i+j] != s {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// The KV-cache dtypes a version takes come from one table: 0.15.1 has v0.16's list, and a value only a later
// vLLM takes is left out of the space on 0.15.1 but kept on 0.17, by the same rule that refuses it in argv.
func TestKVCacheDtypeChoicesByVersion(t *testing.T) {
	src := []byte("params:\n  kv_cache_dtype: {choices: [default, float16, bfloat16]}\n")
	for _, tc := range []struct {
		version string
		want    []string
	}{{"0.15.1", []string{"default", "bfloat16"}}, {"0.17.0", []string{"default", "float16", "bfloat16"}}} {
		s, err := Parse("space.yaml", src, ampere(tc.version), runner.DefaultWorkload())
		if err != nil {
			t.Fatal(err)
		}
		if got := choicesOf(s, "kv_cache_dtype"); !slices.Equal(got, tc.want) {
			t.Errorf("%s: kv_cache_dtype choices %v, want %v", tc.version, got, tc.want)
		}
		err = s.Check([]string{"--kv-cache-dtype", "float16"}, nil, "")
		var ref *Refusal
		if refused := errors.As(err, &ref) && ref.Rule == "invalid-choice"; refused != (tc.version == "0.15.1") {
			t.Errorf("%s: --kv-cache-dtype float16: %v", tc.version, err)
		}
	}
	// The block-size choices end with 0.16 too, but they are another fact: --block-size 48 parses on 0.17.
	if err := mustDefault(t, ampere("0.17.0")).Check([]string{"--block-size", "48"}, nil, ""); err != nil {
		t.Errorf("--block-size 48 on 0.17: %v", err)
	}
}

// A deprecated quantization method needs --allow-deprecated-quantization (§3.1): a variant that uses one
// without it is left out instead of failing every trial.
func TestDeprecatedQuantization(t *testing.T) {
	s := mustDefault(t, ampere("0.15.1"))
	err := s.Check([]string{"--quantization", "fbgemm_fp8"}, nil, "some/fp8-checkpoint")
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Rule != "quantization-deprecated" {
		t.Errorf("fbgemm_fp8 without --allow-deprecated-quantization: %v, want quantization-deprecated", err)
	}
	if err := s.Check([]string{"--served-model-name", "Qwen/Qwen2.5-0.5B", "--quantization", "fbgemm_fp8", "--allow-deprecated-quantization"}, nil, "some/fp8-checkpoint"); err != nil {
		t.Errorf("fbgemm_fp8 with --allow-deprecated-quantization: %v", err)
	}
	src := []byte("models:\n  fb: {model: some/fp8-checkpoint, args: [--quantization, fbgemm_fp8]}\n  ok: {model: some/fp8-checkpoint, args: [--quantization, fbgemm_fp8, --allow-deprecated-quantization]}\n")
	s, err = Parse("space.yaml", src, ampere("0.15.1"), runner.DefaultWorkload())
	if err != nil {
		t.Fatal(err)
	}
	if got := choicesOf(s, "model"); !slices.Equal(got, []string{"default", "ok"}) {
		t.Errorf("model choices %v, want the deprecated variant without the flag left out", got)
	}
}

// vLLM's capture ladder is written once (ladder); onLadder agrees with it.
func TestOneCaptureLadder(t *testing.T) {
	on := map[int]bool{}
	for _, n := range ladder(2048) {
		on[n] = true
	}
	for n := 0; n <= 2048; n++ {
		if onLadder(n) != on[n] {
			t.Fatalf("onLadder(%d) = %v, ladder(2048) says %v", n, onLadder(n), on[n])
		}
	}
	if got := ladderCeil(50); got != 56 {
		t.Errorf("ladderCeil(50) = %d, want 56", got)
	}
}

// Suffix decoding without num_speculative_tokens drafts suffixTreeDepth tokens: the LoRA budget rule and
// repair both read it from the rendered config.
func TestSuffixTokensOnce(t *testing.T) {
	s := mustDefault(t, withArctic(tesla("0.15.1")))
	args := []string{"--enable-lora", "--max-num-seqs", "50", "--max-num-batched-tokens", "1024", "--speculative-config", `{"method":"suffix"}`}
	err := s.Check(args, nil, "")
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Rule != "spec-lora-budget" || !strings.Contains(ref.Message, "(24)") {
		t.Fatalf("suffix with LoRA and a 1024 budget: %v, want spec-lora-budget with k=24", err)
	}
	sa, err := s.parseServeArgv(args)
	if err != nil {
		t.Fatal(err)
	}
	a := assignment{"max_num_seqs": "50", "max_num_batched_tokens": "1024", "speculative": "suffix"}
	s.repair(a, sa)
	if want := strconv.Itoa(50 * (suffixTreeDepth + 1)); a["max_num_batched_tokens"] != want {
		t.Errorf("repair raised the budget to %s, want %s", a["max_num_batched_tokens"], want)
	}
}
