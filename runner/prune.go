package runner

import (
	"fmt"
	"math"
)

// Pruning (issue 10): a trial whose outcome is already settled stops its benchmark early. The watcher scrapes
// the server's /metrics while `vllm bench serve` runs and asks PruneRule.Judge after every scrape. Two outcomes
// can be settled before the benchmark ends:
//
//   - P99 TTFT is lost once more prompts than the P99 can hide have waited past the limit for their first token.
//     vllm bench serve's P99 is NumPy's linear percentile over NumPrompts values, so it is above the limit as soon
//     as NumPrompts − ⌊0.99·(NumPrompts−1)⌋ values are (3 of 200). vLLM measures TTFT from the request's arrival
//     at the server, the benchmark from its send, so a server-side TTFT above the limit is one on the client too;
//     and only observations above the first histogram bound at or past the limit are counted (2.5 s for a 2 s
//     limit), so the rule never counts a prompt that might have made it.
//   - The trial cannot win: its output rate so far, projected, is below the incumbent's throughput by more than
//     the margin. The margin is the caller's (the tuner derives it from the run-to-run noise it measured, see
//     tuner.pruneMargin); the rule acts only after MinProgress of the expected output tokens.

// PruneRule is what a running benchmark is judged by. A zero field switches its rule off.
type PruneRule struct {
	NumPrompts  int     // the benchmark's prompts
	OutputLen   int     // output tokens per prompt (random_output_len with ignore_eos)
	MaxP99TTFT  float64 // seconds; the SLA's limit
	Incumbent   float64 // output tok/s of the best feasible config so far
	Margin      float64 // prune when the projection is below Incumbent × (1 − Margin)
	MinProgress float64 // fraction of NumPrompts × OutputLen generated before the throughput rule may act
}

// Scrape is one reading of /metrics, Elapsed seconds after the benchmark started.
type Scrape struct {
	Elapsed float64
	Metrics Metrics
}

// Verdict is the rule's judgement of the scrapes so far.
type Verdict struct {
	Prune     bool
	Reason    string  // for people: the evidence
	Rule      string  // "ttft" or "throughput"
	Elapsed   float64 // seconds into the benchmark
	Projected float64 // output tok/s projected from the rate so far (0 before any token)
	TTFTLate  float64 // prompts whose first token came later than the first bound at or past the limit
	Progress  float64 // fraction of the expected output tokens generated
}

// ttftLostAt is how many of n values must exceed a limit for NumPy's linear-interpolated P99 to exceed it.
func ttftLostAt(n int) int {
	if n <= 0 {
		return math.MaxInt
	}
	return n - int(math.Floor(0.99*float64(n-1)))
}

// Judge returns whether the benchmark can stop, given its scrapes so far: the first taken when it started, the
// last the latest. Counters are taken as differences from the first, so a server that already served (a
// warm-up) is judged fairly. The projected throughput is the benchmark's output over its projected duration:
// the time to the first scrape that saw output tokens, plus the rest of the output at the mean rate since then.
// (The rate since the start would understate it, the first tokens waiting for a whole wave of prefills; a rate
// over the last seconds would follow the saw-tooth of each wave's growing contexts.)
func (r PruneRule) Judge(scrapes []Scrape) Verdict {
	if len(scrapes) < 2 {
		return Verdict{}
	}
	start, now := scrapes[0], scrapes[len(scrapes)-1]
	v := Verdict{Elapsed: now.Elapsed - start.Elapsed}
	gen := now.Metrics.GenerationTokens - start.Metrics.GenerationTokens
	total := float64(r.NumPrompts * r.OutputLen)
	if total > 0 {
		v.Progress = gen / total
	}
	for _, first := range scrapes[1:] {
		g1 := first.Metrics.GenerationTokens - start.Metrics.GenerationTokens
		if g1 <= 0 {
			continue
		}
		dt, dg := now.Elapsed-first.Elapsed, gen-g1
		switch {
		case total > gen && dt > 0 && dg > 0:
			v.Projected = total / (first.Elapsed - start.Elapsed + (total-g1)/(dg/dt))
		case v.Elapsed > 0:
			v.Projected = gen / v.Elapsed
		}
		break
	}
	if r.MaxP99TTFT > 0 && r.NumPrompts > 0 {
		v.TTFTLate = now.Metrics.TTFT.Above(r.MaxP99TTFT) - start.Metrics.TTFT.Above(r.MaxP99TTFT)
		if need := ttftLostAt(r.NumPrompts); v.TTFTLate >= float64(need) {
			v.Prune, v.Rule = true, "ttft"
			v.Reason = fmt.Sprintf("P99 TTFT lost: %.0f of %d prompts already waited over %gs for their first token (%d suffice), %.0fs into the benchmark",
				v.TTFTLate, r.NumPrompts, r.MaxP99TTFT, need, v.Elapsed)
			return v
		}
	}
	if r.Incumbent > 0 && r.MinProgress > 0 && v.Progress >= r.MinProgress && v.Projected > 0 {
		if bar := r.Incumbent * (1 - r.Margin); v.Projected < bar {
			v.Prune, v.Rule = true, "throughput"
			v.Reason = fmt.Sprintf("cannot win: %.0f tok/s so far (%.0f%% of the output generated, %.0fs in), below %.0f tok/s = the best so far %.0f minus a %.0f%% noise margin",
				v.Projected, 100*v.Progress, v.Elapsed, bar, r.Incumbent, 100*r.Margin)
		}
	}
	return v
}
