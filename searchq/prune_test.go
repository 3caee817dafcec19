package searchq

import (
	"testing"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sampler"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/tuner"
)

// The projection the throughput rule prunes on never understates a run's final throughput by more than the
// error the tuner's margin allows, on random configs of several ensemble members.
func TestProjectionError(t *testing.T) {
	worst := 0.0
	n := 0
	for _, m := range Members(24, 1)[:4] {
		sp, err := m.Space()
		if err != nil {
			t.Fatal(err)
		}
		u := sampler.NewUniform(int64(m.Index) + 100)
		for i := 0; i < 8; i++ {
			c, err := sp.Sample(u.Suggester())
			if err != nil {
				t.Fatal(err)
			}
			out := sim.PredictOn(m.Landscape(), PackagesOf(m.Kind), append([]string{"Qwen/Qwen2.5-0.5B"}, c.Args...), sim.WorkloadOf(runner.DefaultWorkload()), 3)
			if out.Failure != nil {
				continue
			}
			rule := runner.PruneRule{NumPrompts: 200, OutputLen: 512, MinProgress: tuner.PruneMinProgress}
			vs, stopped := Watch(rule, out, ScrapeEvery)
			if stopped >= 0 {
				t.Fatalf("%s %v: stopped at %gs without an incumbent or a TTFT limit", m.Name(), c.Args, stopped)
			}
			for _, v := range vs {
				if v.Progress >= tuner.PruneMinProgress {
					n++
					if under := out.OutputThroughput/v.Projected - 1; under > worst {
						worst = under
					}
					break
				}
			}
		}
	}
	if n < 15 {
		t.Fatalf("only %d runs reached %.0f%% of their output while watched", n, 100*tuner.PruneMinProgress)
	}
	if worst > tuner.PruneProjectionError {
		t.Errorf("a projection understated the final throughput by %.1f%%, more than the %.1f%% the margin allows", 100*worst, 100*tuner.PruneProjectionError)
	}
}

// A config that misses the TTFT limit by far is stopped in its first wave; one that meets every limit and
// beats the incumbent runs to its end; one far below the incumbent stops after PruneMinProgress of its output.
func TestWatchPrunesSettledRuns(t *testing.T) {
	w := sim.WorkloadOf(runner.DefaultWorkload())
	rule := runner.PruneRule{NumPrompts: 200, OutputLen: 512, MaxP99TTFT: 2, MinProgress: tuner.PruneMinProgress}
	eager := sim.Predict([]string{"Qwen/Qwen2.5-0.5B", "--enforce-eager", "--max-num-batched-tokens", "1024", "--attention-backend", "FLEX_ATTENTION"}, w, 1)
	if eager.Failure != nil {
		t.Fatal(eager.Failure.Message)
	}
	if eager.P99TTFTMs < 2500 {
		t.Fatalf("probe config has P99 TTFT %.0f ms; the test needs one far above 2 s", eager.P99TTFTMs)
	}
	vs, at := Watch(rule, eager, ScrapeEvery)
	if at < 0 || vs[len(vs)-1].Rule != "ttft" || at > eager.BenchmarkSeconds/2 {
		t.Errorf("P99 TTFT %.0f ms over %.0fs: stopped at %gs by %+v, want the TTFT rule in the first half", eager.P99TTFTMs, eager.BenchmarkSeconds, at, vs[len(vs)-1])
	}
	base := sim.Predict([]string{"Qwen/Qwen2.5-0.5B"}, w, 1)
	rule.Incumbent, rule.Margin = base.OutputThroughput*0.98, 0.15
	if vs, at := Watch(rule, base, ScrapeEvery); at >= 0 {
		t.Errorf("baseline (%.0f tok/s, P99 TTFT %.0f ms) against an incumbent of %.0f: pruned at %gs: %s", base.OutputThroughput, base.P99TTFTMs, rule.Incumbent, at, vs[len(vs)-1].Reason)
	}
	rule.Incumbent = base.OutputThroughput * 2
	vs, at = Watch(rule, base, ScrapeEvery)
	if at < 0 || vs[len(vs)-1].Rule != "throughput" || vs[len(vs)-1].Progress < tuner.PruneMinProgress {
		t.Errorf("baseline against twice its throughput: stopped at %gs, want the throughput rule after %.0f%% of the output", at, 100*tuner.PruneMinProgress)
	}
}
