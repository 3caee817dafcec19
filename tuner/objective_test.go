package tuner

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/runner"
)

// The study stores the SLA as tuner.SLA's JSON, and every report reads its limits back through
// report.Study.Limits (report cannot import tuner): the two must agree on the keys.
func TestReportReadsTheStoredSLA(t *testing.T) {
	sla := SLA{MaxP99TPOTms: 37, MaxP99TTFTms: 1234}
	stored, err := json.Marshal(sla)
	if err != nil {
		t.Fatal(err)
	}
	if tpot, ttft := (report.Study{SLA: stored}).Limits(); tpot != 37 || ttft != 1234 {
		t.Errorf("report reads %s as TPOT %v, TTFT %v", stored, tpot, ttft)
	}
}

func TestEvaluate(t *testing.T) {
	sla := DefaultSLA()
	failedHalf := benchResult(3000, 20, 900)
	failedHalf.Class, failedHalf.Message = runner.RequestsFailed, "100 of 200 requests failed (100 completed)"
	failedHalf.Bench.Completed, failedHalf.Bench.Failed = 100, 100
	// The runner owns the judgement of the requests: a result it passed is not re-judged here.
	passed := benchResult(4200, 20, 900)
	passed.Bench.Failed = 3
	// A judgement without a count (no output throughput) still ranks below any feasible result.
	noTput := benchResult(0, 20, 900)
	noTput.Class, noTput.Message = runner.RequestsFailed, "output throughput is 0 although all 200 requests completed"
	tests := []struct {
		name         string
		res          runner.Result
		evidence     bool
		feasible     bool
		value        float64 // checked when not NaN
		minV, maxV   float64 // range otherwise
		violationHas string
	}{
		{name: "feasible", res: benchResult(4200, 20, 900), evidence: true, feasible: true, value: 4200},
		{name: "TPOT at the limit misses it", res: benchResult(9000, 50, 900), evidence: true, value: -1},
		{name: "TTFT over", res: benchResult(9000, 20, 3000), evidence: true, value: -1.5},
		{name: "both over", res: benchResult(9000, 100, 4000), evidence: true, value: -3},
		{name: "requests failed", res: failedHalf, evidence: true, value: -2.5, violationHas: "100 of 200 requests failed"},
		{name: "the runner's OK stands", res: passed, evidence: true, feasible: true, value: 4200},
		{name: "no throughput", res: noTput, evidence: true, value: -2, violationHas: "output throughput is 0"},
		{name: "crash", res: runner.Result{Class: runner.OutOfMemory}, evidence: true, value: CrashValue},
		{name: "refused", res: runner.Result{Class: runner.InvalidFlag}, evidence: true, value: CrashValue},
		{name: "harness", res: runner.Result{Class: runner.Harness}, evidence: false},
		{name: "interrupted", res: runner.Result{Class: runner.Interrupted}, evidence: false},
		{name: "benchmark tool broken", res: runner.Result{Class: runner.BenchmarkFailed}, evidence: false},
		{name: "NaN P99 is far over", res: benchResult(5000, math.NaN(), 900), evidence: true, value: -1 - maxViolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Evaluate(tc.res, sla)
			if s.Evidence != tc.evidence {
				t.Fatalf("evidence = %v, want %v", s.Evidence, tc.evidence)
			}
			if !s.Evidence {
				return
			}
			if s.Feasible != tc.feasible {
				t.Errorf("feasible = %v, want %v", s.Feasible, tc.feasible)
			}
			if math.Abs(s.Value-tc.value) > 1e-9 {
				t.Errorf("value = %v, want %v", s.Value, tc.value)
			}
			if !s.Feasible && s.Violation == "" {
				t.Errorf("infeasible without a reason")
			}
			if !strings.Contains(s.Violation, tc.violationHas) {
				t.Errorf("violation %q does not say %q", s.Violation, tc.violationHas)
			}
		})
	}
}

// TestEvaluateOrdering checks the ranking the sampler relies on: any feasible trial above any infeasible one,
// smaller violations above larger ones, crashes below all.
func TestEvaluateOrdering(t *testing.T) {
	sla := DefaultSLA()
	ordered := []runner.Result{
		benchResult(1, 49, 1999),               // feasible, barely, and slow
		benchResult(20000, 50.5, 100),          // tiny violation, huge throughput
		benchResult(20000, 70, 100),            // larger violation
		benchResult(20000, 1e9, 1e9),           // enormous violation (capped)
		{Class: runner.CrashedDuringBenchmark}, // crash
	}
	prev := math.Inf(1)
	for i, r := range ordered {
		v := Evaluate(r, sla).Value
		if !(v < prev) {
			t.Fatalf("result %d: value %v is not below the previous %v", i, v, prev)
		}
		prev = v
	}
}
