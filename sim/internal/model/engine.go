package model

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// This file turns parsed `vllm serve` arguments into the resolved engine configuration, applying vLLM 0.15.1's
// defaults on a T4 (t4-calibration.md §11, vllm.md §5-§7) and refusing what vLLM refuses, with its messages
// (vllm.md §10.1).

// Model facts (t4-calibration.md §1.1) [M].
const (
	modelMaxLen    = 32768 // max_position_embeddings
	vocabSize      = 151936
	kvBytesFP16    = 12288 // per token, §1.4 [D+M]
	t4Capability   = 75
	VLLMVersion    = "0.15.1"          // the simulated vLLM, as `vllm --version` prints it
	defaultModel   = "Qwen/Qwen3-0.6B" // vLLM's default model_tag when none is given
	serverMNBT     = 2048              // get_batch_defaults, OpenAI server on a < 70 GiB GPU (vllm.md §5)
	serverMaxSeqs  = 256
	defaultMaxCGSz = 512
)

// SpecConfig is a resolved --speculative-config.
type SpecConfig struct {
	Method    string // "ngram" or "suffix"
	K         int    // num_speculative_tokens
	LookupMin int    // ngram prompt_lookup_min
	LookupMax int    // ngram prompt_lookup_max
	MaxDepth  int    // suffix_decoding_max_tree_depth
	SpecFact  float64
	MinProb   float64
}

// Engine is the resolved configuration of one simulated server.
type Engine struct {
	Model, ServedName string
	Host              string
	Port              int
	Dtype             string // "float16" or "float32"
	Weights           string // fp16, fp32, fp8 (Marlin W8A16), int8 (W8A8), int4-awq, int4-marlin, int4-gptq, bnb4
	Quant             string // the quantization method in force, "" for none
	LoadFormat        string
	MaxModelLen       int
	AutoMaxLen        bool // --max-model-len auto/-1: fit to memory
	Util              float64
	KVCacheBytes      int64
	CPUOffloadGB      float64
	MaxNumSeqs        int
	MNBT              int
	Chunked           bool
	PrefixCaching     bool
	Async             bool
	StreamInterval    int
	BlockSize         int
	KVDtype           string
	Backend           string // FLASHINFER, TRITON_ATTN, FLEX_ATTENTION
	OptLevel          int
	CompileMode       int    // 0 NONE .. 3 VLLM_COMPILE
	CGMode            string // NONE, PIECEWISE, FULL, FULL_DECODE_ONLY, FULL_AND_PIECEWISE
	CaptureSizes      []int  // PIECEWISE/FULL sizes, ascending
	FullDecodeMax     int    // largest uniform-decode batch (tokens) that a FULL graph covers; 0 if none
	Spec              *SpecConfig
	Temperature       float64 // server default sampling temperature (1.0 unless overridden)
	DisableLogStats   bool
	TP                int
	Seed              int64
	// Land is the landscape the engine runs on (PredictOn); nil means DefaultLandscape.
	Land *Landscape

	Warnings   []string // WARNING log lines produced while resolving
	Infos      []string // INFO log lines (config phase)
	NonDefault string   // the "non-default args" dict
	// LateFail is an engine-side refusal decided by the config that surfaces only once the engine core runs
	// (bf16 at device init, a backend or quantization config at load, fp8e4nv at compile).
	LateFail *Failure
}

// Eager reports whether no CUDA graphs are used at all.
func (e *Engine) Eager() bool { return e.CGMode == "NONE" }

// NumGraphs returns the PIECEWISE and FULL graph counts captured at startup.
func (e *Engine) NumGraphs() (piecewise, full int) {
	switch e.CGMode {
	case "PIECEWISE":
		return len(e.CaptureSizes), 0
	case "FULL_AND_PIECEWISE":
		for _, s := range e.CaptureSizes {
			if s <= e.FullDecodeMax {
				full++
			}
		}
		return len(e.CaptureSizes), full
	case "FULL_DECODE_ONLY":
		for _, s := range e.CaptureSizes {
			if s <= e.FullDecodeMax {
				full++
			}
		}
		return 0, full
	case "FULL":
		return 0, len(e.CaptureSizes)
	}
	return 0, 0
}

// MaxCaptureSize is the largest captured size, 0 without graphs.
func (e *Engine) MaxCaptureSize() int {
	if e.Eager() || len(e.CaptureSizes) == 0 {
		return 0
	}
	return e.CaptureSizes[len(e.CaptureSizes)-1]
}

// CompileKey hashes what vLLM's compile-cache key hashes (vllm.md §12): version, model config (dtype,
// max_model_len), cache config (block size, KV dtype), max_num_batched_tokens, compilation config including
// the capture sizes, the speculative config and quantization; not the utilization, prefix caching or seed.
func (e *Engine) CompileKey() string {
	spec := "none"
	if e.Spec != nil {
		spec = fmt.Sprintf("%s/%d/%d/%d/%d", e.Spec.Method, e.Spec.K, e.Spec.LookupMin, e.Spec.LookupMax, e.Spec.MaxDepth)
	}
	s := fmt.Sprintf("%s|%s|%s|%d|%d|%s|%d|%d|%s|%v|%s|%s|%s", VLLMVersion, e.Model, e.Dtype, e.MaxModelLen, e.BlockSize,
		e.KVDtype, e.MNBT, e.CompileMode, e.CGMode, e.CaptureSizes, spec, e.Quant, e.Backend)
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:10]
}

// Env is what the resolution needs to know about the simulated machine.
type Env struct {
	Packages      map[string]bool // importable Python packages (arctic_inference)
	AllowLongLen  bool            // VLLM_ALLOW_LONG_MAX_MODEL_LEN=1
	DisableCCache bool            // VLLM_DISABLE_COMPILE_CACHE=1
	Land          *Landscape      // nil: DefaultLandscape (the calibrated T4)
}

// quantMinCap is the minimum compute capability per method (vllm.md §3.1).
var quantMinCap = map[string]int{
	"awq": 75, "awq_marlin": 75, "gptq": 60, "auto_gptq": 60, "gptq_marlin": 60, "fp8": 75, "deepseek_v4_fp8": 75,
	"fbgemm_fp8": 80, "fp_quant": 100, "modelopt": 89, "modelopt_fp4": 75, "modelopt_mxfp8": 80, "modelopt_mixed": 89,
	"gguf": 60, "humming": 75, "compressed-tensors": 70, "bitsandbytes": 70, "experts_int8": 80, "quark": 70,
	"moe_wna16": 70, "torchao": 75, "inc": 60, "auto-round": 60, "mxfp4": 80, "gpt_oss_mxfp4": 80, "cpu_awq": -1,
	"online": 75, "fp8_per_tensor": 75, "fp8_per_block": 75, "mxfp8": 75, "int8_per_channel_weight_only": 75,
}

// quantNoConfigFile lists methods whose get_config_filenames() is empty, so they apply to an unquantized
// checkpoint "online" (vllm.md §3.2).
var quantNoConfigFile = map[string]bool{"fp8": true, "bitsandbytes": true, "experts_int8": true, "gguf": true,
	"online": true, "fp8_per_tensor": true, "fp8_per_block": true, "mxfp8": true, "int8_per_channel_weight_only": true}

var quantDeprecated = map[string]bool{"fbgemm_fp8": true, "fp_quant": true, "tpu_int8": true}

func quantMethods() []string {
	out := make([]string, 0, len(quantMinCap))
	for m := range quantMinCap {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// ModelMaxLen is the max_model_len vLLM derives for the one model the simulator models (Qwen2.5-0.5B's
// max_position_embeddings in its config.json).
const ModelMaxLen = modelMaxLen

// CheckModel returns nil when the simulator models model: Qwen/Qwen2.5-0.5B and its checkpoints (-Instruct and
// the quantized ones of t4-calibration.md §7.3), by Hugging Face id or by a local folder of that name. Any
// other model is refused: its numbers would be Qwen2.5-0.5B's under another name.
func CheckModel(model string) error {
	base := strings.ToLower(model)
	if i := strings.LastIndex(base, "/"); i >= 0 {
		base = base[i+1:]
	}
	if strings.HasPrefix(base, "qwen2.5-0.5b") {
		return nil
	}
	return fmt.Errorf("autotune sim: the simulator models only Qwen/Qwen2.5-0.5B and its checkpoints on a Tesla T4; %q is not modelled (its numbers would be Qwen2.5-0.5B's under another name)", model)
}

// checkpointQuant guesses the quantization of a checkpoint from its name (the known Qwen2.5-0.5B checkpoints
// of t4-calibration.md §7.3).
func checkpointQuant(model string) string {
	m := strings.ToLower(model)
	switch {
	case strings.Contains(m, "awq"):
		return "awq"
	case strings.Contains(m, "gptq"), strings.Contains(m, "int4-sym-inc"):
		return "gptq"
	case strings.Contains(m, "w8a8"), strings.Contains(m, "w8a16"):
		return "compressed-tensors"
	case strings.Contains(m, "bnb-4bit"):
		return "bitsandbytes"
	case strings.Contains(m, "gguf"):
		return "gguf"
	}
	return ""
}

func compatibleQuant(ckpt, user string) bool {
	if ckpt == user {
		return true
	}
	switch ckpt {
	case "awq":
		return user == "awq_marlin"
	case "gptq":
		return user == "gptq_marlin" || user == "auto_gptq"
	}
	return false
}

// ResolveEngine applies defaults and vLLM's validation to parsed arguments. A non-nil *Failure is what vLLM
// would refuse, with its message; warnings and info lines go to the Engine.
func ResolveEngine(a *ServeArgs, env Env) (*Engine, *Failure) {
	e := &Engine{Host: a.str("host", ""), Port: int(a.int("port", 8000)), Seed: a.int("seed", 0), Temperature: 1.0, Land: env.Land}
	e.NonDefault = nonDefaultArgs(a)

	// Model and served name (vllm/utils/argparse_utils.py at a2b877df6, 2026-01-27). 0.15 only warns about
	// --model, with this text; it has no check on --served-model-name without a model (added in March 2026):
	// the default model is served under that name.
	e.Model = a.Model
	if e.Model == "" && a.Has("model") {
		e.Model = a.str("model", "")
		e.Warnings = append(e.Warnings, "With `vllm serve`, you should provide the model as a positional argument or in a config file instead of via the `--model` option. The `--model` option will be removed in v0.13.")
	}
	if e.Model == "" {
		e.Model = defaultModel
	}
	if err := CheckModel(e.Model); err != nil {
		return nil, &Failure{Phase: PhaseParse, ExitCode: 1, Message: err.Error()}
	}
	e.ServedName = e.Model
	if names, ok := a.Values["served_model_name"].([]string); ok && len(names) > 0 {
		e.ServedName = names[0]
	}

	// ModelConfig.
	switch dt := a.str("dtype", "auto"); dt {
	case "auto", "half", "float16":
		e.Dtype = "float16"
		if dt == "auto" && env.Land != nil && env.Land.GPU.Capability >= 80 {
			e.Dtype = "bfloat16" // the checkpoint's own dtype, where the GPU has it
			break
		}
		if dt == "auto" {
			e.Warnings = append(e.Warnings,
				"Your device 'Tesla T4' (with compute capability 7.5) doesn't support torch.bfloat16. Falling back to torch.float16 for compatibility.")
		}
		e.Infos = append(e.Infos, "Casting torch.bfloat16 to torch.float16.")
	case "float", "float32":
		e.Dtype = "float32"
		e.Infos = append(e.Infos, "Upcasting torch.bfloat16 to torch.float32.")
	case "bfloat16":
		e.Dtype = "bfloat16" // refused at device init below
	}
	e.MaxModelLen = modelMaxLen
	if a.Has("max_model_len") {
		n := a.int("max_model_len", modelMaxLen)
		switch {
		case n == -1:
			e.AutoMaxLen = true
		case n < 1:
			return nil, pydanticField("ModelConfig", "max_model_len", "Input should be greater than or equal to 1",
				"greater_than_equal", strconv.FormatInt(n, 10), "int")
		case n > modelMaxLen && !env.AllowLongLen:
			return nil, configFail(fmt.Sprintf("ValueError: User-specified max_model_len (%d) is greater than the derived max_model_len (max_position_embeddings=%d or model_max_length=None in model's config.json). To allow overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1. VLLM_ALLOW_LONG_MAX_MODEL_LEN must be used with extreme caution. If the model uses relative position encoding (RoPE), positions exceeding derived_max_model_len lead to nan. If the model uses absolute position encoding, positions exceeding derived_max_model_len will cause a CUDA array out-of-bounds error.", n, modelMaxLen))
		default:
			e.MaxModelLen = int(n)
		}
	}
	e.TP = int(a.int("tensor_parallel_size", 1))
	e.DisableLogStats = a.Bool("disable_log_stats") != nil && *a.Bool("disable_log_stats")
	if ogc := a.json("override_generation_config"); ogc != nil {
		if t, ok := numberOf(ogc["temperature"]); ok {
			e.Temperature = t
		}
	}

	// Quantization (vllm.md §3).
	if f := resolveQuant(e, a); f != nil {
		return nil, f
	}
	e.LoadFormat = a.str("load_format", "auto")
	e.CPUOffloadGB = a.float("cpu_offload_gb", 0)

	// CacheConfig.
	e.Util = a.float("gpu_memory_utilization", 0.9)
	if e.Util <= 0 {
		return nil, pydanticField("CacheConfig", "gpu_memory_utilization", "Input should be greater than 0",
			"greater_than", pyRepr(e.Util), "float")
	}
	if e.Util > 1 {
		return nil, pydanticField("CacheConfig", "gpu_memory_utilization", "Input should be less than or equal to 1",
			"less_than_equal", pyRepr(e.Util), "float")
	}
	e.KVCacheBytes = a.int("kv_cache_memory_bytes", 0)
	e.BlockSize = int(a.int("block_size", 16))
	e.KVDtype = a.str("kv_cache_dtype", "auto")
	e.PrefixCaching = true
	if b := a.Bool("enable_prefix_caching"); b != nil {
		e.PrefixCaching = *b
	}

	// Speculative decoding (vllm.md §7) — before the scheduler, which it affects.
	if f := resolveSpec(e, a, env); f != nil {
		return nil, f
	}

	// SchedulerConfig (vllm.md §5, §10.1).
	if f := resolveScheduler(e, a); f != nil {
		return nil, f
	}

	// Attention backend (vllm.md §9).
	if f := resolveBackend(e, a); f != nil {
		if !f.Engine {
			return nil, f
		}
		e.SetLate(f)
		e.Backend = "FLASHINFER" // for the log lines before the failure
	}

	// Compilation and CUDA graphs (vllm.md §6).
	if f := resolveCompilation(e, a); f != nil {
		return nil, f
	}

	// Late, engine-side refusals that depend on the resolved config.
	switch {
	case e.TP > 1:
		e.SetLate(EngineFail(PhaseDevice, fmt.Sprintf("ValueError: tensor_parallel_size=%d needs %d GPUs, but the simulated machine has 1 Tesla T4.", e.TP, e.TP)))
	case e.Dtype == "bfloat16" && e.land().GPU.Capability < 80:
		e.SetLate(EngineFail(PhaseDevice, "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your Tesla T4 GPU has compute capability 7.5. You can use float16 instead by explicitly setting the `dtype` flag in CLI, for example: --dtype=half."))
	}
	if (e.KVDtype == "fp8" || e.KVDtype == "fp8_e4m3") && e.land().GPU.Capability < 89 {
		e.SetLate(EngineFail(PhaseCompile, "triton.compiler.errors.CompilationError: at 1:0: fp8e4nv data type is not supported on CUDA arch < 89"))
	}
	return e, nil
}

// SetLate records an engine-side failure, keeping the one that surfaces first.
func (e *Engine) SetLate(f *Failure) {
	if e.LateFail == nil || f.Phase < e.LateFail.Phase {
		e.LateFail = f
	}
}

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
		if !env.Packages["arctic_inference"] {
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

var compileKeys = map[string]bool{"mode": true, "level": true, "cudagraph_mode": true, "cudagraph_capture_sizes": true,
	"max_cudagraph_capture_size": true, "compile_sizes": true, "cache_dir": true, "backend": true, "custom_ops": true,
	"splitting_ops": true, "pass_config": true, "use_inductor_graph_partition": true, "cudagraph_num_of_warmups": true,
	"inductor_compile_config": true, "compile_cache_save_format": true}

var cgModes = []string{"NONE", "PIECEWISE", "FULL", "FULL_DECODE_ONLY", "FULL_AND_PIECEWISE"}
var compileModeNames = []string{"NONE", "STOCK_TORCH_COMPILE", "DYNAMO_TRACE_ONCE", "VLLM_COMPILE"}

func resolveCompilation(e *Engine, a *ServeArgs) *Failure {
	cc := a.json("compilation_config")
	for _, k := range sortedKeysAny(cc) {
		if !compileKeys[k] {
			return pydanticField("CompilationConfig", k, "Extra inputs are not permitted", "extra_forbidden", pyRepr(cc[k]), pyType(cc[k]))
		}
	}
	// Parsed as a string (see serveFlags); VllmConfig's pydantic validation refuses what is not an
	// OptimizationLevel (0-3).
	lvl := a.str("optimization_level", "2")
	n, err := strconv.Atoi(lvl)
	if err != nil || n < 0 || n > 3 {
		return pydanticField("VllmConfig", "optimization_level", "Input should be 0, 1, 2 or 3", "enum", pyRepr(lvl), "str")
	}
	e.OptLevel = n
	eager := a.Bool("enforce_eager") != nil && *a.Bool("enforce_eager")
	if eager {
		e.OptLevel = 0
		e.Warnings = append(e.Warnings, "Enforce eager set, disabling torch.compile and CUDAGraphs. This is equivalent to setting -cc.mode=none -cc.cudagraph_mode=none")
	}
	switch e.OptLevel {
	case 0:
		e.CompileMode, e.CGMode = 0, "NONE"
	case 1:
		e.CompileMode, e.CGMode = 3, "PIECEWISE"
	default:
		e.CompileMode, e.CGMode = 3, "FULL_AND_PIECEWISE"
	}
	if !eager {
		modeVal, hasMode := cc["mode"]
		if lv, ok := cc["level"]; ok && !hasMode {
			modeVal, hasMode = lv, true
			e.Warnings = append(e.Warnings, "Level is deprecated and will be removed in the next release, either 0.12.0 or 0.11.2 whichever is soonest. Use mode instead.")
		}
		if hasMode {
			m, ok := compileModeOf(modeVal)
			if !ok {
				return pydanticField("CompilationConfig", "mode", "Input should be 0, 1, 2 or 3", "enum", pyRepr(modeVal), pyType(modeVal))
			}
			e.CompileMode = m
		}
		if v, ok := cc["cudagraph_mode"]; ok {
			s, _ := v.(string)
			s = strings.ToUpper(s)
			if !contains(cgModes, s) {
				return pydanticField("CompilationConfig", "cudagraph_mode", "Input should be "+strings.Join(quoteList(cgModes), ", "), "enum", pyRepr(v), pyType(v))
			}
			e.CGMode = s
		}
	}
	if e.CompileMode != 3 && strings.Contains(e.CGMode, "PIECEWISE") {
		if e.CGMode == "PIECEWISE" {
			e.Warnings = append(e.Warnings, "Piecewise CUDA graphs need compilation mode VLLM_COMPILE; setting cudagraph_mode=NONE")
			e.CGMode = "NONE"
		} else {
			e.Warnings = append(e.Warnings, "Piecewise CUDA graphs need compilation mode VLLM_COMPILE; setting cudagraph_mode=FULL_DECODE_ONLY")
			e.CGMode = "FULL_DECODE_ONLY"
		}
	}
	// FlashInfer on a T4 supports FULL graphs for uniform single-token decode only (§6.2).
	if e.CGMode == "FULL" && e.Backend == "FLASHINFER" {
		e.Warnings = append(e.Warnings, "CUDAGraphMode.FULL is not supported with FlashInferBackend backend (support: AttentionCGSupport.UNIFORM_SINGLE_TOKEN_DECODE); setting cudagraph_mode=FULL_AND_PIECEWISE")
		e.CGMode = "FULL_AND_PIECEWISE"
	}
	k := 0
	if e.Spec != nil {
		k = e.Spec.K
		if strings.HasPrefix(e.CGMode, "FULL") {
			e.Warnings = append(e.Warnings, fmt.Sprintf("CUDAGraphMode.%s is not supported with speculative decoding (multi-token decode) on %s backend; setting cudagraph_mode=PIECEWISE", e.CGMode, e.Backend))
			if e.CompileMode == 3 {
				e.CGMode = "PIECEWISE"
			} else {
				e.CGMode = "NONE"
			}
		}
	}

	// Capture sizes (vllm.py:1584-1696).
	var user []int64
	if l, ok := a.Values["cudagraph_capture_sizes"].([]int64); ok {
		user = l
	}
	if v, ok := cc["cudagraph_capture_sizes"]; ok {
		if user != nil {
			return configFail("ValueError: cudagraph_capture_sizes and compilation_config.cudagraph_capture_sizes are mutually exclusive")
		}
		l, ok := v.([]any)
		if !ok {
			return pydanticField("CompilationConfig", "cudagraph_capture_sizes", "Input should be a valid list", "list_type", pyRepr(v), pyType(v))
		}
		for _, x := range l {
			n, ok := intOf(x)
			if !ok {
				return pydanticField("CompilationConfig", "cudagraph_capture_sizes.0", "Input should be a valid integer", "int_type", pyRepr(x), pyType(x))
			}
			user = append(user, int64(n))
		}
	}
	maxSize := -1
	if a.Has("max_cudagraph_capture_size") {
		maxSize = int(a.int("max_cudagraph_capture_size", 0))
	}
	if v, ok := cc["max_cudagraph_capture_size"]; ok {
		if maxSize >= 0 {
			return configFail("ValueError: max_cudagraph_capture_size and compilation_config.max_cudagraph_capture_size are mutually exclusive")
		}
		n, _ := intOf(v)
		maxSize = n
	}
	var sizes []int
	if user != nil {
		seen := map[int]bool{}
		for _, s := range user {
			if s < 1 {
				return configFail(fmt.Sprintf("ValueError: cudagraph capture sizes must be positive, got %d", s))
			}
			if int(s) > e.MNBT {
				continue // capped at max_num_batched_tokens
			}
			if !seen[int(s)] {
				seen[int(s)] = true
				sizes = append(sizes, int(s))
			}
		}
		sort.Ints(sizes)
		if maxSize >= 0 && len(sizes) > 0 && sizes[len(sizes)-1] != maxSize {
			return configFail(fmt.Sprintf("ValueError: customized max_cudagraph_capture_size(=%d) should be consistent with the max value of cudagraph_capture_sizes(=%d)", maxSize, sizes[len(sizes)-1]))
		}
	} else {
		if maxSize < 0 {
			maxSize = e.MaxNumSeqs * (1 + k) * 2
			if maxSize > defaultMaxCGSz {
				maxSize = defaultMaxCGSz
			}
		}
		if maxSize > e.MNBT {
			maxSize = e.MNBT
		}
		sizes = defaultCaptureSizes(maxSize)
		if e.MNBT <= maxSize && !containsInt(sizes, e.MNBT) {
			sizes = append(sizes, e.MNBT)
			sort.Ints(sizes)
		}
	}
	if e.CGMode == "NONE" {
		sizes = nil
	}
	e.CaptureSizes = sizes
	if strings.HasPrefix(e.CGMode, "FULL") {
		e.FullDecodeMax = e.MaxNumSeqs * (1 + k)
		if e.CGMode == "FULL" {
			e.FullDecodeMax = e.MaxCaptureSize()
		}
	}
	return nil
}

// defaultCaptureSizes is 1, 2, 4, every 8 up to 248, every 16 from 256, up to max (vllm.md §6.3).
func defaultCaptureSizes(max int) []int {
	var out []int
	for _, s := range []int{1, 2, 4} {
		if s <= max {
			out = append(out, s)
		}
	}
	for s := 8; s < 256 && s <= max; s += 8 {
		out = append(out, s)
	}
	for s := 256; s <= max; s += 16 {
		out = append(out, s)
	}
	return out
}

func compileModeOf(v any) (int, bool) {
	if n, ok := intOf(v); ok && n >= 0 && n <= 3 {
		return n, true
	}
	if s, ok := v.(string); ok {
		for i, name := range compileModeNames {
			if strings.EqualFold(s, name) {
				return i, true
			}
		}
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 3 {
			return n, true
		}
	}
	return 0, false
}

func containsInt(list []int, x int) bool {
	for _, v := range list {
		if v == x {
			return true
		}
	}
	return false
}

func intOf(v any) (int, bool) {
	switch t := v.(type) {
	case int64:
		return int(t), true
	case float64:
		if t == float64(int(t)) {
			return int(t), true
		}
	case string:
		if n, err := strconv.Atoi(t); err == nil {
			return n, true
		}
	}
	return 0, false
}

func numberOf(v any) (float64, bool) {
	switch t := v.(type) {
	case int64:
		return float64(t), true
	case float64:
		return t, true
	case string:
		if f, err := strconv.ParseFloat(t, 64); err == nil {
			return f, true
		}
	}
	return 0, false
}

func pyType(v any) string {
	switch v.(type) {
	case string:
		return "str"
	case int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return "NoneType"
}

func quoteList(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = "'" + s + "'"
	}
	return out
}

func toAny(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

func sortedKeysAny(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// nonDefaultArgs renders the API server's "non-default args" dict (vllm/entrypoints/utils.py:213).
func nonDefaultArgs(a *ServeArgs) string {
	parts := []string{}
	if a.Model != "" {
		parts = append(parts, "'model_tag': '"+a.Model+"'")
	}
	for _, d := range a.Order {
		parts = append(parts, "'"+d+"': "+pyRepr(a.Values[d]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
