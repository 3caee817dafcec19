package space

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/autotune/autotune/runner"
)

func TestExampleSpaceFile(t *testing.T) {
	s, err := Load("../examples/space.yaml", withHelp(t, tesla("0.15.1"), "testdata/vllm-0.15.1-help.txt"), runner.DefaultWorkload())
	if err != nil {
		t.Fatal(err)
	}
	if got := choicesOf(s, "max_num_seqs"); !reflect.DeepEqual(got, []string{"default", "50", "64", "128"}) {
		t.Errorf("max_num_seqs %v", got)
	}
	if got := choicesOf(s, "model"); !reflect.DeepEqual(got, []string{"default", "awq"}) {
		t.Errorf("model %v", got)
	}
	if r, ok := droppedReason(s, "performance_mode", ""); !ok || !strings.Contains(r, "space.yaml") {
		t.Errorf("performance_mode: %v %q", ok, r)
	}
	d := s.Describe()
	if d.Source != "space.yaml" || d.Env["VLLM_CACHE_ROOT"] == "" {
		t.Errorf("source %q env %v", d.Source, d.Env)
	}
	c := sampleWith(t, s, map[string]string{"model": "awq", "disable_log_stats": "on", "flashinfer_sampler": "0"})
	want := []string{"--served-model-name", "Qwen/Qwen2.5-0.5B", "--quantization", "awq_marlin", "--disable-log-stats"}
	if !reflect.DeepEqual(c.Args, want) || c.Model != "Qwen/Qwen2.5-0.5B-Instruct-AWQ" {
		t.Errorf("awq variant: model %q args %q, want %q", c.Model, c.Args, want)
	}
	if c.Env["VLLM_USE_FLASHINFER_SAMPLER"] != "0" || c.Env["VLLM_CACHE_ROOT"] == "" {
		t.Errorf("env %v", c.Env)
	}
	if _, ok := c.Params["quantization"]; ok {
		t.Error("quantization drawn for a pre-quantized variant")
	}
	b := s.Baseline()
	if len(b.Args) != 0 || b.Env["VLLM_CACHE_ROOT"] == "" {
		t.Errorf("baseline %q %v: want no flags and the file's env", b.Args, b.Env)
	}
	if _, err := s.Encode(b.Params); err != nil {
		t.Errorf("baseline is not a point: %v", err)
	}
	// The condition: with an explicit backend the sampler variable is not drawn.
	c = sampleWith(t, s, map[string]string{"attention_backend": "TRITON_ATTN", "flashinfer_sampler": "0"})
	if _, ok := c.Params["flashinfer_sampler"]; ok || c.Env["VLLM_USE_FLASHINFER_SAMPLER"] != "" {
		t.Errorf("flashinfer_sampler drawn although attention_backend is TRITON_ATTN: %v %v", c.Params, c.Env)
	}
	if s.Fingerprint() == mustDefault(t, withHelp(t, tesla("0.15.1"), "testdata/vllm-0.15.1-help.txt")).Fingerprint() {
		t.Error("the space file does not change the fingerprint")
	}
}

func TestSpaceFileJSON(t *testing.T) {
	src := "{\n\t\"params\": {\n\t\t\"max_num_seqs\": {\"choices\": [\"default\", 50]},\n\t\t\"greedy\": {\"flag\": \"--override-generation-config\", \"render\": \"json\", \"choices\": [\"default\", \"{\\\"temperature\\\": 0}\"]}\n\t},\n\t\"env\": {\"A\": \"1\"}\n}\n"
	s, err := Parse("space.json", []byte(src), tesla("0.15.1"), runner.DefaultWorkload())
	if err != nil {
		t.Fatal(err)
	}
	if got := choicesOf(s, "max_num_seqs"); !reflect.DeepEqual(got, []string{"default", "50"}) {
		t.Errorf("max_num_seqs %v", got)
	}
	c := sampleWith(t, s, map[string]string{"greedy": `{"temperature": 0}`})
	if !contains(c.Args, "--override-generation-config", `{"temperature":0}`) {
		t.Errorf("args %q: want compact JSON as one argument", c.Args)
	}
}

func TestSpaceFileFixAndRanges(t *testing.T) {
	src := `
params:
  gpu_memory_utilization: {fix: 0.90}
  max_num_batched_tokens: {fix: 8192}
  num_speculative_tokens: {low: 3, high: 4}
  speculative: {choices: [ngram]}
`
	s, err := Parse("space.yaml", []byte(src), tesla("0.15.1"), runner.DefaultWorkload())
	if err != nil {
		t.Fatal(err)
	}
	b := s.Baseline()
	if len(b.Args) != 0 || len(b.Params) != 0 {
		t.Errorf("baseline %q %v: speculative fixed to ngram needs drawn knobs, so the baseline is vLLM's plain defaults", b.Args, b.Params)
	}
	if _, err := s.Encode(b.Params); err == nil {
		t.Error("that baseline is not a point of the space, Encode must say so")
	}
	if got := choicesOf(s, "speculative"); !reflect.DeepEqual(got, []string{"fixed:ngram"}) {
		t.Errorf("a single choice becomes fixed: %v", got)
	}
	s2, err := Parse("space.yaml", []byte("params:\n  max_num_batched_tokens: {fix: 8192}\n"), tesla("0.15.1"), runner.DefaultWorkload())
	if err != nil {
		t.Fatal(err)
	}
	if b := s2.Baseline(); !reflect.DeepEqual(b.Args, []string{"--max-num-batched-tokens", "8192"}) {
		t.Errorf("baseline %q: a fixed value is part of it", b.Args)
	}
	for i := 0; i < 20; i++ {
		base, _ := s.defaults0(nil, false)
		base["num_speculative_tokens"], base["prompt_lookup_min"], base["prompt_lookup_max"] = []string{"3", "4"}[i%2], "1", "2"
		c, err := s.Sample(&fixedSuggester{values: base})
		if err != nil {
			t.Fatal(err)
		}
		if !contains(c.Args, "--speculative-config", `{"method":"ngram","num_speculative_tokens":`+base["num_speculative_tokens"]+`,"prompt_lookup_max":2,"prompt_lookup_min":1}`) {
			t.Fatalf("args %q", c.Args)
		}
		if !contains(c.Args, "--gpu-memory-utilization", "0.9") || !contains(c.Args, "--max-num-batched-tokens", "8192") {
			t.Fatalf("fixed values missing from %q", c.Args)
		}
	}
}

// Golden errors: each names the file and the field.
func TestSpaceFileErrors(t *testing.T) {
	tests := []struct{ src, err string }{
		{"params:\n  max_num_seqs:\n    choices: [default, 50, x]\n", `space.yaml: params.max_num_seqs.choices[2]: "x" is not an integer`},
		{"params:\n  max_num_seqs:\n    chioces: [50]\n", `space.yaml: params.max_num_seqs.chioces: unknown field; did you mean choices? (want one of choices, low, high, step, fix, drop, help)`},
		{"parms: {}\n", `space.yaml: parms: unknown field; did you mean params? (want one of params, env, models)`},
		{"prams: {}\nmodles: {}\n", `space.yaml: prams: unknown field; did you mean params? (want one of params, env, models)`},
		{"params:\n  max_num_seq: {choices: [50]}\n", `space.yaml: params.max_num_seq: "max_num_seq" is not a built-in parameter; did you mean max_num_seqs? (a new parameter needs flag or env)`},
		{"params:\n  foo: {flag: --foo, choices: [a], when: {max_num_seq: [50]}}\n", `space.yaml: params.foo.when.max_num_seq: "max_num_seq" is not a parameter defined before this one; did you mean max_num_seqs?`},
		{"params:\n  foo: {flag: --foo, choises: [a]}\n", `space.yaml: params.foo.choises: unknown field; did you mean choices? (want one of flag, env, type, render, choices, low, high, step, fix, default, when, help)`},
		{"models:\n  awq: {model: m, arg: [x]}\n", `space.yaml: models.awq.arg: unknown field; did you mean args? (want one of model, args, env)`},
		{"params:\n  max_model_len: {choices: [default, 1000]}\n", `space.yaml: params.max_model_len.choices[1]: 1000 is below the minimum 1024`},
		{"params:\n  gpu_memory_utilization: {choices: [1.5]}\n", `space.yaml: params.gpu_memory_utilization.choices[0]: 1.5 is outside (0, 1]: vLLM refuses it with "Input should be less than or equal to 1" (§10.1)`},
		{"params:\n  quantization: {choices: [default, awq]}\n", `space.yaml: params.quantization.choices[1]: "awq" needs a pre-quantized checkpoint (vLLM: "Cannot find the config file for awq", §3.2); add the checkpoint under models instead`},
		{"params:\n  block_size: {choices: [8]}\n", `space.yaml: params.block_size.choices[0]: 8 is not a multiple of 16: neither FLASHINFER (16/32/64) nor TRITON_ATTN (multiples of 16) takes it (§2.3, §9.1)`},
		{"params:\n  max_num_seqs: {choices: [50, 50]}\n", `space.yaml: params.max_num_seqs.choices[1]: "50" is listed twice`},
		{"params:\n  max_num_seqs: {low: 1}\n", `space.yaml: params.max_num_seqs.low: max_num_seqs is categorical: give choices`},
		{"params:\n  num_speculative_tokens: {low: 9, high: 4}\n", `space.yaml: params.num_speculative_tokens.low: 9 is above high 4`},
		{"params:\n  num_speculative_tokens: {low: 2.5}\n", `space.yaml: params.num_speculative_tokens.low: "2.5" is not an integer`},
		{"params:\n  max_num_seqs: {flag: --x}\n", `space.yaml: params.max_num_seqs.flag: cannot be changed on a built-in parameter (only choices, low, high, step, fix, drop, help)`},
		{"params:\n  kv_cache_dtype: {fix: fp8}\n", `space.yaml: params.kv_cache_dtype.fix: fp8 cannot run here: an fp8 KV cache needs compute capability >= 8.9; Tesla T4 has 7.5: Triton cannot produce fp8e4nv below sm89 ("fp8e4nv data type is not supported on CUDA arch < 89"), fp8_e5m2 has no known working report on sm75, and the KV cache of this workload is ~0.6 GiB, so fp8 buys nothing (§8, §16.5)`},
		// vLLM 0.15/0.16 has no float16 KV-cache dtype (§2.3): the old list of the parameter let it through, and
		// every trial was then refused by the invalid-choice rule.
		{"params:\n  kv_cache_dtype: {fix: float16}\n", `space.yaml: params.kv_cache_dtype.fix: float16 cannot run here: argument --kv-cache-dtype: invalid choice: 'float16' (choose from 'auto', 'bfloat16', 'fp8', 'fp8_e4m3', 'fp8_e5m2', 'fp8_inc', 'fp8_ds_mla')`},
		{"params:\n  kv_cache_dtype: {fix: float32}\n", `space.yaml: params.kv_cache_dtype.fix: "float32" is not one of auto, bfloat16, fp8, fp8_e4m3, fp8_e5m2, fp8_inc, fp8_ds_mla, float16, turboquant_k8v4, turboquant_4bit_nc, turboquant_k3v4_nc, turboquant_3bit_nc, int8_per_token_head, fp8_per_token_head, nvfp4`},
		{"params:\n  performance_mode: {fix: throughput}\n", `space.yaml: params.performance_mode.fix: throughput cannot run here: --performance-mode exists in vLLM >= 0.17.0 only (§1.2 PR #34936); this is 0.15.1`},
		{"params:\n  foo: {choices: [a]}\n", `space.yaml: params.foo: a new parameter needs flag or env ("foo" is not a built-in parameter)`},
		{"params:\n  foo: {flag: --max-num-seqs, choices: [a]}\n", `space.yaml: params.foo.flag: --max-num-seqs belongs to the built-in parameter max_num_seqs: edit that one instead`},
		{"params:\n  foo: {flag: --port, choices: [a]}\n", `space.yaml: params.foo.flag: --port is set by autotune`},
		{"params:\n  foo: {flag: -x, choices: [a]}\n", `space.yaml: params.foo.flag: "-x" is not a long flag (--name)`},
		{"params:\n  foo: {flag: --foo, type: int, low: 1}\n", `space.yaml: params.foo: a int parameter needs low and high (or fix)`},
		{"params:\n  foo: {flag: --foo, type: logint, low: 1, high: 2}\n", `space.yaml: params.foo.type: "logint" is not one of categorical, int, step_int, float, discrete_float, log_float`},
		{"params:\n  foo: {flag: --foo, render: xml, choices: [a]}\n", `space.yaml: params.foo.render: "xml" is not one of value, switch, list, json`},
		{"params:\n  foo: {flag: --foo, render: json, choices: [\"{x\"]}\n", `space.yaml: params.foo.choices[0]: "{x" is not valid JSON`},
		{"params:\n  foo: {flag: --foo, choices: [a], when: {bar: [x]}}\n", `space.yaml: params.foo.when.bar: "bar" is not a parameter defined before this one`},
		{"params:\n  foo: {flag: --foo, choices: [a], when: {attention_backend: [defualt]}}\n", `space.yaml: params.foo.when.attention_backend: "defualt" is not a value of attention_backend (default | FLASH_ATTN | FLASHINFER | TRITON_ATTN | FLEX_ATTENTION)`},
		{"params:\n  foo: {flag: --foo, type: int, fix: x}\n", `space.yaml: params.foo.fix: "x" is not an integer`},
		{"params:\n  Foo: {flag: --foo, choices: [a]}\n", `space.yaml: params.Foo: "Foo" is not a usable parameter name (lower case letters, digits and _)`},
		{"env:\n  1X: a\n", `space.yaml: env.1X: "1X" is not an environment variable name`},
		{"models:\n  awq: {args: [--quantization, awq_marlin]}\n", `space.yaml: models.awq.model: is required: the checkpoint to serve`},
		{"models:\n  awq: {model: m, args: [--served-model-name, x]}\n", `space.yaml: models.awq.args[0]: --served-model-name is added by autotune (the study's model name)`},
		{"models:\n  default: {model: m}\n", `space.yaml: models.default: "default" is not a usable variant name (lower case letters, digits, _; not "default")`},
		{"params:\n  model: {choices: [default, gguf]}\n", `space.yaml: params.model.choices[1]: "gguf" is not a model variant defined under models`},
		{"params: [1, 2]\n", `space.yaml: params: must be a mapping`},
		{"- a\n", `space.yaml: the top level must be a mapping with params, env and models`},
		{"params:\n  max_num_seqs: {choices: [50]\n", `space.yaml: not valid YAML or JSON: line 1: did not find expected ',' or '}'`},
		{"params:\n  max_num_seqs: {drop: true, choices: [50]}\n", `space.yaml: params.max_num_seqs.drop: a dropped parameter takes no other field`},
	}
	for _, tc := range tests {
		_, err := Parse("space.yaml", []byte(tc.src), tesla("0.15.1"), runner.DefaultWorkload())
		if err == nil || err.Error() != tc.err {
			t.Errorf("%q\n got %v\nwant %s", tc.src, err, tc.err)
		}
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := Load("testdata/nope.yaml", tesla("0.15.1"), runner.DefaultWorkload())
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("err %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
