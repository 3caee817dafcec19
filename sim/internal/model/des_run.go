package model

import (
	"math"
	"math/rand/v2"
	"sort"
)

// This file is the event loop of the discrete-event simulation (des.go): one benchmark run through vLLM V1's engine, one engine step per
// iteration. simulate reads as its steps: the client issues requests (issue, startNext), arrivals are admitted
// (admit), the scheduler picks this step's work (scheduleRunning, admitWaiting, unstick), the step costs time
// (advance) and its outputs reach the client (emit), whose finished requests free a slot (finish, fail).

// run is the state of one simulated benchmark run.
type run struct {
	e     *Engine
	mem   MemPlan
	w     Workload
	cm    *costModel
	noise float64
	rng   *rand.Rand
	alpha float64 // spec-decode acceptance per draft token

	n       int
	results []RequestResult
	reqs    []*simReq
	st      RunStats

	// The client: a semaphore of maxConc slots; request next starts when a slot frees and it is released.
	release   []float64 // when the client may send each request
	maxConc   int
	next      int
	arrivals  []*simReq // pending arrivals at the engine, sorted by arrive
	frontFree float64   // when the API server's front end is free again

	// The engine.
	now              float64
	done             int
	running, waiting []*simReq
	freeBlocks       int
	prefixHit        int  // prompt tokens a request finds cached once the shared prefix is computed
	prefixDone       bool // the shared prefix has been computed once
	shape            *stepShape
	scheduled        []*simReq // this step's requests
	counts           []int     // and the tokens each computes
}

// simulate runs the workload through the engine. noise multiplies every step (run-to-run variation) and rng
// drives the per-step jitter, the spec-decode acceptance and the dataset lengths.
func simulate(e *Engine, mem MemPlan, w Workload, noise float64, rng *rand.Rand) ([]RequestResult, RunStats) {
	n := w.NumPrompts
	r := &run{e: e, mem: mem, w: w, cm: newCostModel(e), noise: noise, rng: rng, n: n, results: make([]RequestResult, n)}
	if n <= 0 {
		return r.results, r.st
	}
	r.makeRequests()
	r.makeReleases()
	r.adjustSampling()
	r.alpha = r.acceptance()
	if e.Spec != nil {
		r.st.AcceptedPerPos = make([]int64, e.Spec.K)
	}
	r.maxConc = w.MaxConcurrency
	if r.maxConc <= 0 || r.maxConc > n {
		r.maxConc = n
	}
	for i := 0; i < r.maxConc; i++ {
		r.startNext(0)
	}
	r.freeBlocks = int(mem.KVBlocks)
	if r.freeBlocks <= 0 {
		r.freeBlocks = math.MaxInt32
	}
	if e.PrefixCaching && w.PrefixLen > 0 {
		r.prefixHit = (w.PrefixLen / e.BlockSize) * e.BlockSize
	}
	r.shape = &stepShape{}
	r.scheduled = make([]*simReq, 0, 256)
	r.counts = make([]int, 0, 256)
	for r.done < n {
		idle, stop := r.admit()
		if stop {
			break
		}
		if idle {
			continue
		}
		*r.shape = stepShape{}
		r.scheduled, r.counts = r.scheduled[:0], r.counts[:0]
		budget := r.scheduleRunning(e.MNBT)
		r.admitWaiting(budget)
		if len(r.scheduled) == 0 {
			r.unstick()
			continue
		}
		r.advance()
		r.emit()
	}
	for _, q := range r.reqs {
		if q.res.Error == "" && q.generated < q.output {
			q.res.Error = "Bad Request"
		}
	}
	return r.results, r.st
}

// makeRequests draws the dataset: lengths uniform in [L(1-r), L(1+r)] (datasets.py random dataset).
func (r *run) makeRequests() {
	w := r.w
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
	r.reqs = make([]*simReq, r.n)
	for i := range r.reqs {
		in, out := lens(w.InputLen)+w.PrefixLen, lens(w.OutputLen)
		if out < 1 {
			out = 1
		}
		r.reqs[i] = &simReq{idx: i, prompt: in, origPr: in, output: out, res: &r.results[i]}
		r.results[i].PromptLen = in
	}
}

// makeReleases draws when the client may send each request: all at once, or gamma arrivals at --request-rate.
func (r *run) makeReleases() {
	w := r.w
	r.release = make([]float64, r.n)
	if w.RequestRate > 0 && !math.IsInf(w.RequestRate, 1) {
		shape := w.Burstiness
		if shape <= 0 {
			shape = 1
		}
		arng := rand.New(rand.NewPCG(uint64(w.Seed), 0xa771))
		t := 0.0
		for i := range r.release {
			r.release[i] = t
			t += gammaSample(arng, shape, 1/(w.RequestRate*shape))
		}
	}
}

// adjustSampling prices sampling at the temperature the requests ask for, when it differs from the server's.
func (r *run) adjustSampling() {
	e, cm := r.e, r.cm
	temp := e.Temperature
	if r.w.Temperature != nil {
		temp = *r.w.Temperature
	}
	if temp == 0 && e.Temperature != 0 {
		cm.perSeq += cm.l.SampleGreedy - cm.l.SampleRand
	} else if temp != 0 && e.Temperature == 0 {
		cm.perSeq += cm.l.SampleRand - cm.l.SampleGreedy
	}
}

// acceptance is the spec-decode acceptance rate: the workload's, or the landscape's for the method.
func (r *run) acceptance() float64 {
	alpha := r.w.Acceptance
	if r.e.Spec != nil && alpha <= 0 {
		alpha = r.e.land().acceptance(r.e.Spec.Method)
	}
	return math.Min(alpha, 0.995)
}

// issue sends q at time at: it reaches the API server, queues for its front end and then reaches the engine.
func (r *run) issue(q *simReq, at float64) {
	q.start = at
	q.res.Start = at
	arrive := at + NetDelay
	if arrive > r.frontFree {
		r.frontFree = arrive
	}
	r.frontFree += frontEndCost
	q.arrive = r.frontFree + frontEndDelay
	i := sort.Search(len(r.arrivals), func(i int) bool { return r.arrivals[i].arrive > q.arrive })
	r.arrivals = append(r.arrivals, nil)
	copy(r.arrivals[i+1:], r.arrivals[i:])
	r.arrivals[i] = q
}

// startNext has the client send its next request into a slot freed at freeAt (0: the first wave).
func (r *run) startNext(freeAt float64) {
	if r.next >= r.n {
		return
	}
	q := r.reqs[r.next]
	at := math.Max(freeAt, r.release[r.next])
	if freeAt == 0 {
		at = math.Max(r.release[r.next], float64(r.next)*ClientStagger)
	}
	r.next++
	r.issue(q, at)
}

// finish completes q at the client at clientAt, freeing its KV blocks and its client slot.
func (r *run) finish(q *simReq, clientAt float64) {
	r.done++
	r.freeBlocks += q.blocks
	q.blocks = 0
	q.res.Latency = q.lastChunk - q.start
	q.res.OutputLen = q.generated
	if clientAt > r.st.Duration {
		r.st.Duration = clientAt
	}
	r.st.Finished++
	r.startNext(clientAt)
}

// fail fails q with msg, seen by the client at at.
func (r *run) fail(q *simReq, at float64, msg string) {
	r.done++
	q.res.Error = msg
	q.res.Latency = 0
	if at > r.st.Duration {
		r.st.Duration = at
	}
	r.startNext(at + NetDelay)
}

// admit moves the arrivals up to now into the waiting queue (refusing requests longer than max_model_len), first
// idling until the next arrival when the engine has nothing to do. idle: no step to take now; stop: nothing
// left that can run.
func (r *run) admit() (idle, stop bool) {
	if len(r.running) == 0 && len(r.waiting) == 0 && len(r.arrivals) > 0 && r.arrivals[0].arrive > r.now {
		r.now = r.arrivals[0].arrive
	}
	for len(r.arrivals) > 0 && r.arrivals[0].arrive <= r.now {
		q := r.arrivals[0]
		r.arrivals = r.arrivals[1:]
		if q.origPr+q.output > r.mem.MaxModelLen {
			r.fail(q, q.arrive+NetDelay, "Bad Request")
			continue
		}
		r.waiting = append(r.waiting, q)
	}
	if len(r.running) == 0 && len(r.waiting) == 0 {
		return true, len(r.arrivals) == 0
	}
	return false, false
}
