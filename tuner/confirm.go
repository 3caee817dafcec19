package tuner

import (
	"fmt"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/store"
)

// DefaultConfirm is how many of a study's last trials re-measure its best configs, by default. One measurement
// has about 4% run-to-run noise on a T4, and among many near-equal configs the one with the luckiest measurement
// wins (the winner's curse). On the simulator, TPE's picks at 40 trials were 1.6 points of the optimum below the
// best config they had measured (searchq/RESULTS.md). A second measurement of the top few before the pick
// recovers part of that for a few trials of budget.
const DefaultConfirm = 3

// confirmShare caps the repeats at one trial in confirmShare of the budget, so that a small study still
// searches: --trials 10 gets one repeat, --trials 7 none.
const confirmShare = 8

// confirmSlots is how many trials at the end of a study of n trials re-measure the best configs.
func confirmSlots(confirm, n int) int {
	return min(confirm, n/confirmShare)
}

// repeatOf chooses the config to measure again in the confirmation phase: the best of the `top` best feasible
// candidates that was measured only once. It returns false when they all have two measurements: then the study
// goes on searching.
func repeatOf(recs []store.Trial, top int) (store.Trial, bool) {
	cs := report.Candidates(recs)
	for i := 0; i < len(cs) && i < top && cs[i].Feasible; i++ {
		if len(cs[i].Trials) == 1 {
			return cs[i].Trials[0], true
		}
	}
	return store.Trial{}, false
}

// queueRepeat enqueues a re-measurement of one of the best configs when the study has reached its last
// confirmSlots trials and nothing else is queued.
func (t *Tuner) queueRepeat(finished int) error {
	slots := confirmSlots(t.opts.Confirm, t.opts.Trials)
	if slots <= 0 || finished < t.opts.Trials-slots {
		return nil
	}
	if _, queued, err := t.queued(); err != nil || queued {
		return err
	}
	recs, err := t.db.Measurements(t.studyID)
	if err != nil {
		return err
	}
	rec, ok := repeatOf(recs, slots)
	if !ok {
		return nil
	}
	params, err := t.trials.TrialParams(rec.TrialID)
	if err != nil {
		return fmt.Errorf("repeat trial %d: %w", rec.Number, err)
	}
	return t.enqueue(params, report.RepeatLabel(rec.Number))
}

// queued returns the study's trials and whether one of them waits in its queue: the confirmation and local
// phases add a trial only when none does, so that a retry or an earlier move runs first.
func (t *Tuner) queued() ([]goptuna.FrozenTrial, bool, error) {
	trials, err := t.trials.GoptunaTrials(t.studyID)
	if err != nil {
		return nil, false, fmt.Errorf("read study: %w", err)
	}
	for _, ft := range trials {
		if ft.State == goptuna.TrialStateWaiting {
			return trials, true, nil
		}
	}
	return trials, false, nil
}
