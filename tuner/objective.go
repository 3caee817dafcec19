package tuner

import (
	"fmt"
	"math"
	"strings"

	"github.com/autotune/autotune/runner"
)

// SLA is the latency and success gate a trial must pass to count as feasible. Limits are strict: a P99 equal to
// its limit misses the SLA, as in the contest rules ("P99 TPOT < 50 ms").
type SLA struct {
	MaxP99TPOTms float64 `json:"max_p99_tpot_ms"`
	MaxP99TTFTms float64 `json:"max_p99_ttft_ms"`
}

// DefaultSLA is the seed guide's gate: P99 TPOT < 50 ms, P99 TTFT < 2000 ms, every request successful.
func DefaultSLA() SLA { return SLA{MaxP99TPOTms: 50, MaxP99TTFTms: 2000} }

// Objective values told to the sampler (see the package comment for why they are laid out this way).
const (
	// CrashValue is told for a config that vLLM refused, that crashed, or that ran out of memory.
	CrashValue = -10000.0
	// maxViolation caps the violation so that every infeasible value stays above CrashValue.
	maxViolation = 998.0
)

// Score is how the tuner judges one runner.Result.
type Score struct {
	// Evidence is false when the result says nothing about the config (a harness fault, an interruption): the
	// trial is then failed in goptuna, which its samplers ignore, and it does not count toward --trials.
	Evidence bool
	// Value is what the sampler is told when Evidence is true.
	Value     float64
	Feasible  bool
	Violation string // why the SLA was missed, for people
}

// Evaluate scores a result against the SLA. Whether the requests all succeeded is the runner's judgement
// (runner.CheckBench gives the class RequestsFailed, with its message); Evaluate only grades it, by the share
// of the prompts that failed, so that fewer failures rank above more.
func Evaluate(res runner.Result, sla SLA) Score {
	if res.Class != runner.OK && !res.Class.ConfigFault() {
		return Score{Evidence: false}
	}
	if res.Class == runner.Pruned {
		return prunedScore(res)
	}
	b := res.Bench
	if b == nil || (res.Class != runner.OK && res.Class != runner.RequestsFailed) {
		return Score{Evidence: true, Value: CrashValue, Violation: string(res.Class)}
	}
	tpot, ttft := b.P99TPOT(), b.P99TTFT()
	var v float64
	var why []string
	if Misses(tpot, sla.MaxP99TPOTms) {
		v += excess(tpot, sla.MaxP99TPOTms)
		why = append(why, fmt.Sprintf("P99 TPOT %.1f ms >= %.0f ms", tpot, sla.MaxP99TPOTms))
	}
	if Misses(ttft, sla.MaxP99TTFTms) {
		v += excess(ttft, sla.MaxP99TTFTms)
		why = append(why, fmt.Sprintf("P99 TTFT %.0f ms >= %.0f ms", ttft, sla.MaxP99TTFTms))
	}
	if res.Class == runner.RequestsFailed {
		missing := max(b.Failed, b.NumPrompts-b.Completed)
		v += 1 + float64(missing)/math.Max(1, float64(b.NumPrompts))
		why = append(why, res.Message)
	}
	if len(why) == 0 {
		return Score{Evidence: true, Value: b.OutputThroughput, Feasible: true}
	}
	return Score{Evidence: true, Value: -1 - math.Min(v, maxViolation), Violation: strings.Join(why, "; ")}
}

// Misses reports whether a P99 misses its SLA limit: limits are strict (equal misses), and a missing or
// non-finite value misses. Evaluate judges by it, and the tables that mark a missed limit read it.
func Misses(value, limit float64) bool { return excess(value, limit) >= 0 }

// excess is how far value is over limit, relative to the limit; negative when it is under. A missing or
// non-finite value counts as far over.
func excess(value, limit float64) float64 {
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return maxViolation
	}
	return (value - limit) / limit
}
