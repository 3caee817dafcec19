package tuner

import (
	"fmt"
	"hash/fnv"
	"math"
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
// others stay TPE's. With moves ranked by fitEffects, the 8 trials just before the confirmation trials (every
// one) did better on searchq's ensemble than every second of the last 16, and than 12 or 16 moves
// (searchq/RESULTS.md): TPE keeps its trials up to trial 28 of 40, and the moves climb from its best.
const (
	DefaultLocal      = 8
	DefaultLocalEvery = 1
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
	if t.opts.Sampler != sampler.TPE {
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

// surrogateRidge is the ridge penalty of nextMove's additive model, in units of one trial's squared error (of
// log throughput): it pulls the effect of a value seen in one or two trials most of the way back to zero, the
// effect of a value no trial holds.
const surrogateRidge = 1.0

// nextMove ranks the incumbent's untried one-parameter moves by the gain an additive model of the finished
// trials predicts for them (fitEffects), and returns the best. Every trial is evidence for the values it holds,
// whatever company they were in: a value that only ever crashed or missed the SLA (eager mode) comes last, a
// value of slow trials (a slow attention backend) is predicted to lose, and a value nobody tried is predicted
// neither to win nor to lose. The earlier ranking, TPE's density ratio with a prior count of 1 per value, ranked
// a value nobody tried above proven ones, and half of the local moves went to eager mode, FLEX_ATTENTION,
// bitsandbytes or n-gram speculation, which could not win (searchq/RESULTS.md).
func nextMove(inc goptuna.FrozenTrial, trials []goptuna.FrozenTrial, seed int64) (lever, bool) {
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
	effect := fitEffects(inc, trials)
	var moves []lever
	for p, d := range inc.Distributions {
		values, shown := leverValues(d)
		for i, v := range values {
			if v == inc.InternalParams[p] || tried(p, v) {
				continue
			}
			score := effect[feature{p, v}] - effect[feature{p, inc.InternalParams[p]}]
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

// feature is one (parameter, internal value) indicator of nextMove's model.
type feature struct {
	param string
	value float64
}

// fitEffects fits nextMove's additive model over the lever parameters of inc: log(y) = b + Σ effect(p, x_p) over
// the feasible finished trials, y a trial's told value, by ridge regression (surrogateRidge on the effects, none
// on b). A value no feasible trial holds has effect 0; a value held only by trials that crashed or missed the
// SLA (told a value ≤ 0) gets failedEffect, so that a move to it comes last.
func fitEffects(inc goptuna.FrozenTrial, trials []goptuna.FrozenTrial) map[feature]float64 {
	type row struct {
		x []int // feature indexes
		y float64
	}
	index := map[feature]int{}
	var feats []feature
	var rows []row
	names := make([]string, 0, len(inc.Distributions))
	for p, d := range inc.Distributions {
		if vs, _ := leverValues(d); len(vs) > 0 {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	failed := map[feature]bool{}
	for _, ft := range trials {
		v, ok := sampler.ToldValue(ft)
		if !ok {
			continue
		}
		if v <= 0 {
			for _, p := range names {
				if x, ok := ft.InternalParams[p]; ok {
					if _, seen := failed[feature{p, x}]; !seen {
						failed[feature{p, x}] = true
					}
				}
			}
			continue
		}
		r := row{y: math.Log(v)}
		for _, p := range names {
			x, ok := ft.InternalParams[p]
			if !ok {
				continue
			}
			f := feature{p, x}
			failed[f] = false
			i, seen := index[f]
			if !seen {
				i = len(feats)
				index[f] = i
				feats = append(feats, f)
			}
			r.x = append(r.x, i)
		}
		rows = append(rows, r)
	}
	out := map[feature]float64{}
	for f, only := range failed {
		if only {
			out[f] = failedEffect
		}
	}
	if len(rows) == 0 {
		return out
	}
	// Normal equations of [b, effects]: (XᵀX + λI') β = Xᵀy, I' without the intercept's entry.
	n := len(feats) + 1
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n+1)
	}
	for i := 1; i < n; i++ {
		a[i][i] = surrogateRidge
	}
	for _, r := range rows {
		cols := make([]int, 0, len(r.x)+1)
		cols = append(cols, 0)
		for _, i := range r.x {
			cols = append(cols, i+1)
		}
		for _, i := range cols {
			for _, j := range cols {
				a[i][j]++
			}
			a[i][n] += r.y
		}
	}
	beta, ok := solve(a)
	if !ok {
		return out
	}
	for f, i := range index {
		out[f] = beta[i+1]
	}
	return out
}

// failedEffect is the effect nextMove's model gives a value that only ever crashed or missed the SLA: far below
// any log-throughput difference.
const failedEffect = -10

// solve solves the augmented linear system a (n rows of n+1) by Gaussian elimination with partial pivoting.
func solve(a [][]float64) ([]float64, bool) {
	n := len(a)
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-12 {
			return nil, false
		}
		a[c], a[p] = a[p], a[c]
		for r := c + 1; r < n; r++ {
			f := a[r][c] / a[c][c]
			for k := c; k <= n; k++ {
				a[r][k] -= f * a[c][k]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := a[r][n]
		for k := r + 1; k < n; k++ {
			s -= a[r][k] * x[k]
		}
		x[r] = s / a[r][r]
	}
	return x, true
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
