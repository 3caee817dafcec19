package tuner

import (
	"fmt"
	"hash/fnv"
	"sort"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/sampler"
)

// Late local search (issue 10). On the landscapes of searchq's ensemble the best configs combine several levers
// that are each worth a few percent (fp8 weights, the stream interval, the capture sizes, the token budget, ...).
// TPE finds the region early but samples every parameter afresh each trial, so late in a study it rarely
// proposes "the incumbent with one thing changed", which is what the last few percent need. The local phase
// spends some of the last trials on exactly that: the incumbent (the current pick, tuner.Best) with one
// parameter moved to another value, the most promising untried move first.

// DefaultLocal is how many trials before the confirmation phase move one lever of the incumbent, by default,
// and DefaultLocalEvery how they are spread: every DefaultLocalEvery-th trial of the window is a local move, the
// others stay TPE's. Measured on searchq's ensemble (searchq/RESULTS.md).
const (
	DefaultLocal      = 8
	DefaultLocalEvery = 2
)

// localPrefix starts the label of a local-search trial.
const localPrefix = "local: "

// localWindow is the first finished count of the local phase and the end (the confirmation phase) of it.
func localWindow(local, every, trials, confirm int) (from, to int) {
	to = trials - confirmSlots(confirm, trials)
	if local <= 0 || every <= 0 {
		return to, to
	}
	from = max(0, to-local*every)
	return from, to
}

// queueLocal enqueues the next one-lever move around the incumbent when the study is in its local phase.
func (t *Tuner) queueLocal(finished int) error {
	if t.opts.Sampler != "tpe" {
		return nil
	}
	every := t.opts.LocalEvery
	if every <= 0 {
		every = 1
	}
	from, to := localWindow(t.opts.Local, every, t.opts.Trials, t.opts.Confirm)
	if finished < from || finished >= to || (finished-from)%every != every-1 {
		return nil
	}
	trials, queued, err := t.queued()
	if err != nil || queued {
		return err
	}
	recs, err := t.db.Measurements(t.studyID)
	if err != nil {
		return err
	}
	best, ok := report.Best(recs)
	if !ok {
		return nil
	}
	var inc goptuna.FrozenTrial
	found := false
	for _, ft := range trials {
		if ft.ID == best.Trials[0].TrialID {
			inc, found = ft, true
		}
	}
	if !found {
		return nil
	}
	move, ok := nextMove(inc, trials, t.opts.Seed)
	if !ok {
		return nil
	}
	params := map[string]float64{}
	for k, v := range inc.InternalParams {
		params[k] = v
	}
	params[move.param] = move.value
	return t.enqueue(params, fmt.Sprintf("%s%s=%s around #%d", localPrefix, move.param, move.shown, inc.Number))
}

// IsLocal reports whether a trial label marks a local-search move.
func IsLocal(label string) bool {
	return len(label) >= len(localPrefix) && label[:len(localPrefix)] == localPrefix
}

type lever struct {
	param string
	value float64 // internal representation
	shown string
	score float64
	tie   uint64
}

// nextMove ranks the incumbent's untried one-parameter moves by TPE's ratio of densities, l(x)/g(x), over the
// finished trials split at the best quarter (a prior count of 1 for every value), and returns the best.
func nextMove(inc goptuna.FrozenTrial, trials []goptuna.FrozenTrial, seed int64) (lever, bool) {
	var done []goptuna.FrozenTrial
	for _, ft := range trials {
		if ft.State == goptuna.TrialStateComplete {
			done = append(done, ft)
		}
	}
	sort.SliceStable(done, func(i, j int) bool { return done[i].Value > done[j].Value })
	nBelow := max(1, (len(done)+3)/4)
	tried := func(p string, v float64) bool {
		for _, ft := range trials {
			if ft.State != goptuna.TrialStateComplete && ft.State != goptuna.TrialStateRunning &&
				ft.State != goptuna.TrialStateWaiting && ft.State != goptuna.TrialStatePruned {
				continue
			}
			x, ok := ft.InternalParams[p]
			if !ok || x != v {
				continue
			}
			same := true
			for k, iv := range inc.InternalParams {
				if k == p {
					continue
				}
				if tv, ok := ft.InternalParams[k]; ok && tv != iv {
					same = false
					break
				}
			}
			if same {
				return true
			}
		}
		return false
	}
	var moves []lever
	for p, d := range inc.Distributions {
		values, shown := leverValues(d)
		for i, v := range values {
			if v == inc.InternalParams[p] || tried(p, v) {
				continue
			}
			below, above := 1.0, 1.0
			nb, na := 0.0, 0.0
			for k, ft := range done {
				x, ok := ft.InternalParams[p]
				in := k < nBelow
				if in {
					nb++
				} else {
					na++
				}
				if ok && x == v {
					if in {
						below++
					} else {
						above++
					}
				}
			}
			score := (below / (nb + float64(len(values)))) / (above / (na + float64(len(values))))
			h := fnv.New64a()
			fmt.Fprintf(h, "%d|%s|%g", seed, p, v)
			moves = append(moves, lever{param: p, value: v, shown: shown[i], score: score, tie: h.Sum64()})
		}
	}
	if len(moves) == 0 {
		return lever{}, false
	}
	sort.Slice(moves, func(i, j int) bool {
		if moves[i].score != moves[j].score {
			return moves[i].score > moves[j].score
		}
		return moves[i].tie < moves[j].tie
	})
	return moves[0], true
}

// leverValues lists the values a one-lever move can set a parameter to: every choice of a categorical one, every
// integer of a small integer range; none for wider numeric ranges.
func leverValues(d interface{}) ([]float64, []string) {
	var vs []float64
	var shown []string
	switch d := d.(type) {
	case goptuna.CategoricalDistribution:
		for i, c := range d.Choices {
			vs = append(vs, float64(i))
			shown = append(shown, fmt.Sprint(c))
		}
	case goptuna.IntUniformDistribution:
		if d.High-d.Low+1 <= sampler.MaxCategoricalInts {
			for x := d.Low; x <= d.High; x++ {
				vs = append(vs, float64(x))
				shown = append(shown, fmt.Sprint(x))
			}
		}
	}
	return vs, shown
}
