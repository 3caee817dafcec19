package space

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/autotune/autotune/runner"
)

// Refusal is a config that vLLM would refuse (or that would break the benchmark), found without starting
// anything. Message is the text vLLM prints, filled in with the config's numbers, so that a log grep for
// the same fragment (§10.1) matches.
type Refusal struct {
	Rule    string // rule id, see Rules
	Message string
	Source  string // where the rule and its message come from
}

func (r *Refusal) Error() string { return fmt.Sprintf("%s [%s; %s]", r.Message, r.Rule, r.Source) }

// Rule describes one constraint: what vLLM refuses, and how the space keeps sampled configs clear of it.
type Rule struct {
	ID       string `json:"id"`
	Source   string `json:"source"`
	Message  string `json:"message"`  // the refusal text, with <placeholders>
	Enforced string `json:"enforced"` // how sampling avoids it: "domain", "condition", "repair", "pruning", "render"
}

type rule struct {
	Rule
	check func(c *ruleInput) string // "" when the config passes, else the filled-in message
}

// Rules lists the constraints Check enforces, in the order it checks them.
func Rules() []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = r.Rule
	}
	return out
}

// asyncSpecOK are the speculative methods that may run with --async-scheduling (§7, vllm.py:898-962).
var asyncSpecOK = map[string]bool{"eagle": true, "eagle3": true, "mtp": true, "draft_model": true, "ngram_gpu": true}

var rules = []rule{
	{Rule{"unknown-flag", "§2.1, §2.2, §2.4", "vllm: error: unrecognized arguments: <flag>", "pruning"}, func(c *ruleInput) string {
		for _, f := range c.sa.order {
			base, _, _ := strings.Cut(f, ".")
			if !strings.HasPrefix(base, "--") || !c.env.hasFlag(base) {
				if c.pruning && strings.HasPrefix(base, "--") {
					return c.env.flagReason(base) + flagNotes[base]
				}
				return "vllm: error: unrecognized arguments: " + f
			}
		}
		return ""
	}},
	{Rule{"invalid-choice", "§2.1, §2.3", "argument <flag>: invalid choice: '<v>' (choose from ...)", "domain"}, func(c *ruleInput) string {
		for _, f := range c.sa.order {
			choices := c.env.choices(f)
			if choices == nil {
				continue
			}
			for _, v := range c.sa.flags[f] {
				if indexOf(choices, v) < 0 {
					return fmt.Sprintf("argument %s: invalid choice: '%s' (choose from %s)", f, v, quoteList(choices))
				}
			}
		}
		return ""
	}},
	{Rule{"env-removed", "§9.1 (PR #32812)", "Unknown vLLM environment variable detected: <NAME> (the setting is ignored)", "pruning"}, func(c *ruleInput) string {
		for _, k := range sortedKeys(c.envVars) {
			if !c.env.hasEnv(k) {
				return "Unknown vLLM environment variable detected: " + k
			}
		}
		return ""
	}},
	{Rule{"bf16-capability", "§4 (cuda.py:497-516)", "Bfloat16 is only supported on GPUs with compute capability of at least 8.0. ...", "pruning"}, func(c *ruleInput) string {
		if c.sa.last("--dtype") != "bfloat16" {
			return ""
		}
		return c.capRefusal(8.0, "bfloat16", func() string {
			return fmt.Sprintf("ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. "+
				"Your %s GPU has compute capability %s. You can use float16 instead by explicitly setting the `dtype` flag in CLI, for example: --dtype=half.",
				c.env.gpuName(), fmtNum(c.env.cc))
		})
	}},
	{Rule{"quantization-unknown", "§3.2 (model.py:~1034-1046)", "Unknown quantization method: <m>. Must be one of [...]", "domain"}, func(c *ruleInput) string {
		if m := c.sa.last("--quantization"); m != "" {
			if _, ok := quantMinCap[m]; !ok {
				return fmt.Sprintf("Unknown quantization method: %s. Must be one of %s.", m, quoteList(sortedQuant()))
			}
		}
		return ""
	}},
	{Rule{"quantization-capability", "§3.1 (vllm.py:589-599)", "ValueError: The quantization method <m> is not supported for the current GPU. Minimum capability: <x>. Current capability: <y>.", "pruning"}, func(c *ruleInput) string {
		m := c.sa.last("--quantization")
		min, ok := quantMinCap[m]
		if !ok {
			return ""
		}
		return c.capRefusal(min, "quantization "+m, func() string {
			return fmt.Sprintf("ValueError: The quantization method %s is not supported for the current GPU. Minimum capability: %d. Current capability: %d.",
				m, int(min*10+0.5), c.env.ccInt())
		})
	}},
	{Rule{"quantization-deprecated", "§3.1", "<m> is deprecated and needs --allow-deprecated-quantization", "pruning"}, func(c *ruleInput) string {
		if m := c.sa.last("--quantization"); quantDeprecated[m] && !c.sa.has("--allow-deprecated-quantization") {
			return m + " is deprecated and needs --allow-deprecated-quantization (§3.1)"
		}
		return ""
	}},
	{Rule{"quantization-config-file", "§3.2 (weight_utils.py:388-399)", "ValueError: Cannot find the config file for <m>", "domain"}, func(c *ruleInput) string {
		m := c.sa.last("--quantization")
		if m != "" && c.model == "" && !quantOnline[m] {
			if _, known := quantMinCap[m]; known {
				return "ValueError: Cannot find the config file for " + m
			}
		}
		return ""
	}},
	{Rule{"mnbt-ge-seqs", "§10.1 (scheduler.py:273-278)", "max_num_batched_tokens (A) must be greater than or equal to max_num_seqs (B).", "repair"}, func(c *ruleInput) string {
		e := c.eff
		if e.mnbt < e.seqs && (e.mnbtSet || e.seqsSet) {
			return fmt.Sprintf("max_num_batched_tokens (%d) must be greater than or equal to max_num_seqs (%d).", e.mnbt, e.seqs)
		}
		return ""
	}},
	{Rule{"chunked-off-mnbt-ge-mml", "§10.1 (scheduler.py:259-271)", "max_num_batched_tokens (A) is smaller than max_model_len (B). ...", "repair"}, func(c *ruleInput) string {
		e := c.eff
		if c.sa.has("--no-enable-chunked-prefill") && e.mmlOK && e.mnbt < e.mml {
			return fmt.Sprintf("max_num_batched_tokens (%d) is smaller than max_model_len (%d). This effectively limits the maximum sequence length to "+
				"max_num_batched_tokens and makes vLLM reject longer sequences. Please increase max_num_batched_tokens or decrease max_model_len.", e.mnbt, e.mml)
		}
		return ""
	}},
	{Rule{"max-model-len-above-model", "§10.1 (model.py:2186-2214)", "User-specified max_model_len (X) is greater than the derived max_model_len (Y)", "pruning"}, func(c *ruleInput) string {
		if n, ok := c.sa.intFlag("--max-model-len"); ok && c.w.ModelMaxLen > 0 && n > c.w.ModelMaxLen && c.model == "" {
			return fmt.Sprintf("User-specified max_model_len (%d) is greater than the derived max_model_len (%d)", n, c.w.ModelMaxLen)
		}
		return ""
	}},
	{Rule{"max-model-len-fits-request", "§13.7 (renderers/params.py:405-428)", "This model's maximum context length is N tokens. However, you requested <out> output tokens and your prompt contains <in> input tokens, ...", "domain"}, func(c *ruleInput) string {
		if n, ok := c.sa.intFlag("--max-model-len"); ok && n < reqLen(c.w) {
			return fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d output tokens and your prompt contains %d input tokens, for a total of %d tokens.",
				n, c.w.OutputLen, c.w.InputLen, reqLen(c.w))
		}
		return ""
	}},
	{Rule{"field-limits", "§10.1 (cache.py:66, scheduler.py:49,63)", "1 validation error for CacheConfig/SchedulerConfig ... Input should be ...", "domain"}, func(c *ruleInput) string {
		if v := c.sa.last("--gpu-memory-utilization"); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f > 1 {
				return "1 validation error for CacheConfig\ngpu_memory_utilization\n  Input should be less than or equal to 1"
			}
			if f <= 0 {
				return "1 validation error for CacheConfig\ngpu_memory_utilization\n  Input should be greater than 0"
			}
		}
		for _, f := range []string{"--max-num-seqs", "--max-num-batched-tokens", "--stream-interval"} {
			if v := c.sa.last(f); v != "" {
				if n, err := strconv.Atoi(v); err != nil || n < 1 {
					return fmt.Sprintf("1 validation error for SchedulerConfig\n%s\n  Input should be greater than or equal to 1", strings.ReplaceAll(strings.TrimPrefix(f, "--"), "-", "_"))
				}
			}
		}
		return ""
	}},
	{Rule{"partial-prefill", "§2.3 (arg_utils.py:2231-2239)", "NotImplementedError: Concurrent Partial Prefill is not supported. ...", "render"}, func(c *ruleInput) string {
		for f, def := range map[string]string{"--max-num-partial-prefills": "1", "--max-long-partial-prefills": "1", "--long-prefill-token-threshold": "0"} {
			if v := c.sa.last(f); v != "" && v != def {
				return "NotImplementedError: Concurrent Partial Prefill is not supported. We recommend to remove Concurrent Partial Prefill from your config."
			}
		}
		return ""
	}},
	{Rule{"spec-method-exclusive", "§2.3 (arg_utils.py:1646-1659)", "--spec-method and --speculative-config['method'] are mutually exclusive", "render"}, func(c *ruleInput) string {
		if c.sa.has("--spec-method") && c.spec != nil && c.spec.Method != "" {
			return "--spec-method and --speculative-config['method'] are mutually exclusive"
		}
		return ""
	}},
	{Rule{"spec-config-json", "§7", "argument --speculative-config: invalid JSON", "render"}, func(c *ruleInput) string {
		return c.specErr
	}},
	{Rule{"spec-tokens-required", "§7 (speculative.py:80-82)", "num_speculative_tokens is required for model-free methods (ngram)", "condition"}, func(c *ruleInput) string {
		if c.spec != nil && (c.spec.Method == "ngram" || c.spec.Method == "ngram_gpu") && c.spec.NumSpeculativeTokens < 1 {
			return "num_speculative_tokens is required for model-free speculative decoding method " + c.spec.Method
		}
		return ""
	}},
	{Rule{"ngram-lookup-order", "§7 (speculative.py:140-145, 582-611)", "prompt_lookup_min=<a> must be <= prompt_lookup_max=<b>", "repair"}, func(c *ruleInput) string {
		if c.spec == nil || (c.spec.Method != "ngram" && c.spec.Method != "ngram_gpu") {
			return ""
		}
		lo, hi := c.spec.PromptLookupMin, c.spec.PromptLookupMax
		if lo == 0 {
			lo = hi
		}
		if hi == 0 {
			hi = lo
		}
		if lo == 0 && hi == 0 {
			lo, hi = 5, 5
		}
		if lo > hi {
			return fmt.Sprintf("prompt_lookup_min=%d must be <= prompt_lookup_max=%d", lo, hi)
		}
		return ""
	}},
	{Rule{"spec-method-version", "§1.2 (PR #25784 suffix, PR #29184 ngram_gpu), §7", "speculative method <m> is not in this vLLM", "pruning"}, func(c *ruleInput) string {
		if c.spec == nil {
			return ""
		}
		if f, ok := featureSpans["spec:"+c.spec.Method]; ok && !f.has(c.env.v) {
			return fmt.Sprintf("speculative method %q does not exist in vLLM %s (%s; %s)", c.spec.Method, c.env.versionText(), f, f.source)
		}
		return ""
	}},
	{Rule{"suffix-needs-arctic-inference", "§7 (speculative.py:808-840)", "ImportError: Arctic Inference is required for suffix decoding...", "pruning"}, func(c *ruleInput) string {
		if c.spec != nil && c.spec.Method == "suffix" && !c.env.pkg(runner.ArcticInference) {
			return "ImportError: Arctic Inference is required for suffix decoding. Please install via `pip install arctic-inference==0.1.1`."
		}
		return ""
	}},
	{Rule{"spec-forced-async", "§7 (vllm.py:898-962)", "Currently, async scheduling is only supported with EAGLE/MTP/Draft Model/NGram GPU kind of speculative decoding", "condition"}, func(c *ruleInput) string {
		if c.spec != nil && c.sa.has("--async-scheduling") && !asyncSpecOK[c.spec.Method] {
			return "Currently, async scheduling is only supported with EAGLE/MTP/Draft Model/NGram GPU kind of speculative decoding"
		}
		return ""
	}},
	{Rule{"spec-lora-budget", "§7 (arg_utils.py:2050-2062)", "Consider increasing max_num_batched_tokens or decreasing num_speculative_tokens", "repair"}, func(c *ruleInput) string {
		if c.spec == nil || !c.sa.has("--enable-lora") {
			return ""
		}
		k := c.spec.tokens()
		if c.eff.mnbt < c.eff.seqs*(k+1) {
			return fmt.Sprintf("max_num_batched_tokens (%d) < max_num_seqs (%d) * (num_speculative_tokens (%d) + 1): Consider increasing max_num_batched_tokens or decreasing num_speculative_tokens",
				c.eff.mnbt, c.eff.seqs, k)
		}
		return ""
	}},
	{Rule{"attention-backend-valid", "§9.1 (cuda.py:306-310)", "ValueError: Selected backend <B> is not valid for this configuration. Reason: [...]", "pruning"}, func(c *ruleInput) string {
		b := c.sa.last("--attention-backend")
		if b == "" {
			b = c.envVars["VLLM_ATTENTION_BACKEND"]
		}
		if b == "" {
			return ""
		}
		reason := c.env.backendReason(b)
		if reason == "" && (b == "FLASHINFER" || b == "TRITON_ATTN") {
			if bs, ok := c.sa.intFlag("--block-size"); ok && bs%16 != 0 {
				reason = fmt.Sprintf("block size %d is not a multiple of 16", bs)
			}
		}
		if reason != "" {
			return fmt.Sprintf("ValueError: Selected backend %s is not valid for this configuration. Reason: ['%s']", b, reason)
		}
		return ""
	}},
	{Rule{"attention-config-exclusive", "§2.3 (arg_utils.py:2069-2079)", "--attention-backend and --attention-config backend are mutually exclusive", "render"}, func(c *ruleInput) string {
		if c.sa.has("--attention-backend") && (c.sa.has("--attention-config") || c.sa.has("--attention-config.backend")) {
			return "--attention-backend and --attention-config's backend are mutually exclusive"
		}
		return ""
	}},
	{Rule{"kv-fp8-below-sm89", "§8", "fp8e4nv data type is not supported on CUDA arch < 89", "pruning"}, func(c *ruleInput) string {
		if dt := c.sa.last("--kv-cache-dtype"); dt != "" {
			if why := c.env.kvReason(dt); why != "" {
				if c.pruning {
					return why
				}
				return "fp8e4nv data type is not supported on CUDA arch < 89 (--kv-cache-dtype " + dt + ")"
			}
		}
		return ""
	}},
	{Rule{"capture-sizes-exclusive", "§2.3 (arg_utils.py:2167-2173)", "ValueError: --cudagraph-capture-sizes and compilation_config.cudagraph_capture_sizes are mutually exclusive", "render"}, func(c *ruleInput) string {
		if !c.sa.has("--cudagraph-capture-sizes") {
			return ""
		}
		if c.sa.has("--compilation-config.cudagraph_capture_sizes") || c.sa.has("--compilation-config.cudagraph_capture_sizes+") ||
			strings.Contains(c.sa.last("--compilation-config"), "cudagraph_capture_sizes") {
			return "ValueError: --cudagraph-capture-sizes and compilation_config.cudagraph_capture_sizes are mutually exclusive"
		}
		return ""
	}},
	{Rule{"capture-max-consistent", "upstream vllm/config/vllm.py _set_cudagraph_sizes (not in the reference)", "customized max_cudagraph_capture_size(=X) should be consistent with the max value of cudagraph_capture_sizes(=Y)", "render"}, func(c *ruleInput) string {
		m, ok := c.sa.intFlag("--max-cudagraph-capture-size")
		sizes := c.sa.flags["--cudagraph-capture-sizes"]
		if !ok || len(sizes) == 0 {
			return ""
		}
		top := 0
		for _, s := range sizes {
			if n, err := strconv.Atoi(s); err == nil && n <= c.eff.mnbt && n > top {
				top = n
			}
		}
		if m != top {
			return fmt.Sprintf("customized max_cudagraph_capture_size(=%d) should be consistent with the max value of cudagraph_capture_sizes(=%d)", m, top)
		}
		return ""
	}},
	// The rules below are autotune's own invariants: vLLM accepts these configs, but they would waste a
	// trial or break the benchmark.
	{Rule{"eager-ignores-graphs", "§2.3 --enforce-eager (vllm.py:1019-1025)", "Enforce eager set, disabling torch.compile and CUDAGraphs (capture sizes would be ignored)", "condition"}, func(c *ruleInput) string {
		if !c.sa.has("--enforce-eager") {
			return ""
		}
		for _, f := range []string{"--cudagraph-capture-sizes", "--max-cudagraph-capture-size", "--cuda-graph-sizes", "--optimization-level"} {
			if c.sa.has(f) {
				return "Enforce eager set, disabling torch.compile and CUDAGraphs: " + f + " would be ignored"
			}
		}
		return ""
	}},
	{Rule{"served-model-name", "§2.3 --served-model-name", "a model variant must be served under the benchmark's model name", "render"}, func(c *ruleInput) string {
		if c.model != "" && c.model != c.w.Model && indexOf(c.sa.flags["--served-model-name"], c.w.Model) < 0 {
			return fmt.Sprintf("the server would not answer to %q: serving %s needs --served-model-name %s", c.w.Model, c.model, c.w.Model)
		}
		return ""
	}},
	{Rule{"duplicate-flag", "§2.1 (argparse keeps the last value)", "flag given twice", "render"}, func(c *ruleInput) string {
		if len(c.sa.dups) > 0 {
			return "flag given twice: " + strings.Join(c.sa.dups, ", ")
		}
		return ""
	}},
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = "'" + x + "'"
	}
	return strings.Join(q, ", ")
}

func sortedQuant() []string {
	out := make([]string, 0, len(quantMinCap))
	for k := range quantMinCap {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ruleInput is a parsed config under check.
type ruleInput struct {
	s       *Space
	env     *env
	w       runner.Workload
	sa      *serveArgv
	eff     effective
	envVars map[string]string
	model   string
	spec    *specConfig
	specErr string
	// pruning: the input is one candidate value, rendered alone, and an unknown GPU capability counts as
	// too low (a value is left out on a guess; a config is never refused on one).
	pruning bool
}

// capRefusal returns vllmMsg() when the GPU is known to be below capability min; when pruning, also why
// not when the capability is unknown.
func (c *ruleInput) capRefusal(min float64, what string, vllmMsg func() string) string {
	if !c.env.ccKnown {
		if c.pruning {
			return c.env.needCC(min, what)
		}
		return ""
	}
	if c.env.cc+1e-9 < min {
		return vllmMsg()
	}
	return ""
}

// flagNotes add what a missing flag used to mean, for the reasons pruning gives.
var flagNotes = map[string]string{
	"--optimization-level": "; before PR #26847 -O<n> meant the compilation level (§2.4)",
}

// Check returns the first refusal that argv (the tuned flags, as in Config.Args) would meet on this
// space's GPU and vLLM, or nil. model is Config.Model ("" for the study's own checkpoint).
func (s *Space) Check(args []string, env map[string]string, model string) error {
	sa, err := s.parseServeArgv(args)
	if err != nil {
		return &Refusal{Rule: "argv", Message: "vllm: error: " + err.Error(), Source: "§2.1"}
	}
	c := s.newRuleInput(sa, env, model)
	for _, r := range rules {
		if msg := r.check(c); msg != "" {
			return &Refusal{Rule: r.ID, Message: msg, Source: r.Source}
		}
	}
	return nil
}

func (s *Space) newRuleInput(sa *serveArgv, env map[string]string, model string) *ruleInput {
	c := &ruleInput{s: s, env: s.env, w: s.w, sa: sa, envVars: env, model: model}
	c.eff = s.effectiveArgs(sa)
	c.spec, c.specErr = parseSpecConfig(sa)
	return c
}

// refusedHere returns why vLLM on this platform would refuse value v of p, or "": the value is rendered
// alone (other parameters at vLLM's defaults) and checked by the rules that hold for one value, those
// enforced by pruning or by the domain. The platform facts therefore live in the rules only.
func (s *Space) refusedHere(p *param, v string) string {
	a := assignment{p.Name: v}
	for _, q := range s.params {
		// Values that p's rendering may read (the n-gram knobs of a speculative method).
		if q != p && q.Domain.isInt() {
			if q.Fixed != "" {
				a[q.Name] = q.Fixed
			} else {
				a[q.Name] = fmtNum(q.Domain.Low)
			}
		}
	}
	var r rendered
	if err := s.renderParam(&r, p, v, a); err != nil {
		return "" // a value that cannot render alone is judged on the whole config, by Validate
	}
	sa, err := s.parseServeArgv(r.args)
	if err != nil {
		return fmt.Sprintf("renders to argv %q that vLLM cannot parse: %v", r.args, err)
	}
	c := s.newRuleInput(sa, r.env, r.model)
	c.pruning = true
	for _, rl := range rules {
		if rl.Enforced != "pruning" && rl.Enforced != "domain" {
			continue
		}
		if msg := rl.check(c); msg != "" {
			return msg
		}
	}
	return ""
}

// Validate checks a whole config: its argv, environment and model (see Check).
func (s *Space) Validate(c Config) error {
	return s.Check(c.Args, c.Env, c.Model)
}
