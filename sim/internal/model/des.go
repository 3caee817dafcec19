package model

import (
	"math"
	"math/rand/v2"
)

// This file is the discrete-event simulation of one `vllm bench serve` run against vLLM V1's engine:
// the benchmark client (a semaphore of --max-concurrency, --request-rate arrivals), the API server front end,
// and the engine core's scheduler (continuous batching, max_num_seqs, chunked prefill under
// max_num_batched_tokens with running requests first at one token each, FCFS admission, KV blocks with
// preemption by recompute, prefix caching, speculative decoding, --stream-interval), stepping on the cost
// model of cost.go: the types and the draws here, the event loop in des_run.go, one engine step in des_step.go.

// Workload is a `vllm bench serve` run (random dataset) as the simulator sees it.
type Workload struct {
	Model          string   // model name sent in requests; "" means the served name
	NumPrompts     int      // --num-prompts
	InputLen       int      // --random-input-len
	OutputLen      int      // --random-output-len
	RangeRatio     float64  // --random-range-ratio, in [0, 1)
	PrefixLen      int      // --random-prefix-len
	MaxConcurrency int      // --max-concurrency; 0 means no limit
	RequestRate    float64  // --request-rate in req/s; 0 or +Inf means all at once
	Burstiness     float64  // --burstiness (gamma shape); 0 means 1
	Seed           int64    // --seed of the dataset and arrival process
	Temperature    *float64 // --temperature sent with each request; nil means the server default
	// Acceptance is the speculative-decoding acceptance rate per draft token, a property of the workload and
	// sampling rather than of vLLM. 0 means the landscape's default for the method (Landscape.acceptance), or
	// AUTOTUNE_SIM_ACCEPTANCE in the Main path.
	Acceptance float64
}

// The benchmark client and API server front end [D assumptions; they shape TTFT, not throughput].
const (
	NetDelay      = 0.0005 // s, client→server and server→client on localhost, per direction
	ClientStagger = 0.0001 // s between the client's first requests (task start-up)
	frontEndCost  = 0.004  // s of API-server work per request (tokenize 512 random tokens, validate), serialized
	frontEndDelay = 0.035  // s from the API server accepting a request to the engine core seeing it [D fit: run A's
	// mean TTFT of 183 ms is ≈60 ms above what the engine alone needs, t4-calibration.md §2.1]
	stepJitter = 0.01 // relative standard deviation of one step's duration
)

// Speculative decoding acceptance defaults [D assumptions, documented workload parameters]:
// ngram on random prompts: H2LooP run C reports "acceptance near zero on random data" [M §2.1]; the lookup
// finds a match (and so proposes k tokens) in ngramProposeP of the steps at prompt_lookup_min=2, half as often
// per extra token of minimum match. Suffix decoding: chosen so that a good suffix config reaches the reported
// 7,800–9,052 tok/s [M §3.2] on this benchmark, where a 0.5B base model's output repeats itself (§3.3).
const (
	ngramAcceptance  = 0.10
	ngramProposeP    = 0.30
	suffixAcceptance = 0.95
	suffixMeanDraft  = 16.0 // mean suffix-tree match length at suffix_decoding_max_spec_factor 1.0
)

// acceptance is the landscape's acceptance rate of a method, when the workload gives none.
func (l *Landscape) acceptance(method string) float64 {
	if method == "suffix" {
		return l.SuffixAcceptance
	}
	return l.NgramAcceptance
}

// RequestResult is one request as the benchmark client measures it (vllm.md §13.5). Times are seconds.
type RequestResult struct {
	PromptLen int       `json:"prompt_len"`
	OutputLen int       `json:"output_len"`
	Start     float64   `json:"start"` // client send time since the run started
	TTFT      float64   `json:"ttft"`
	ITL       []float64 `json:"itl"`
	Latency   float64   `json:"latency"`
	Error     string    `json:"error,omitempty"`
}

// RunStats are the engine-side counters of a run (for /metrics and the spec-decode keys).
type RunStats struct {
	Steps          int
	MixedSteps     int // steps that carried prompt tokens
	PromptTokens   int64
	GenTokens      int64
	Drafts         int64
	DraftTokens    int64
	Accepted       int64
	AcceptedPerPos []int64
	Preemptions    int64
	CachedTokens   int64
	Finished       int64
	MaxRunning     int
	Duration       float64 // s until the last request finished at the client
}

type simReq struct {
	idx       int
	prompt    int // prompt tokens to compute (prompt + generated when recomputing)
	origPr    int
	output    int
	computed  int
	generated int
	sent      int
	start     float64
	arrive    float64
	lastChunk float64
	blocks    int
	res       *RequestResult
	draft     int
	recompute bool
}

// RunBench is one benchmark run against a started server, as both Predict and the HTTP server see it: a
// request for another model than the served one fails like vLLM's 404, everything else goes to the DES.
func RunBench(e *Engine, mem MemPlan, w Workload, noise float64, rng *rand.Rand) ([]RequestResult, RunStats) {
	if w.Model != "" && w.Model != e.ServedName {
		results := make([]RequestResult, w.NumPrompts)
		for i := range results {
			results[i] = RequestResult{Start: float64(i) * ClientStagger, Error: "Not Found"}
		}
		return results, RunStats{Duration: float64(w.NumPrompts)*ClientStagger + 2*NetDelay}
	}
	return simulate(e, mem, w, noise, rng)
}

// wouldSend reports whether a decode step that adds tokens to r makes the output processor send a chunk.
func wouldSend(e *Engine, r *simReq, add int) bool {
	g := r.generated + add + r.draft
	return g >= r.output || g-r.sent >= e.StreamInterval
}

// proposeDraft returns the number of draft tokens the proposer offers for a request this step.
func proposeDraft(s *SpecConfig, rng *rand.Rand) int {
	switch s.Method {
	case "suffix":
		mean := suffixMeanDraft * s.SpecFact * (1 - (s.MinProb - 0.1))
		if mean < 1 {
			mean = 1
		}
		// Match length ~ geometric with the given mean.
		d := 1 + int(math.Floor(math.Log(1-rng.Float64())/math.Log(1-1/mean)))
		return min(d, s.K, s.MaxDepth)
	default:
		p := ngramProposeP * math.Pow(0.5, float64(s.LookupMin-2))
		if p > 1 {
			p = 1
		}
		if rng.Float64() < p {
			return s.K
		}
		return 0
	}
}

// acceptDraft draws how many of d draft tokens are accepted: each is accepted with probability alpha until the
// first rejection (the rejection sampler's prefix rule).
func acceptDraft(alpha float64, d int, rng *rand.Rand) int {
	if alpha <= 0 {
		return 0
	}
	a := int(math.Floor(math.Log(1-rng.Float64()) / math.Log(alpha)))
	if a > d {
		a = d
	}
	return a
}

// gammaSample draws from Gamma(shape, scale) (Marsaglia–Tsang), for --burstiness.
func gammaSample(rng *rand.Rand, shape, scale float64) float64 {
	if shape < 1 {
		u := rng.Float64()
		return gammaSample(rng, shape+1, scale) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v * scale
		}
	}
}
