package tuner

import (
	"fmt"
	"math"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
)

// Pruning (issue 10, runner/prune.go): with Options.Prune the runner watches every benchmark's /metrics and stops
// one whose outcome is settled. A pruned trial counts toward --trials (it used the GPU), is recorded in goptuna as
// PRUNED with the projected output rate after every scrape as its intermediate values, and its told value is
// the last one: TPE (package sampler) reads pruned trials like complete ones, so it learns from them. A pruned trial is
// never a pick: the pick needs complete measurements (Candidates).

// DefaultPrune is whether autotune prunes by default (searchq/RESULTS.md: the ensemble's pick quality with and
// without pruning).
const DefaultPrune = true

const (
	// PruneMinProgress is how much of the expected output the throughput rule waits for. Over 276 random
	// configs of 12 ensemble members the projection after 25% of the output was still up to 11% below the final
	// throughput (FLEX_ATTENTION and eager runs, whose rate climbs over the run); after 40%, at most 2.0%
	// (searchq's TestProjectionError).
	PruneMinProgress = 0.4
	// PruneProjectionError bounds how far the projection after PruneMinProgress can fall below the final
	// throughput (see PruneMinProgress).
	PruneProjectionError = 0.03
	// defaultRunNoise is the relative run-to-run standard deviation assumed before the study has measured a
	// config twice: two T4 runs of one config differed by 4.4% (t4-calibration.md §2.1), σ ≈ 4.4%/√2.
	defaultRunNoise = 0.031
)

// pruneRule is the rule the next trial is watched by, or nil.
func (t *Tuner) pruneRule(label string) (*runner.PruneRule, error) {
	if !t.opts.Prune || report.IsRepeat(label) {
		return nil, nil
	}
	w := t.opts.Workload
	rule := &runner.PruneRule{NumPrompts: w.NumPrompts, OutputLen: w.OutputLen, MaxP99TTFT: t.opts.SLA.MaxP99TTFTms / 1000,
		MinProgress: PruneMinProgress}
	recs, err := t.db.Trials(t.studyID)
	if err != nil {
		return nil, err
	}
	if best, ok := report.Best(recs); ok {
		rule.Incumbent = best.Mean
		rule.Margin = pruneMargin(report.Candidates(recs))
	}
	return rule, nil
}

// pruneMargin is how far below the incumbent a projection must be to prune: the projection's own error plus
// three standard deviations of the difference of two runs (√2 σ), σ the pooled relative spread of the configs
// measured more than once (the confirmation repeats), defaultRunNoise until there are any.
func pruneMargin(cs []report.Candidate) float64 {
	sigma := defaultRunNoise
	ss, dof := 0.0, 0
	for _, c := range cs {
		if len(c.Trials) < 2 || !c.Feasible || c.Mean <= 0 {
			continue
		}
		for _, tr := range c.Trials {
			d := (*tr.Objective - c.Mean) / c.Mean
			ss += d * d
		}
		dof += len(c.Trials) - 1
	}
	if dof >= 2 {
		sigma = math.Max(defaultRunNoise/2, math.Sqrt(ss/float64(dof)))
	}
	return PruneProjectionError + 3*math.Sqrt2*sigma
}

// prunedScore is what a pruned trial tells the sampler: its projected output rate when it could not win, a
// small SLA violation when its P99 TTFT was lost.
func prunedScore(res runner.Result) Score {
	if len(res.Watch) == 0 {
		return Score{Evidence: true, Value: CrashValue, Violation: "pruned without evidence"}
	}
	v := res.Watch[len(res.Watch)-1]
	if v.Rule == "ttft" {
		return Score{Evidence: true, Value: -1 - math.Min(v.TTFTLate/100, maxViolation), Violation: v.Reason}
	}
	return Score{Evidence: true, Value: v.Projected, Violation: v.Reason}
}

// tellPruned records a pruned trial: its intermediate values (the projection after every scrape, then the told
// value), then the PRUNED state.
func (t *Tuner) tellPruned(id int, rec store.Trial, res runner.Result, value float64) error {
	for i, v := range res.Watch {
		if err := t.trials.SetIntermediateValue(id, i, v.Projected); err != nil {
			return fmt.Errorf("record pruned trial %d: %w", rec.Number, err)
		}
	}
	if err := t.trials.SetIntermediateValue(id, len(res.Watch), value); err != nil {
		return fmt.Errorf("record pruned trial %d: %w", rec.Number, err)
	}
	rec.State = store.StatePruned
	v := value
	rec.Objective = &v
	rec.TrialID = id
	return t.db.Finish(rec, goptuna.TrialStatePruned, value)
}
