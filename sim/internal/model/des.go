package model

import (
	"math"
	"math/rand/v2"
	"sort"
)

// This file is the discrete-event simulation of one `vllm bench serve` run against vLLM V1's engine:
// the benchmark client (a semaphore of --max-concurrency, --request-rate arrivals), the API server front end,
// and the engine core's scheduler (continuous batching, max_num_seqs, chunked prefill under
// max_num_batched_tokens with running requests first at one token each, FCFS admission, KV blocks with
// preemption by recompute, prefix caching, speculative decoding, --stream-interval), stepping on the cost
// model of cost.go.

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

// simulate runs the workload through the engine. noise multiplies every step (run-to-run variation) and rng
// drives the per-step jitter, the spec-decode acceptance and the dataset lengths.
func simulate(e *Engine, mem MemPlan, w Workload, noise float64, rng *rand.Rand) ([]RequestResult, RunStats) {
	cm := newCostModel(e)
	n := w.NumPrompts
	results := make([]RequestResult, n)
	var st RunStats
	if n <= 0 {
		return results, st
	}
	// Dataset lengths: uniform in [L(1-r), L(1+r)] (datasets.py random dataset).
	drng := rand.New(rand.NewPCG(uint64(w.Seed), 0x5eed))
	lens := func(l int) int {
		if w.RangeRatio <= 0 {
			return l
		}
		lo, hi := int(math.Floor(float64(l)*(1-w.RangeRatio))), int(math.Ceil(float64(l)*(1+w.RangeRatio)))
		if hi <= lo {
			return lo
		}
		return lo + drng.IntN(hi-lo+1)
	}
	reqs := make([]*simReq, n)
	for i := range reqs {
		in, out := lens(w.InputLen)+w.PrefixLen, lens(w.OutputLen)
		if out < 1 {
			out = 1
		}
		reqs[i] = &simReq{idx: i, prompt: in, origPr: in, output: out, res: &results[i]}
		results[i].PromptLen = in
	}
	// Arrival (release) times of the client.
	release := make([]float64, n)
	if w.RequestRate > 0 && !math.IsInf(w.RequestRate, 1) {
		shape := w.Burstiness
		if shape <= 0 {
			shape = 1
		}
		arng := rand.New(rand.NewPCG(uint64(w.Seed), 0xa771))
		t := 0.0
		for i := range release {
			release[i] = t
			t += gammaSample(arng, shape, 1/(w.RequestRate*shape))
		}
	}
	temp := e.Temperature
	if w.Temperature != nil {
		temp = *w.Temperature
	}
	if temp == 0 && e.Temperature != 0 {
		cm.perSeq += cm.l.SampleGreedy - cm.l.SampleRand
	} else if temp != 0 && e.Temperature == 0 {
		cm.perSeq += cm.l.SampleRand - cm.l.SampleGreedy
	}
	alpha := w.Acceptance
	if e.Spec != nil && alpha <= 0 {
		alpha = e.land().acceptance(e.Spec.Method)
	}
	alpha = math.Min(alpha, 0.995)
	if e.Spec != nil {
		st.AcceptedPerPos = make([]int64, e.Spec.K)
	}

	// Client: a semaphore of maxConc slots; the next request starts when a slot frees and it is released.
	maxConc := w.MaxConcurrency
	if maxConc <= 0 || maxConc > n {
		maxConc = n
	}
	next := 0
	var arrivals []*simReq // pending arrivals at the engine, sorted by arrive
	frontFree := 0.0
	issue := func(r *simReq, at float64) {
		r.start = at
		r.res.Start = at
		arrive := at + NetDelay
		if arrive > frontFree {
			frontFree = arrive
		}
		frontFree += frontEndCost
		r.arrive = frontFree + frontEndDelay
		i := sort.Search(len(arrivals), func(i int) bool { return arrivals[i].arrive > r.arrive })
		arrivals = append(arrivals, nil)
		copy(arrivals[i+1:], arrivals[i:])
		arrivals[i] = r
	}
	startNext := func(freeAt float64) {
		if next >= n {
			return
		}
		r := reqs[next]
		at := math.Max(freeAt, release[next])
		if freeAt == 0 {
			at = math.Max(release[next], float64(next)*ClientStagger)
		}
		next++
		issue(r, at)
	}
	for i := 0; i < maxConc; i++ {
		startNext(0)
	}

	bs := e.BlockSize
	freeBlocks := int(mem.KVBlocks)
	if freeBlocks <= 0 {
		freeBlocks = math.MaxInt32
	}
	blocksFor := func(tokens int) int { return (tokens + bs - 1) / bs }
	prefixDone := false
	prefixHit := 0
	if e.PrefixCaching && w.PrefixLen > 0 {
		prefixHit = (w.PrefixLen / bs) * bs
	}

	var running, waiting []*simReq
	now := 0.0
	done := 0
	finish := func(r *simReq, clientAt float64) {
		done++
		freeBlocks += r.blocks
		r.blocks = 0
		r.res.Latency = r.lastChunk - r.start
		r.res.OutputLen = r.generated
		if clientAt > st.Duration {
			st.Duration = clientAt
		}
		st.Finished++
		startNext(clientAt)
	}
	fail := func(r *simReq, at float64, msg string) {
		done++
		r.res.Error = msg
		r.res.Latency = 0
		if at > st.Duration {
			st.Duration = at
		}
		startNext(at + NetDelay)
	}
	shape := &stepShape{}
	scheduled := make([]*simReq, 0, 256)
	counts := make([]int, 0, 256)
	for done < n {
		// Admit arrivals up to now; idle until the next one when there is nothing to do.
		if len(running) == 0 && len(waiting) == 0 && len(arrivals) > 0 && arrivals[0].arrive > now {
			now = arrivals[0].arrive
		}
		for len(arrivals) > 0 && arrivals[0].arrive <= now {
			r := arrivals[0]
			arrivals = arrivals[1:]
			if r.origPr+r.output > mem.MaxModelLen {
				fail(r, r.arrive+NetDelay, "Bad Request")
				continue
			}
			waiting = append(waiting, r)
		}
		if len(running) == 0 && len(waiting) == 0 {
			if len(arrivals) == 0 {
				break // nothing left that can run
			}
			continue
		}

		// Schedule one step (vLLM V1 Scheduler.schedule: running first, then waiting, under the token budget).
		*shape = stepShape{}
		scheduled, counts = scheduled[:0], counts[:0]
		budget := e.MNBT
		for i := 0; i < len(running) && budget > 0; i++ {
			r := running[i]
			var k int
			if r.computed < r.prompt {
				k = min(r.prompt-r.computed, budget)
			} else {
				k = 1
				r.draft = 0
				if e.Spec != nil {
					r.draft = proposeDraft(e.Spec, rng)
					r.draft = min(r.draft, r.output-r.generated-1, budget-1, mem.MaxModelLen-(r.prompt+r.generated)-1)
					if r.draft < 0 {
						r.draft = 0
					}
					k += r.draft
				}
			}
			var kvAfter int
			if r.computed < r.prompt {
				kvAfter = r.computed + k
			} else {
				kvAfter = r.prompt + r.generated + r.draft
			}
			need := blocksFor(kvAfter) - r.blocks
			for need > freeBlocks && len(running) > i+1 {
				// Preempt the last admitted running request (recompute) to make room.
				v := running[len(running)-1]
				running = running[:len(running)-1]
				freeBlocks += v.blocks
				v.blocks = 0
				v.prompt = v.origPr + v.generated
				v.computed = 0
				v.recompute = true
				waiting = append([]*simReq{v}, waiting...)
				st.Preemptions++
			}
			if need > freeBlocks {
				break
			}
			freeBlocks -= need
			r.blocks += need
			budget -= k
			scheduled = append(scheduled, r)
			counts = append(counts, k)
		}
		for len(waiting) > 0 && budget > 0 && len(running) < e.MaxNumSeqs {
			r := waiting[0]
			if r.computed == 0 && !r.recompute && prefixHit > 0 && prefixDone {
				r.computed = min(prefixHit, r.prompt-1)
				st.CachedTokens += int64(r.computed)
			}
			rem := r.prompt - r.computed
			k := min(rem, budget)
			if !e.Chunked && k < rem {
				break
			}
			need := blocksFor(r.computed+k) - r.blocks
			if need > freeBlocks {
				break
			}
			freeBlocks -= need
			r.blocks += need
			waiting = waiting[1:]
			running = append(running, r)
			budget -= k
			scheduled = append(scheduled, r)
			counts = append(counts, k)
		}
		if len(scheduled) == 0 {
			// Nothing fits (KV exhausted by a single request): fail the head of the queue. PlanMemory makes the
			// cache hold at least one max-length request, so with nothing waiting this cannot happen; if it ever
			// did, failing the stuck running request keeps the loop making progress instead of spinning.
			switch {
			case len(waiting) > 0:
				r := waiting[0]
				waiting = waiting[1:]
				fail(r, now, "Bad Request")
			case len(running) > 0:
				r := running[0]
				running = running[1:]
				freeBlocks += r.blocks
				r.blocks = 0
				fail(r, now, "Bad Request")
			}
			continue
		}

		// Shape and cost of the step.
		for i, r := range scheduled {
			k := counts[i]
			shape.reqs++
			if r.computed < r.prompt {
				shape.prefillTok += k
				shape.prefillCtx += float64(k) * (float64(r.computed) + float64(k)/2)
				if e.PrefixCaching {
					shape.hashTok += k
				}
				if r.computed+k == r.prompt && !r.recompute {
					shape.chunks++ // the first token is always sent at once
				}
			} else {
				shape.decodeRows += k
				shape.drafts += r.draft
				ctx := float64(r.prompt + r.generated)
				shape.ctxSum += ctx * (1 + cm.l.VerifyKV*float64(r.draft))
				if wouldSend(e, r, 1) {
					shape.chunks++
				}
			}
		}
		ms := cm.step(shape)
		if st.Steps == 0 {
			ms += cm.firstStep()
		}
		dt := ms * noise * (1 + stepJitter*rng.NormFloat64()) / 1000
		if dt < 0.0005 {
			dt = 0.0005
		}
		now += dt
		st.Steps++
		if shape.prefillTok > 0 {
			st.MixedSteps++
		}
		if len(running) > st.MaxRunning {
			st.MaxRunning = len(running)
		}

		// Outputs at the end of the step.
		kept := running[:0]
		finished := scheduled[:0:0]
		for i, r := range scheduled {
			k := counts[i]
			if r.computed < r.prompt {
				r.computed += k
				st.PromptTokens += int64(k)
				if prefixHit > 0 && r.computed >= prefixHit {
					prefixDone = true
				}
				if r.computed < r.prompt {
					continue
				}
				if r.recompute {
					r.recompute = false
					r.prompt, r.computed = r.origPr, r.origPr
					continue
				}
				r.generated = 1
				st.GenTokens++
				r.res.ITL = make([]float64, 0, r.output/e.StreamInterval+1)
			} else {
				acc := 0
				if r.draft > 0 {
					st.Drafts++
					st.DraftTokens += int64(r.draft)
					acc = acceptDraft(alpha, r.draft, rng)
					st.Accepted += int64(acc)
					for p := 0; p < acc; p++ {
						st.AcceptedPerPos[p]++
					}
				}
				add := min(1+acc, r.output-r.generated)
				r.generated += add
				st.GenTokens += int64(add)
			}
			if r.sent == 0 || r.generated >= r.output || r.generated-r.sent >= e.StreamInterval {
				at := now + NetDelay
				if r.sent == 0 {
					r.res.TTFT = at - r.start
				} else {
					r.res.ITL = append(r.res.ITL, at-r.lastChunk)
				}
				r.lastChunk = at
				r.sent = r.generated
			}
			if r.generated >= r.output {
				finished = append(finished, r)
			}
		}
		for _, r := range running {
			if r.generated < r.output {
				kept = append(kept, r)
			}
		}
		running = kept
		for _, r := range finished {
			finish(r, r.lastChunk)
		}
	}
	for _, r := range reqs {
		if r.res.Error == "" && r.generated < r.output {
			r.res.Error = "Bad Request"
		}
	}
	return results, st
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
