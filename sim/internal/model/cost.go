package model

import "sort"

// Per-step cost model of vLLM 0.15.1 serving Qwen2.5-0.5B on a T4. Times are milliseconds.
//
// The decode step of t4-calibration.md §10.3 [D fit to M], t = 6.3 + B·(0.052 + 0.081e-3·ctx), is refitted
// here with the CUDA-graph padding made explicit (a batch of B runs as the next captured size, §6.3), so that
// a capture list containing the real batch size saves the padded rows, as the contest winner found (§5 [M]).
// The refit goes through the same three measured windows (B=10/ctx 768: 7.41 ms, B=50/ctx 768: 11.98 ms,
// B=100/ctx 576: 16.13 ms, default capture sizes pad them to 16, 56 and 104):
//
//	t = costFixed + costRow·padded_rows + costPerSeq·B + costKV·Σctx
//
// costPerSeq is then split into scheduling, sampling and the per-chunk output work that --stream-interval
// reduces; that split is an assumption [D], not a measurement.
const (
	costFixed      = 6.11      // ms per step: weight read ≈4.0 ms (0.99 GB at ~250 GB/s) + launch/sync [D §10.3 refit]
	costWeightPart = 4.0       // ms of costFixed that is the fp16 weight read [D §10.3]
	costRow        = 0.026     // ms per row the graph computes, padded rows included [D assumption, refit]
	costKV         = 0.0787e-3 // ms per context token read by decode attention (≈150 GB/s effective) [D §10.3 refit]
	costSched      = 0.006     // ms per scheduled request: scheduler, input prep, metadata [D assumption]
	costSampleRand = 0.004     // ms per request for random sampling over the 151,936-token vocabulary [D assumption]
	costSampleGrdy = 0.001     // ms per request for greedy (argmax) sampling [D assumption]
	costChunk      = 0.030     // ms per streamed chunk: detokenize + SSE + host CPU contention [D assumption]
	// costPerSeq = costSched + costSampleRand + costChunk = 0.0278 ms at the defaults (temperature 1.0, stream
	// interval 1), the refit's per-sequence term.

	// Prefill. A step with a 2,048-token chunk and ~49 decodes takes ≈80–85 ms (P99 ITL of runs B/B' [M]),
	// i.e. ≈34 µs per prompt token with everything included (§10.4 [D]). Part of that is a fixed cost of a step
	// that carries prefill (no CUDA graph above 512 tokens, FlashInfer prefill planning, larger input prep):
	// costMixedStep. The rest is per token, costPrefillTok, plus attention ∝ tokens × context (costPrefillAttn:
	// 86,016 FLOP per token per context token, §1.5, at ≈20 TFLOPS effective, §10.4).
	costPrefillTok  = 0.0215 // ms per prompt token [D §10.4 minus costMixedStep]
	costPrefillAttn = 4.3e-6 // ms per (token × context token) [D §1.5, §10.4]
	costMixedStep   = 22.0   // ms per step that carries prefill tokens [D assumption within the §10.4 total]
	costPrefixHash  = 0.3e-3 // ms per prompt token hashed for prefix caching [D assumption]

	// Graph modes (§6, vllm.md §6). costEager is the eager penalty of §10.4 (+8–10 ms/step [D, confounded M run C]).
	costEager       = 9.0 // ms per step without torch.compile and CUDA graphs
	costNoGraph     = 4.5 // ms per step compiled but above the largest captured size [D assumption: ~half of eager]
	costPiecewise   = 1.2 // ms per step on a PIECEWISE graph (attention launched outside the graph) [D assumption]
	costEagerPrefil = 1.3 // prefill cost factor without Inductor fusion [D assumption]

	// Async scheduling (on by default) overlaps scheduling with the GPU; without it that CPU time is exposed.
	costNoAsyncFixed = 0.9   // ms per step [D assumption]
	costNoAsyncSeq   = 0.010 // ms per scheduled request [D assumption]

	// Speculative decoding (vllm.md §7). Proposers run on the CPU after each step.
	costNgramPropose  = 0.020 // ms per request per step (prompt lookup) [D assumption]
	costSuffixPropose = 0.040 // ms per request per step (suffix tree update + speculate) [D assumption]
	costVerifyKV      = 0.15  // extra fraction of a request's KV read per draft token verified [D assumption]

	// The first batch after startup pays lazy initialisation (cuBLAS handles, allocator growth) [D fit: the P99
	// TTFT of runs B and D, 1,180 and 2,341 ms, sit ≈100 ms above the prefill pace]. In eager mode nothing was
	// warmed up by compilation or graph capture, so kernels are JIT-compiled on first use [D fit: run C's P99
	// TTFT of 2,730 ms against ≈1.1 s of prefill].
	costFirstStep      = 100.0
	costFirstStepEager = 1600.0
)

// Attention backends on a T4 (t4-calibration.md §8), in DefaultLandscape().Backends: FlashInfer is the fitted
// baseline. Triton's unified attention kernel is ≈13.5× slower than on an A100 for a 4.9× bandwidth ratio [M PR
// #49077], so its KV term is taken 2.75× FlashInfer's [D]. FlexAttention is "much slower" (#25528 [M]); 4× plus a
// fixed cost [D assumption].

// weightCost describes a weight format: bytes relative to fp16 (t4-calibration.md §1.3), the batch rows up to
// which the smaller weight read still pays off (§7.2: int4 Marlin ≈2× at m ≤ 16, parity by m ≈ 64 [M PR
// #29901]; int8 CUTLASS 1.34–1.99× up to M=128 [M PR #6996]), a factor on the per-row and prefill cost, and a
// fixed per-step cost (activation quantization, dequantization).
type weightCost struct {
	bytes, parityRows, rowFactor, prefillFactor, fixed float64
}

var weightCosts = map[string]weightCost{
	"fp16":        {1.0, 1, 1.0, 1.0, 0},
	"fp32":        {2.0, 1, 4.0, 8.0, 0},       // no fp32 tensor cores: 4.2 vs 42 TFLOPS [M §4] [D factors]
	"fp8":         {0.64, 64, 1.0, 1.05, 0},    // W8A16 FP8 Marlin, lm_head fp16 [D §1.3, §7.1]
	"int8":        {0.64, 128, 0.9, 0.95, 0.5}, // W8A8 CUTLASS + per-token act quant [D §7.2]
	"int8-gptq":   {0.64, 16, 1.1, 1.1, 0},
	"int4-marlin": {0.466, 64, 1.0, 1.0, 0},   // §7.2 [D from M]
	"int4-awq":    {0.466, 64, 1.15, 1.25, 0}, // original awq kernel; dequant + fp16 matmul at ≥256 tokens [D §7.1]
	"int4-gptq":   {0.466, 16, 1.15, 1.1, 0},  // exllama slower than fp16 beyond m≈16 [M PR #29901]
	"bnb4":        {1.58, 1, 1.58, 1.58, 0},   // bitsandbytes 1.58× slower [M #9535]; "bytes" here is time
}

// costModel is the per-engine cost model, precomputed from the Engine.
type costModel struct {
	e           *Engine
	l           *Landscape
	backend     struct{ kv, prefillAttn, fixed float64 }
	weights     weightCost
	perSeq      float64 // sched + sampling (+ spec proposer, + no-async)
	fixed       float64 // fixed per-step cost apart from the weight read
	kvFactor    float64
	fullSizes   []int // sizes a FULL uniform-decode graph exists for
	pwSizes     []int // sizes a PIECEWISE graph exists for
	offloadMs   float64
	prefillMult float64
}

func newCostModel(e *Engine) *costModel {
	l := e.land()
	m := &costModel{e: e, l: l, weights: weightCosts[e.Weights]}
	m.backend.kv, m.backend.prefillAttn = 1, 1
	if b, ok := l.Backends[e.Backend]; ok {
		m.backend.kv, m.backend.prefillAttn, m.backend.fixed = b.KV, b.PrefillAttn, b.Fixed
	}
	if m.weights.bytes == 0 {
		m.weights = weightCosts["fp16"]
	}
	if e.Weights == "fp8" {
		m.weights.parityRows, m.weights.prefillFactor, m.weights.fixed = l.FP8ParityRows, l.FP8PrefillFactor, l.FP8Fixed
	}
	m.fixed = costFixed - costWeightPart + m.backend.fixed + m.weights.fixed
	m.perSeq = l.Sched + l.SampleRand
	if e.Temperature == 0 {
		m.perSeq = l.Sched + l.SampleGreedy
	}
	if !e.Async {
		m.fixed += l.NoAsyncFixed
		m.perSeq += l.NoAsyncSeq
	}
	if e.Spec != nil {
		if e.Spec.Method == "suffix" {
			m.perSeq += l.SuffixPropose
		} else {
			m.perSeq += l.NgramPropose
		}
	}
	m.kvFactor = m.backend.kv * l.GPU.KV
	if f, ok := l.BlockKV[e.BlockSize]; ok {
		m.kvFactor *= f
	}
	if kvBytesPerToken(e) < kvBytesFP16 {
		m.kvFactor *= l.KVFP8Factor // half the bytes, plus dequantization [D assumption]
	} else if kvBytesPerToken(e) > kvBytesFP16 {
		m.kvFactor *= 2
	}
	m.prefillMult = m.weights.prefillFactor * l.GPU.Prefill
	if e.Eager() {
		m.prefillMult *= costEagerPrefil
	}
	// PCIe Gen3 x16 at ≈12 GB/s for weights offloaded to the CPU every step [D assumption].
	m.offloadMs = e.CPUOffloadGB / 12 * 1000
	switch e.CGMode {
	case "FULL_AND_PIECEWISE", "FULL_DECODE_ONLY":
		for _, s := range e.CaptureSizes {
			if s <= e.FullDecodeMax {
				m.fullSizes = append(m.fullSizes, s)
			}
		}
		if e.CGMode == "FULL_AND_PIECEWISE" {
			m.pwSizes = e.CaptureSizes
		}
	case "PIECEWISE":
		m.pwSizes = e.CaptureSizes
	case "FULL":
		m.fullSizes = e.CaptureSizes
	}
	return m
}

// stepShape is what one engine step computes.
type stepShape struct {
	reqs       int     // requests scheduled
	decodeRows int     // query tokens of decoding requests (1 + drafts each)
	drafts     int     // draft tokens among decodeRows
	ctxSum     float64 // Σ context tokens of decoding requests
	prefillTok int     // prompt tokens computed
	prefillCtx float64 // Σ over prefill chunks of n·(start + n/2)
	hashTok    int     // prompt tokens hashed for prefix caching
	chunks     int     // chunks streamed at the end of the step
}

// nextSize is the smallest captured size ≥ n, or 0 when n is above all of them.
func nextSize(sizes []int, n int) int {
	i := sort.SearchInts(sizes, n)
	if i == len(sizes) {
		return 0
	}
	return sizes[i]
}

// firstStep is the extra cost of the first step after startup.
func (m *costModel) firstStep() float64 {
	if m.e.Eager() {
		return costFirstStepEager
	}
	return costFirstStep
}

// step returns the duration of one step in ms, before noise.
func (m *costModel) step(s *stepShape) float64 {
	tokens := s.decodeRows + s.prefillTok
	rows := float64(s.decodeRows)
	overhead := 0.0
	uniformDecode := s.prefillTok == 0 && s.drafts == 0
	switch {
	case m.e.Eager():
		overhead = costEager
	case uniformDecode && nextSize(m.fullSizes, tokens) > 0:
		rows += float64(nextSize(m.fullSizes, tokens) - tokens)
	case nextSize(m.pwSizes, tokens) > 0:
		rows += float64(nextSize(m.pwSizes, tokens) - tokens)
		overhead = m.l.Piecewise
	case m.e.CGMode == "FULL" && nextSize(m.fullSizes, tokens) > 0:
		rows += float64(nextSize(m.fullSizes, tokens) - tokens)
	default:
		overhead = m.l.NoGraph
	}
	// Weight read: a smaller format saves the read time of the bytes it drops (§10.4: ≈2 ms for int4) up to
	// its parity point and fades to nothing at twice that many rows (§7.2: "little gain at B ≥ 64", yet +14–23%
	// measured at c=50 [M]).
	w := m.weights
	frac := w.bytes
	if w.bytes < 1 {
		fade := (float64(tokens) - w.parityRows) / w.parityRows
		frac = w.bytes + (1-w.bytes)*max(0, min(1, fade))
	}
	t := m.fixed + costWeightPart*m.l.GPU.WeightRead*frac + overhead + m.offloadMs
	t += m.l.Row * w.rowFactor * rows
	t += m.perSeq * float64(s.reqs)
	t += m.l.Chunk * float64(s.chunks)
	t += costKV * m.kvFactor * s.ctxSum
	if s.prefillTok > 0 {
		t += m.l.MixedStep
		t += m.l.PrefillTok * m.prefillMult * float64(s.prefillTok)
		t += costPrefillAttn * m.backend.prefillAttn * m.prefillMult * s.prefillCtx
	}
	t += m.l.PrefixHash * float64(s.hashTok)
	return t
}

// Completion paces one /v1/completions request of promptLen tokens outside a benchmark: the server's own
// endpoint, timed by the same step cost as the benchmark's requests.
type Completion struct {
	cm        *costModel
	promptLen int
}

// NewCompletion starts pacing a request of promptLen prompt tokens on engine e.
func NewCompletion(e *Engine, promptLen int) *Completion {
	return &Completion{cm: newCostModel(e), promptLen: promptLen}
}

// First is the simulated time (s) from the API server accepting the request to its first token: the front end's
// delay and one prefill step.
func (c *Completion) First() float64 {
	p := c.promptLen
	return frontEndDelay + (c.cm.step(&stepShape{reqs: 1, prefillTok: p, prefillCtx: float64(p) * float64(p) / 2, chunks: 1}))/1000
}

// Next is the simulated time (s) of the decode step that makes token i (from 2) while active requests decode.
func (c *Completion) Next(active, i int) float64 {
	return c.cm.step(&stepShape{reqs: active, decodeRows: active, ctxSum: float64(active * (c.promptLen + i)), chunks: active}) / 1000
}
