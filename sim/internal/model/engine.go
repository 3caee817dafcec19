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
	Packages      map[string]bool // importable Python packages, by module name (ArcticInference)
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

// ArcticInference is the Python module that suffix decoding imports (pip's arctic-inference), as Env.Packages
// names it.
const ArcticInference = "arctic_inference"

// Modelled says what the simulator models, for the messages that refuse another model.
const Modelled = "Qwen/Qwen2.5-0.5B and its checkpoints on a Tesla T4"

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
	return fmt.Errorf("autotune sim: the simulator models only %s; %q is not modelled (its numbers would be Qwen2.5-0.5B's under another name)", Modelled, model)
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
