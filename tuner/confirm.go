package tuner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/c-bata/goptuna"

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

// Candidate is one distinct command line of a study with every measurement of it: the trial that ran it first
// and the repeats of that trial. Duplicates (proposals answered from an earlier result) are not measurements.
type Candidate struct {
	Key      string
	Trials   []store.Trial // complete measurements, in trial order
	Feasible bool          // every measurement met the SLA
	Mean     float64       // mean of the measurements' objectives: the output throughput when Feasible
}

// Numbers are the trial numbers of the measurements.
func (c Candidate) Numbers() []int {
	out := make([]int, len(c.Trials))
	for i, t := range c.Trials {
		out[i] = t.Number
	}
	return out
}

// Candidates groups a study's complete measurements by command line, best first: feasible candidates by mean
// throughput, then the rest by mean objective. A config counts as feasible only if every measurement of it
// met the SLA: a config that passed once and failed once is not a safe pick.
func Candidates(recs []store.Trial) []Candidate {
	byKey := map[string]*Candidate{}
	var order []*Candidate
	sorted := append([]store.Trial(nil), recs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Number < sorted[j].Number })
	for _, r := range sorted {
		if r.State != store.StateComplete || r.DuplicateOf != nil || r.Objective == nil {
			continue
		}
		c := byKey[r.ConfigKey]
		if c == nil {
			c = &Candidate{Key: r.ConfigKey, Feasible: true}
			byKey[r.ConfigKey] = c
			order = append(order, c)
		}
		c.Trials = append(c.Trials, r)
		c.Feasible = c.Feasible && r.Feasible
	}
	out := make([]Candidate, 0, len(order))
	for _, c := range order {
		sum := 0.0
		for _, t := range c.Trials {
			sum += *t.Objective
		}
		c.Mean = sum / float64(len(c.Trials))
		out = append(out, *c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Feasible != out[j].Feasible {
			return out[i].Feasible
		}
		return out[i].Mean > out[j].Mean
	})
	return out
}

// Best is the feasible candidate with the highest mean throughput: what `autotune best` reports and exports.
func Best(recs []store.Trial) (Candidate, bool) {
	cs := Candidates(recs)
	if len(cs) == 0 || !cs[0].Feasible {
		return Candidate{}, false
	}
	return cs[0], true
}

// confirmSlots is how many trials at the end of a study of n trials re-measure the best configs.
func confirmSlots(confirm, n int) int {
	return min(confirm, n/confirmShare)
}

// repeatOf chooses the config to measure again in the confirmation phase: the best of the `top` best feasible
// candidates that was measured only once. It returns false when they all have two measurements: then the study
// goes on searching.
func repeatOf(recs []store.Trial, top int) (store.Trial, bool) {
	cs := Candidates(recs)
	for i := 0; i < len(cs) && i < top && cs[i].Feasible; i++ {
		if len(cs[i].Trials) == 1 {
			return cs[i].Trials[0], true
		}
	}
	return store.Trial{}, false
}

// repeatPrefix starts the label of a trial that re-measures an earlier one.
const repeatPrefix = "repeat of #"

// IsRepeat reports whether a trial label marks a confirmation run (a re-measurement of an earlier trial).
func IsRepeat(label string) bool { return strings.HasPrefix(label, repeatPrefix) }

// queueRepeat enqueues a re-measurement of one of the best configs when the study has reached its last
// confirmSlots trials and nothing else is queued.
func (t *Tuner) queueRepeat(finished int) error {
	slots := confirmSlots(t.opts.Confirm, t.opts.Trials)
	if slots <= 0 || finished < t.opts.Trials-slots {
		return nil
	}
	trials, err := t.study.GetTrials()
	if err != nil {
		return fmt.Errorf("read study: %w", err)
	}
	for _, ft := range trials {
		if ft.State == goptuna.TrialStateWaiting {
			return nil
		}
	}
	recs, err := t.db.Trials(t.study.ID)
	if err != nil {
		return err
	}
	rec, ok := repeatOf(recs, slots)
	if !ok {
		return nil
	}
	ft, err := t.db.Storage.GetTrial(rec.TrialID)
	if err != nil {
		return fmt.Errorf("repeat trial %d: %w", rec.Number, err)
	}
	return t.enqueue(ft.InternalParams, fmt.Sprintf("%s%d", repeatPrefix, rec.Number))
}
