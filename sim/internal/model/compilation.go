package model

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Config resolution of -O / --compilation-config (ResolveEngine, engine.go): compilation mode, CUDA-graph mode
// and capture sizes, with vLLM 0.15.1's checks and messages.

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
