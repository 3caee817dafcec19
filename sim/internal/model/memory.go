package model

import (
	"fmt"
	"math"
)

// Memory model of vLLM 0.15.1 on a T4 (t4-calibration.md §9). Sizes are GiB unless the name says otherwise.
const (
	// deviceTotalGiB is the total torch.cuda.mem_get_info reports on a T4 [M §9.1, Kaggle log "14.46/14.56 GiB"].
	deviceTotalGiB = 14.56
	// DeviceTotalMiB is what nvidia-smi reports as memory.total [M §2.1, §9.1].
	DeviceTotalMiB = 15360
	// ctxInitGiB is the process's own CUDA context at vLLM's free-memory check [M §9.1: 0.10 GiB in use].
	ctxInitGiB = 0.10
	// actBaseGiB + actPerMNBTByte*mnbt + max_num_seqs*vocab*4 B*actLogitCopies is the peak activation plus
	// non-torch memory of the profiling run: the workable model of §9.5 [D], with the base chosen so that the
	// defaults (mnbt 2048, 256 seqs) give the 1.41 GiB found by subtraction in §9.4 [M/D].
	actBaseGiB     = 0.937
	actPerMNBTByte = 20 * 1024
	actLogitCopies = 3
	// graphBaseGiB + graphPerMaxGiB*max_capture_size/512 is the CUDA-graph memory, captured after the KV cache
	// is allocated and so outside the budget in 0.15.1 [§9.3]. Fit to 0.69 GiB for the default 51+35 graphs up to
	// 512 [M §6.1] and ≈0.04 GiB for graphs up to 32 [M §9.4, 7B on vLLM 0.30] [D].
	graphBaseGiB   = 0.02
	graphPerMaxGiB = 0.67
)

const gib = 1 << 30

// weightsGiB is the GPU memory the weights take after loading (t4-calibration.md §1.3).
func weightsGiB(kind string) float64 {
	switch kind {
	case "fp16":
		return 0.93 // "Model loading took 0.93 GiB" [M]
	case "fp32":
		return 1.86 // twice fp16 [D]
	case "fp8", "int8", "int8-gptq":
		return 0.63e9 / gib // lm_head kept fp16 [D; 632 MB w8a16 file M]
	default: // int4 variants, bnb4
		return 0.46e9 / gib // [D; 0.468 GB measured for AWQ M]
	}
}

// kvBytesPerToken is the KV cache per token (§1.4): 12,288 B in fp16, half in fp8.
func kvBytesPerToken(e *Engine) int64 {
	switch e.KVDtype {
	case "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_inc":
		return kvBytesFP16 / 2
	}
	if e.Dtype == "float32" && e.KVDtype == "auto" {
		return kvBytesFP16 * 2
	}
	return kvBytesFP16
}

// MemPlan is the memory layout of a started server.
type MemPlan struct {
	BudgetGiB   float64 // gpu_memory_utilization × total
	WeightsGiB  float64
	ActGiB      float64 // peak activation + non-torch
	KVGiB       float64
	KVTokens    int64
	KVBlocks    int64
	GraphGiB    float64 // outside the budget
	MaxModelLen int     // after --max-model-len auto
	HeldGiB     float64 // what the process holds once serving
}

// ActivationGiB is the profiled peak activation + non-torch memory.
func ActivationGiB(e *Engine) float64 {
	return e.land().ActBaseGiB + float64(e.MNBT)*actPerMNBTByte/gib + float64(e.MaxNumSeqs)*vocabSize*4*actLogitCopies/gib
}

// GraphGiB is the memory the CUDA graphs take.
func GraphGiB(e *Engine) float64 {
	m := e.MaxCaptureSize()
	if m == 0 {
		return 0
	}
	return graphBaseGiB + e.land().GraphPerMaxGiB*float64(m)/512
}

// PlanMemory sizes the KV cache like determine_available_memory, given the memory other processes hold, and
// returns the failure vLLM would raise (vllm.md §10.1, t4-calibration.md §9.2-§9.6).
func PlanMemory(e *Engine, othersGiB float64) (MemPlan, *Failure) {
	p := MemPlan{MaxModelLen: e.MaxModelLen}
	total := e.land().GPU.TotalGiB
	free := total - othersGiB - ctxInitGiB
	p.BudgetGiB = e.Util * total
	p.WeightsGiB = weightsGiB(e.Weights)
	if e.CPUOffloadGB > 0 {
		p.WeightsGiB = math.Max(0.05, p.WeightsGiB-e.CPUOffloadGB*1e9/gib)
	}
	p.ActGiB = ActivationGiB(e)
	p.GraphGiB = GraphGiB(e)
	if e.KVCacheBytes == 0 && free < p.BudgetGiB {
		return p, EngineFail(PhaseDevice, fmt.Sprintf("ValueError: Free memory on device cuda:0 (%.2f/%.2f GiB) on startup is less than desired GPU memory utilization (%.2f, %.2f GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.",
			math.Max(free, 0), total, e.Util, p.BudgetGiB))
	}
	if p.WeightsGiB > free {
		return p, EngineFail(PhaseLoad, TorchOOM(p.WeightsGiB, free, othersGiB))
	}
	if e.KVCacheBytes > 0 {
		p.KVGiB = float64(e.KVCacheBytes) / gib
		if need := p.WeightsGiB + p.ActGiB + p.KVGiB; need > free {
			return p, EngineFail(PhaseProfile, TorchOOM(p.KVGiB, free-p.WeightsGiB-p.ActGiB, othersGiB))
		}
		p.BudgetGiB = p.WeightsGiB + p.ActGiB + p.KVGiB
	} else {
		p.KVGiB = p.BudgetGiB - p.WeightsGiB - p.ActGiB
	}
	if p.KVGiB <= 0 {
		return p, EngineFail(PhaseProfile, "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine. See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details.")
	}
	bpt := kvBytesPerToken(e)
	p.KVBlocks = int64(p.KVGiB*gib) / (int64(e.BlockSize) * bpt)
	p.KVTokens = p.KVBlocks * int64(e.BlockSize)
	if e.AutoMaxLen {
		if p.KVTokens < 1 {
			return p, EngineFail(PhaseProfile, "ValueError: Cannot auto-fit max_model_len: not enough GPU memory available to serve even a single token.")
		}
		p.MaxModelLen = int(min(int64(modelMaxLen), p.KVTokens))
	}
	// The message is 0.15.1's, typo included ("models's": vllm/v1/core/kv_cache_utils.py from 2025-01-17 through
	// 0.16), so that the runner's classifier is tested against what real 0.15.1 prints.
	// vLLM checks whole blocks (cdiv(max_model_len, block_size) pages), so that one max-length request always
	// fits in the cache; the scheduler relies on it.
	maxLenBlocks := (int64(p.MaxModelLen) + int64(e.BlockSize) - 1) / int64(e.BlockSize)
	if need := maxLenBlocks * int64(e.BlockSize) * bpt; int64(p.KVGiB*gib) < need {
		return p, EngineFail(PhaseProfile, fmt.Sprintf("ValueError: To serve at least one request with the models's max seq len (%d), (%.2f GiB KV cache is needed, which is larger than the available KV cache memory (%.2f GiB). Based on the available memory, the estimated maximum model length is %d. Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine. See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details.",
			p.MaxModelLen, float64(need)/gib, p.KVGiB, p.KVTokens))
	}
	if p.BudgetGiB+p.GraphGiB > total-othersGiB {
		return p, EngineFail(PhaseCapture, TorchOOM(p.GraphGiB, total-othersGiB-p.BudgetGiB, othersGiB))
	}
	p.HeldGiB = p.BudgetGiB + p.GraphGiB
	return p, nil
}

// TorchOOM is PyTorch's CUDA OOM message (vllm.md §10.1: match "out of memory").
func TorchOOM(wantGiB, freeGiB, othersGiB float64) string {
	if freeGiB < 0 {
		freeGiB = 0
	}
	return fmt.Sprintf("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate %.2f MiB. GPU 0 has a total capacity of %.2f GiB of which %.2f MiB is free. Process has %.2f GiB memory in use by other processes. If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.",
		wantGiB*1024, deviceTotalGiB, freeGiB*1024, othersGiB)
}

// withCommas formats 940384 as 940,384, as vLLM's KV log lines do.
func withCommas(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + withCommas(-n)
	}
	out := ""
	for len(s) > 3 {
		out = "," + s[len(s)-3:] + out
		s = s[:len(s)-3]
	}
	return s + out
}
