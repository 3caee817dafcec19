package model

// One engine step of a simulated run (des_run.go): vLLM V1's Scheduler.schedule (running requests first,
// then waiting ones, under the token budget and the free KV blocks), the step's cost, and its outputs.

// blocksFor is the number of KV blocks that hold tokens.
func (r *run) blocksFor(tokens int) int { return (tokens + r.e.BlockSize - 1) / r.e.BlockSize }

// scheduleRunning schedules the running requests in order, a prefill chunk or one decode token (plus drafts)
// each, preempting the last admitted ones (by recompute) when the KV cache is full. It returns the budget left.
func (r *run) scheduleRunning(budget int) int {
	e := r.e
	for i := 0; i < len(r.running) && budget > 0; i++ {
		q := r.running[i]
		var k int
		if q.computed < q.prompt {
			k = min(q.prompt-q.computed, budget)
		} else {
			k = 1
			q.draft = 0
			if e.Spec != nil {
				q.draft = proposeDraft(e.Spec, r.rng)
				q.draft = min(q.draft, q.output-q.generated-1, budget-1, r.mem.MaxModelLen-(q.prompt+q.generated)-1)
				if q.draft < 0 {
					q.draft = 0
				}
				k += q.draft
			}
		}
		var kvAfter int
		if q.computed < q.prompt {
			kvAfter = q.computed + k
		} else {
			kvAfter = q.prompt + q.generated + q.draft
		}
		need := r.blocksFor(kvAfter) - q.blocks
		for need > r.freeBlocks && len(r.running) > i+1 {
			r.preemptLast()
		}
		if need > r.freeBlocks {
			break
		}
		r.freeBlocks -= need
		q.blocks += need
		budget -= k
		r.scheduled = append(r.scheduled, q)
		r.counts = append(r.counts, k)
	}
	return budget
}

// preemptLast preempts the last admitted running request to make room: its blocks are freed and it goes back to
// the front of the waiting queue to recompute its prompt and what it generated.
func (r *run) preemptLast() {
	v := r.running[len(r.running)-1]
	r.running = r.running[:len(r.running)-1]
	r.freeBlocks += v.blocks
	v.blocks = 0
	v.prompt = v.origPr + v.generated
	v.computed = 0
	v.recompute = true
	r.waiting = append([]*simReq{v}, r.waiting...)
	r.st.Preemptions++
}

// admitWaiting admits waiting requests in FCFS order while the budget, the KV cache and max_num_seqs allow
// (without chunked prefill, only whole prompts), with prefix-cache hits once the shared prefix is computed.
func (r *run) admitWaiting(budget int) {
	e := r.e
	for len(r.waiting) > 0 && budget > 0 && len(r.running) < e.MaxNumSeqs {
		q := r.waiting[0]
		if q.computed == 0 && !q.recompute && r.prefixHit > 0 && r.prefixDone {
			q.computed = min(r.prefixHit, q.prompt-1)
			r.st.CachedTokens += int64(q.computed)
		}
		rem := q.prompt - q.computed
		k := min(rem, budget)
		if !e.Chunked && k < rem {
			break
		}
		need := r.blocksFor(q.computed+k) - q.blocks
		if need > r.freeBlocks {
			break
		}
		r.freeBlocks -= need
		q.blocks += need
		r.waiting = r.waiting[1:]
		r.running = append(r.running, q)
		budget -= k
		r.scheduled = append(r.scheduled, q)
		r.counts = append(r.counts, k)
	}
}

// unstick handles a step in which nothing fits (KV exhausted by a single request): it fails the head of the
// queue. PlanMemory makes the cache hold at least one max-length request, so with nothing waiting this cannot
// happen; if it ever did, failing the stuck running request keeps the loop making progress instead of spinning.
func (r *run) unstick() {
	switch {
	case len(r.waiting) > 0:
		q := r.waiting[0]
		r.waiting = r.waiting[1:]
		r.fail(q, r.now, "Bad Request")
	case len(r.running) > 0:
		q := r.running[0]
		r.running = r.running[1:]
		r.freeBlocks += q.blocks
		q.blocks = 0
		r.fail(q, r.now, "Bad Request")
	}
}

// advance prices the scheduled step with the cost model (times the run's noise and a per-step jitter) and moves
// the clock past it.
func (r *run) advance() {
	e, cm, shape := r.e, r.cm, r.shape
	for i, q := range r.scheduled {
		k := r.counts[i]
		shape.reqs++
		if q.computed < q.prompt {
			shape.prefillTok += k
			shape.prefillCtx += float64(k) * (float64(q.computed) + float64(k)/2)
			if e.PrefixCaching {
				shape.hashTok += k
			}
			if q.computed+k == q.prompt && !q.recompute {
				shape.chunks++ // the first token is always sent at once
			}
		} else {
			shape.decodeRows += k
			shape.drafts += q.draft
			ctx := float64(q.prompt + q.generated)
			shape.ctxSum += ctx * (1 + cm.l.VerifyKV*float64(q.draft))
			if wouldSend(e, q, 1) {
				shape.chunks++
			}
		}
	}
	ms := cm.step(shape)
	if r.st.Steps == 0 {
		ms += cm.firstStep()
	}
	dt := ms * r.noise * (1 + stepJitter*r.rng.NormFloat64()) / 1000
	if dt < 0.0005 {
		dt = 0.0005
	}
	r.now += dt
	r.st.Steps++
	if shape.prefillTok > 0 {
		r.st.MixedSteps++
	}
	if len(r.running) > r.st.MaxRunning {
		r.st.MaxRunning = len(r.running)
	}
}

// emit applies the step's outputs: computed prompt tokens, first tokens, accepted drafts; sends the chunks that
// --stream-interval lets out, and finishes the requests that reached their output length.
func (r *run) emit() {
	e := r.e
	kept := r.running[:0]
	finished := r.scheduled[:0:0]
	for i, q := range r.scheduled {
		k := r.counts[i]
		if q.computed < q.prompt {
			q.computed += k
			r.st.PromptTokens += int64(k)
			if r.prefixHit > 0 && q.computed >= r.prefixHit {
				r.prefixDone = true
			}
			if q.computed < q.prompt {
				continue
			}
			if q.recompute {
				q.recompute = false
				q.prompt, q.computed = q.origPr, q.origPr
				continue
			}
			q.generated = 1
			r.st.GenTokens++
			q.res.ITL = make([]float64, 0, q.output/e.StreamInterval+1)
		} else {
			acc := 0
			if q.draft > 0 {
				r.st.Drafts++
				r.st.DraftTokens += int64(q.draft)
				acc = acceptDraft(r.alpha, q.draft, r.rng)
				r.st.Accepted += int64(acc)
				for p := 0; p < acc; p++ {
					r.st.AcceptedPerPos[p]++
				}
			}
			add := min(1+acc, q.output-q.generated)
			q.generated += add
			r.st.GenTokens += int64(add)
		}
		if q.sent == 0 || q.generated >= q.output || q.generated-q.sent >= e.StreamInterval {
			at := r.now + NetDelay
			if q.sent == 0 {
				q.res.TTFT = at - q.start
			} else {
				q.res.ITL = append(q.res.ITL, at-q.lastChunk)
			}
			q.lastChunk = at
			q.sent = q.generated
		}
		if q.generated >= q.output {
			finished = append(finished, q)
		}
	}
	for _, q := range r.running {
		if q.generated < q.output {
			kept = append(kept, q)
		}
	}
	r.running = kept
	for _, q := range finished {
		r.finish(q, q.lastChunk)
	}
}
