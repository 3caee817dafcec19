package model

import (
	"fmt"
	"strconv"
	"strings"
)

// The parts of config resolution (ResolveEngine, engine.go): quantization, speculative decoding, the scheduler
// and the attention backend, each with vLLM 0.15.1's checks and messages.

func resolveQuant(e *Engine, a *ServeArgs) *Failure {
	ckpt := checkpointQuant(e.Model)
	user := a.str("quantization", "")
	if user != "" {
		if _, ok := quantMinCap[user]; !ok {
			return configFail(fmt.Sprintf("ValueError: Unknown quantization method: %s. Must be one of %s.", user, pyRepr(toAny(quantMethods()))))
		}
		if ckpt != "" && !compatibleQuant(ckpt, user) {
			return configFail(fmt.Sprintf("ValueError: Quantization method specified in the model config (%s) does not match the quantization method specified in the `quantization` argument (%s).", ckpt, user))
		}
		if quantDeprecated[user] && !(a.Bool("allow_deprecated_quantization") != nil && *a.Bool("allow_deprecated_quantization")) {
			return configFail(fmt.Sprintf("ValueError: The quantization method %s is deprecated and will be removed in future versions of vLLM. To bypass, set `--allow-deprecated-quantization`.", user))
		}
	}
	method := user
	if method == "" {
		method = ckpt
	}
	if method == "" {
		e.Weights = "fp16"
		if e.Dtype == "float32" {
			e.Weights = "fp32"
		}
		return nil
	}
	if c, have := quantMinCap[method], e.land().GPU.Capability; c > have {
		return configFail(fmt.Sprintf("ValueError: The quantization method %s is not supported for the current GPU. Minimum capability: %d. Current capability: %d.", method, c, have))
	}
	if e.Dtype == "float32" && method != "bitsandbytes" {
		return configFail(fmt.Sprintf("ValueError: torch.float32 is not supported for quantization method %s. Supported dtypes: [torch.float16, torch.bfloat16]", method))
	}
	e.Quant = method
	if ckpt == "" && !quantNoConfigFile[method] {
		e.SetLate(EngineFail(PhaseLoad, "ValueError: Cannot find the config file for "+method))
		return nil
	}
	switch method {
	case "fp8", "fp8_per_tensor", "fp8_per_block", "online":
		e.Weights = "fp8"
		e.Warnings = append(e.Warnings, "Your GPU does not have native support for FP8 computation but FP8 quantization is being used. Weight-only FP8 compression will be used leveraging the Marlin kernel. This may degrade performance for compute-heavy workloads.")
	case "bitsandbytes":
		e.Weights = "bnb4"
	case "awq":
		e.Weights = "int4-awq"
	case "awq_marlin", "gptq_marlin":
		e.Weights = "int4-marlin"
	case "gptq", "auto_gptq":
		e.Weights = "int4-gptq"
		if strings.Contains(strings.ToLower(e.Model), "int8") {
			e.Weights = "int8-gptq"
		}
	case "compressed-tensors", "quark":
		e.Weights = "int8"
	case "gguf":
		e.SetLate(EngineFail(PhaseLoad, "ValueError: GGUF quantization needs a .gguf checkpoint; "+e.Model+" has none."))
	default:
		e.Weights = "fp16"
	}
	return nil
}

var specConfigKeys = map[string]bool{"method": true, "num_speculative_tokens": true, "prompt_lookup_max": true,
	"prompt_lookup_min": true, "model": true, "suffix_decoding_max_tree_depth": true,
	"suffix_decoding_max_cached_requests": true, "suffix_decoding_max_spec_factor": true,
	"suffix_decoding_min_token_prob": true, "draft_tensor_parallel_size": true, "quantization": true,
	"max_model_len": true, "revision": true, "disable_padded_drafter_batch": true}

var specMethods = []string{"ngram", "medusa", "mlp_speculator", "draft_model", "suffix", "eagle", "eagle3",
	"deepseek_mtp", "mtp", "custom_class"}

func resolveSpec(e *Engine, a *ServeArgs, env Env) *Failure {
	sc := a.json("speculative_config")
	if sc == nil {
		return nil
	}
	for _, k := range sortedKeysAny(sc) {
		if !specConfigKeys[k] {
			return pydanticField("SpeculativeConfig", k, "Extra inputs are not permitted", "extra_forbidden", pyRepr(sc[k]), pyType(sc[k]))
		}
	}
	method, _ := sc["method"].(string)
	if method == "" {
		if _, ok := sc["model"]; ok {
			return configFail("ValueError: speculative draft models are not available in this simulation (no weights can be downloaded); use method 'ngram' or 'suffix'.")
		}
		return configFail("ValueError: Either `method` or `model` must be provided in the speculative config.")
	}
	if !contains(specMethods, method) {
		return pydanticField("SpeculativeConfig", "method", "Input should be "+strings.TrimSuffix(strings.Join(quoteList(specMethods), ", "), "")+"",
			"literal_error", "'"+method+"'", "str")
	}
	k, hasK := intOf(sc["num_speculative_tokens"])
	spec := &SpecConfig{Method: method}
	switch method {
	case "ngram":
		if !hasK {
			return configFail("ValueError: num_speculative_tokens must be provided with speculative model unless the draft model config contains an n_predict parameter.")
		}
		lmin, hasMin := intOf(sc["prompt_lookup_min"])
		lmax, hasMax := intOf(sc["prompt_lookup_max"])
		switch {
		case !hasMin && !hasMax:
			lmin, lmax = 5, 5
		case !hasMin:
			lmin = lmax
		case !hasMax:
			lmax = lmin
		}
		if lmin < 1 {
			return configFail(fmt.Sprintf("ValueError: prompt_lookup_min=%d must be > 0", lmin))
		}
		if lmax < 1 {
			return configFail(fmt.Sprintf("ValueError: prompt_lookup_max=%d must be > 0", lmax))
		}
		if lmin > lmax {
			return configFail(fmt.Sprintf("ValueError: prompt_lookup_min=%d must be <= prompt_lookup_max=%d", lmin, lmax))
		}
		spec.LookupMin, spec.LookupMax = lmin, lmax
	case "suffix":
		if !env.Packages[ArcticInference] {
			return configFail("ImportError: Arctic Inference is required for suffix decoding. Install via `pip install arctic-inference==0.1.1`.")
		}
		spec.MaxDepth = 24
		if d, ok := intOf(sc["suffix_decoding_max_tree_depth"]); ok {
			spec.MaxDepth = d
		}
		if !hasK {
			k = spec.MaxDepth
		}
		spec.SpecFact = 1.0
		if f, ok := numberOf(sc["suffix_decoding_max_spec_factor"]); ok {
			spec.SpecFact = f
		}
		spec.MinProb = 0.1
		if f, ok := numberOf(sc["suffix_decoding_min_token_prob"]); ok {
			spec.MinProb = f
		}
	default:
		return configFail(fmt.Sprintf("ValueError: speculative method %q needs a draft model, and this simulation has no draft model weights; use method 'ngram' or 'suffix'.", method))
	}
	if k < 1 {
		return configFail(fmt.Sprintf("ValueError: Expected num_speculative_tokens to be greater than zero (%d).", k))
	}
	spec.K = k
	e.Spec = spec
	return nil
}

func resolveScheduler(e *Engine, a *ServeArgs) *Failure {
	for _, f := range []struct {
		dest string
		def  int64
	}{{"max_num_partial_prefills", 1}, {"max_long_partial_prefills", 1}, {"long_prefill_token_threshold", 0}} {
		if a.int(f.dest, f.def) != f.def {
			return configFail("NotImplementedError: Concurrent Partial Prefill is not supported. We recommend to remove Concurrent Partial Prefill from your config.")
		}
	}
	e.Chunked = true
	if b := a.Bool("enable_chunked_prefill"); b != nil && !*b {
		e.Chunked = false
		e.Warnings = append(e.Warnings, "This model does not officially support disabling chunked prefill. Disabling this manually may cause the engine to crash or produce incorrect outputs.")
	}
	userSeqs, userTok := a.Has("max_num_seqs"), a.Has("max_num_batched_tokens")
	seqs, tok := a.int("max_num_seqs", serverMaxSeqs), a.int("max_num_batched_tokens", serverMNBT)
	if userSeqs && seqs < 1 {
		return pydanticField("SchedulerConfig", "max_num_seqs", "Input should be greater than or equal to 1",
			"greater_than_equal", strconv.FormatInt(seqs, 10), "int")
	}
	if userTok && tok < 1 {
		return pydanticField("SchedulerConfig", "max_num_batched_tokens", "Input should be greater than or equal to 1",
			"greater_than_equal", strconv.FormatInt(tok, 10), "int")
	}
	mml := int64(e.MaxModelLen)
	// Default adjustments (arg_utils.py:2419-2491); user values are never changed.
	if !userTok {
		if !e.Chunked && tok < mml {
			tok = mml
		}
		if tok > seqs*mml {
			tok = seqs * mml
		}
	}
	if !userSeqs && seqs > tok {
		seqs = tok
	}
	if !e.Chunked && tok < mml && !e.AutoMaxLen {
		return pydanticFail("SchedulerConfig", "", fmt.Sprintf("max_num_batched_tokens (%d) is smaller than max_model_len (%d). This effectively limits the maximum sequence length to max_num_batched_tokens and makes vLLM reject longer sequences. Please increase max_num_batched_tokens or decrease max_model_len.", tok, mml),
			"value_error", "ArgsKwargs(())", "ArgsKwargs")
	}
	if tok < seqs {
		return pydanticFail("SchedulerConfig", "", fmt.Sprintf("max_num_batched_tokens (%d) must be greater than or equal to max_num_seqs (%d).", tok, seqs),
			"value_error", "ArgsKwargs(())", "ArgsKwargs")
	}
	if tok > seqs*mml {
		e.Warnings = append(e.Warnings, fmt.Sprintf("max_num_batched_tokens (%d) exceeds max_num_seqs * max_model_len (%d). This may lead to unexpected behavior.", tok, seqs*mml))
	}
	e.MaxNumSeqs, e.MNBT = int(seqs), int(tok)
	si := a.int("stream_interval", 1)
	if si < 1 {
		return pydanticField("SchedulerConfig", "stream_interval", "Input should be greater than or equal to 1",
			"greater_than_equal", strconv.FormatInt(si, 10), "int")
	}
	e.StreamInterval = int(si)
	if e.Chunked {
		e.Infos = append(e.Infos, fmt.Sprintf("Chunked prefill is enabled with max_num_batched_tokens=%d.", e.MNBT))
	}

	// Async scheduling (vllm.py:898-967). The refusal's wording is 0.15's (vllm/config/vllm.py at the v0.15.0
	// release, 2026-01-29): later versions list more methods ("EAGLE/MTP/Draft Model/NGram GPU").
	e.Async = true
	userAsync := a.Bool("async_scheduling")
	if e.Spec != nil {
		if userAsync != nil && *userAsync {
			return configFail("ValueError: Currently, async scheduling is only supported with EAGLE/MTP kind of speculative decoding.")
		}
		if userAsync == nil {
			e.Warnings = append(e.Warnings, fmt.Sprintf("Async scheduling not supported with %s-based speculative decoding and will be disabled.", e.Spec.Method))
		}
		e.Async = false
	}
	if userAsync != nil && !*userAsync {
		e.Async = false
	}
	if e.Async {
		e.Infos = append(e.Infos, "Asynchronous scheduling is enabled.")
	} else {
		e.Infos = append(e.Infos, "Asynchronous scheduling is disabled.")
	}
	return nil
}

// attentionBackends are the members of 0.15's AttentionBackendEnum, in its order
// (vllm/v1/attention/backends/registry.py at a2b877df6): any other name is refused when the config is built.
var attentionBackends = []string{"FLASH_ATTN", "FLASH_ATTN_DIFFKV", "TRITON_ATTN", "ROCM_ATTN", "ROCM_AITER_MLA",
	"ROCM_AITER_TRITON_MLA", "ROCM_AITER_FA", "ROCM_AITER_MLA_SPARSE", "TORCH_SDPA", "FLASHINFER", "FLASHINFER_MLA",
	"TRITON_MLA", "CUTLASS_MLA", "FLASHMLA", "FLASHMLA_SPARSE", "FLASH_ATTN_MLA", "IPEX", "NO_ATTENTION",
	"FLEX_ATTENTION", "TREE_ATTN", "ROCM_AITER_UNIFIED_ATTN", "CPU_ATTN", "CUSTOM"}

// backendOK says why a backend cannot run this config on a T4, or "" (vllm.md §9.1).
func backendOK(name string, e *Engine) string {
	kv := e.KVDtype
	switch name {
	case "FLASH_ATTN":
		if e.land().GPU.Capability < 80 {
			return "compute capability not supported"
		}
		// FlashAttention 2 on sm8x: fp16/bf16 KV only, paged blocks in multiples of 16 (an L4 in searchq's
		// ensemble; not the T4) [D assumption].
		if e.BlockSize%16 != 0 {
			return "block_size not supported"
		}
		if kv != "auto" && kv != "bfloat16" && kv != "float16" {
			return "kv_cache_dtype not supported"
		}
		if e.Dtype == "float32" {
			return "dtype not supported"
		}
	case "FLASHINFER":
		if e.BlockSize%16 != 0 {
			return "block_size not supported"
		}
		if kv == "fp8_inc" || kv == "fp8_ds_mla" {
			return "kv_cache_dtype not supported"
		}
		if e.Dtype == "float32" {
			return "dtype not supported"
		}
	case "TRITON_ATTN":
		if e.BlockSize%16 != 0 {
			return "block_size not supported"
		}
		if kv == "fp8_inc" || kv == "fp8_ds_mla" {
			return "kv_cache_dtype not supported"
		}
	case "FLEX_ATTENTION":
		if kv != "auto" && kv != "bfloat16" {
			return "kv_cache_dtype not supported"
		}
	default:
		return "not a decoder attention backend for this model"
	}
	return ""
}

func resolveBackend(e *Engine, a *ServeArgs) *Failure {
	chosen := strings.ToUpper(a.str("attention_backend", ""))
	if ac := a.json("attention_config"); ac != nil {
		if b, ok := ac["backend"].(string); ok {
			if chosen != "" {
				return configFail("ValueError: attention_backend and attention_config.backend are mutually exclusive")
			}
			chosen = strings.ToUpper(b)
		}
	}
	if chosen == "AUTO" {
		chosen = ""
	}
	if chosen != "" {
		if !contains(attentionBackends, chosen) {
			// _AttentionBackendEnumMeta.__getitem__ (registry.py at a2b877df6).
			return configFail(fmt.Sprintf("ValueError: Unknown attention backend: '%s'. Valid options are: %s", chosen, strings.Join(attentionBackends, ", ")))
		}
		if why := backendOK(chosen, e); why != "" {
			return EngineFail(PhaseLoad, fmt.Sprintf("ValueError: Selected backend %s is not valid for this configuration. Reason: ['%s']", chosen, why))
		}
		e.Backend = chosen
		return nil
	}
	prio := []string{"FLASH_ATTN", "FLASHINFER", "TRITON_ATTN", "FLEX_ATTENTION"}
	reasons := []string{}
	for _, b := range prio {
		why := backendOK(b, e)
		if why == "" {
			e.Backend = b
			if b != "FLASHINFER" && e.BlockSize%16 != 0 {
				e.Warnings = append(e.Warnings, fmt.Sprintf("--block-size %d precluded higher-priority backend(s) ['FLASHINFER', 'TRITON_ATTN']. Using FLEX_ATTENTION instead, which may result in reduced performance. Consider removing --block-size to auto-select the optimal block size.", e.BlockSize))
			}
			return nil
		}
		reasons = append(reasons, fmt.Sprintf("'%s': ['%s']", b, why))
	}
	return EngineFail(PhaseLoad, fmt.Sprintf("ValueError: No valid attention backend found for cuda with head_size: 64, dtype: torch.%s, kv_cache_dtype: %s, block_size: %d, use_mla: False, has_sink: False, use_sparse: False. Reasons: {%s}.",
		e.Dtype, e.KVDtype, e.BlockSize, strings.Join(reasons, ", ")))
}
