package report

import (
	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
)

// stateNames are goptuna's trial states in store's words, which are also those of `trials --format json`.
var stateNames = map[goptuna.TrialState]string{
	goptuna.TrialStateRunning: store.StateRunning, goptuna.TrialStateComplete: store.StateComplete,
	goptuna.TrialStatePruned: store.StatePruned, goptuna.TrialStateFail: store.StateFailed,
	goptuna.TrialStateWaiting: store.StateWaiting,
}

// Outcomes: what happened to a trial's config, in one word for people (the "state" column of `trials`).
const (
	Feasible    = "feasible"    // measured, and met the SLA
	Infeasible  = "infeasible"  // measured, and missed the SLA (Violation says how)
	Refused     = "refused"     // vLLM refused the config at startup with a reason: a flag, a limit, this GPU
	Crashed     = "crashed"     // the server died, ran out of memory or never became ready
	Pruned      = "pruned"      // stopped early by the study's pruner
	Duplicate   = "duplicate"   // the same command line as an earlier trial: its result was reused, nothing ran
	Interrupted = "interrupted" // stopped by the user or a dead autotune; not counted, runs again
	Harness     = "harness"     // our side failed (port taken, GPU not free, benchmark tool); not counted, runs again
	Running     = "running"
	Queued      = "queued" // waiting to run: the baseline, a starting point, a retry or a confirmation run
)

// refusals are the failure classes in which vLLM explained why it would not serve the config.
var refusals = map[runner.Class]bool{
	runner.InvalidFlag: true, runner.ConfigRefused: true, runner.UnsupportedOnGPU: true, runner.KVCacheTooSmall: true,
}

// CountFinished counts the records that count toward --trials.
func CountFinished(recs []store.Trial) int {
	n := 0
	for _, r := range recs {
		if r.Finished() {
			n++
		}
	}
	return n
}

// OutcomeOf is the Outcome of a trial record whose State is store's word for goptuna's state.
func OutcomeOf(rec store.Trial) string { return outcome(rec.State, rec) }

// outcome derives a trial's Outcome from its state and record.
func outcome(state string, rec store.Trial) string {
	switch state {
	case store.StateWaiting:
		return Queued
	case store.StateRunning:
		return Running
	case store.StatePruned:
		return Pruned
	case store.StateFailed:
		if rec.Failure == string(runner.Interrupted) {
			return Interrupted
		}
		return Harness
	}
	switch {
	case rec.DuplicateOf != nil:
		return Duplicate
	case rec.Feasible:
		return Feasible
	case refusals[runner.Class(rec.Failure)]:
		return Refused
	case rec.Failure != "" && rec.Failure != string(runner.RequestsFailed):
		return Crashed
	}
	return Infeasible
}
