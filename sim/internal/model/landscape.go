package model

// Landscape is the part of the simulator's model that the published data cannot pin down (the constants marked
// "[D assumption]" in cost.go, des.go, memory.go and predict.go), plus the GPU. DefaultLandscape is the
// calibrated T4 model that `autotune sim`, Predict and every calibration test use; searchq's ensemble draws
// other plausible landscapes from documented ranges (searchq.Ranges) to measure a search that must not depend
// on this simulator being right. Times are milliseconds unless the name says otherwise.
type Landscape struct {
	GPU GPU

	// Per-request step work, split as cost.go explains: Sched + SampleRand + Chunk per scheduled request (and
	// per streamed chunk), Row per computed graph row, padded rows included.
	Sched, SampleRand, SampleGreedy, Chunk, Row float64
	// Prefill: MixedStep per step carrying prompt tokens, PrefillTok per prompt token.
	MixedStep, PrefillTok float64
	// Graph modes: Piecewise per step on a PIECEWISE graph, NoGraph per step above the largest captured size.
	Piecewise, NoGraph          float64
	PrefixHash                  float64 // per prompt token hashed for prefix caching
	NoAsyncFixed, NoAsyncSeq    float64 // exposed scheduling without async scheduling: per step, per request
	NgramPropose, SuffixPropose float64 // proposer CPU time per request per step
	VerifyKV                    float64 // extra fraction of a request's KV read per draft token verified
	// Backends maps an attention backend to its cost relative to FlashInfer (KV read, prefill attention) and a
	// fixed per-step cost. A backend missing here costs as FlashInfer.
	Backends map[string]BackendCost
	// FP8 is the weight-only fp8 (Marlin W8A16) kernel: parity batch rows, prefill factor, fixed cost per step.
	FP8ParityRows, FP8PrefillFactor, FP8Fixed float64
	KVFP8Factor                               float64         // KV-read factor of an fp8 KV cache (half the bytes, plus dequantization)
	BlockKV                                   map[int]float64 // KV-read factor per --block-size; missing means 1
	NgramAcceptance, SuffixAcceptance         float64         // per draft token, when the workload does not say
	NoiseSigma                                float64         // run-to-run step-time factor, standard deviation
	ActBaseGiB, GraphPerMaxGiB                float64         // memory.go's activation base and graph memory per 512 sizes
}

// BackendCost is an attention backend's cost relative to FlashInfer.
type BackendCost struct{ KV, PrefillAttn, Fixed float64 }

// GPU is the simulated device. Capability is the compute capability times ten (75 for sm75). The factors scale
// the T4-fitted costs: WeightRead and KV by the ratio of memory bandwidths, Prefill by the ratio of fp16 tensor
// throughput.
type GPU struct {
	Name                    string
	Capability              int
	TotalGiB                float64 // what torch.cuda.mem_get_info reports as total
	MemoryMiB               int     // what nvidia-smi reports as memory.total
	WeightRead, KV, Prefill float64
}

// T4 is the calibrated Tesla T4 (t4-calibration.md §1, §9.1).
func T4() GPU {
	return GPU{Name: "Tesla T4", Capability: t4Capability, TotalGiB: deviceTotalGiB, MemoryMiB: DeviceTotalMiB,
		WeightRead: 1, KV: 1, Prefill: 1}
}

// L4 is an NVIDIA L4 (sm89, 24 GB GDDR6) as its public specification sheet describes it, relative to the T4:
// 300 GB/s against 320 GB/s of memory bandwidth (so weight and KV reads take 320/300 as long) and 121 against
// 65 dense fp16 tensor TFLOPS (prefill 65/121). It is NOT calibrated against any measurement [D assumption]: it
// exists so that the search is also judged on a second GPU, where bf16, FLASH_ATTN and fp8 KV caches are allowed.
func L4() GPU {
	return GPU{Name: "NVIDIA L4", Capability: 89, TotalGiB: 22.03, MemoryMiB: 23034,
		WeightRead: 320.0 / 300, KV: 320.0 / 300, Prefill: 65.0 / 121}
}

// DefaultLandscape is the calibrated model: the constants of cost.go, des.go, memory.go and predict.go.
func DefaultLandscape() Landscape {
	return Landscape{
		GPU:   T4(),
		Sched: costSched, SampleRand: costSampleRand, SampleGreedy: costSampleGrdy, Chunk: costChunk, Row: costRow,
		MixedStep: costMixedStep, PrefillTok: costPrefillTok,
		Piecewise: costPiecewise, NoGraph: costNoGraph, PrefixHash: costPrefixHash,
		NoAsyncFixed: costNoAsyncFixed, NoAsyncSeq: costNoAsyncSeq,
		NgramPropose: costNgramPropose, SuffixPropose: costSuffixPropose, VerifyKV: costVerifyKV,
		Backends: map[string]BackendCost{
			"FLASHINFER":     {1.0, 1.0, 0},
			"TRITON_ATTN":    {2.75, 1.8, 0.3},
			"FLEX_ATTENTION": {4.0, 3.0, 1.5},
			// FlashAttention 2 needs sm80 (refused on a T4); on an L4 it is taken as FlashInfer's equal [D assumption].
			"FLASH_ATTN": {1.0, 1.0, 0},
		},
		FP8ParityRows: 64, FP8PrefillFactor: 1.05, FP8Fixed: 0,
		KVFP8Factor:     0.6,
		NgramAcceptance: ngramAcceptance, SuffixAcceptance: suffixAcceptance,
		NoiseSigma: runNoiseSigma,
		ActBaseGiB: actBaseGiB, GraphPerMaxGiB: graphPerMaxGiB,
	}
}

var defaultLandscape = DefaultLandscape()

// land is the engine's landscape: the default unless a caller of PredictOn gave one.
func (e *Engine) land() *Landscape {
	if e.Land != nil {
		return e.Land
	}
	return &defaultLandscape
}

// PredictOn is Predict on another landscape, with the given optional Python packages installed (nil: none).
// Predict(args, w, seed) is PredictOn(DefaultLandscape(), {"arctic_inference"}, args, w, seed).
func PredictOn(l *Landscape, packages map[string]bool, args []string, w Workload, seed int64) Outcome {
	if packages == nil {
		packages = map[string]bool{}
	}
	return predictEnv(args, w, seed, Env{Packages: packages, Land: l})
}
