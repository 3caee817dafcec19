package report

import (
	"sort"
)

// Importance is how much of the spread of results one parameter explains, with the mean result at each of its
// values.
//
// The method (documented in the HTML report too): every finished, measured-or-failed trial that is not a
// duplicate scores its feasible throughput (its output throughput when it met the SLA, 0 when it missed it,
// crashed or was refused). For each parameter the trials are grouped by its value (a conditional parameter that
// was not sampled counts as its own value, "(not set)"), and the score is the adjusted share of the variance
// explained by that grouping alone, epsilon-squared of a one-way analysis of variance:
//
//	(SS_between - (k-1) * SS_within/(n-k)) / SS_total, clamped at 0,
//
// where k is the number of values seen and n the number of trials. The adjustment keeps a parameter with many
// values, each seen once or twice, from looking important by chance. It is a first-order, marginal measure:
// parameters the sampler varied together share credit, and interactions (suffix decoding helps only with
// enough KV cache) are not separated. goptuna ships no importance evaluator and no well-kept Go library
// implements fANOVA, so this simple, reproducible method stands in for Optuna's fANOVA.
type Importance struct {
	Param  string        `json:"param"`
	Score  float64       `json:"score"` // 0..1: the adjusted share of variance explained
	Values []ValueEffect `json:"values"`
}

// ValueEffect is the trials at one value of a parameter.
type ValueEffect struct {
	Value    string  `json:"value"`
	Trials   int     `json:"trials"`
	Feasible int     `json:"feasible"`
	Mean     float64 `json:"mean_feasible_throughput"` // mean score: feasible throughput, 0 for the rest
	Best     float64 `json:"best_feasible_throughput"`
}

// notSet is the value of a conditional parameter in a trial that did not sample it.
const notSet = "(not set)"

// Score is the feasible throughput of a trial: its throughput when it met the SLA, else 0.
func (t Trial) Score() float64 {
	if t.Feasible && t.OutputThroughput != nil {
		return *t.OutputThroughput
	}
	return 0
}

// Importances ranks the parameters of the study's finished trials, most important first.
func (v *View) Importances() []Importance {
	var ts []Trial
	names := map[string]bool{}
	for _, t := range v.Trials {
		if !t.Finished || len(t.Params) == 0 {
			continue
		}
		ts = append(ts, t)
		for k := range t.Params {
			names[k] = true
		}
	}
	n := float64(len(ts))
	if n < 3 {
		return nil
	}
	mean := 0.0
	for _, t := range ts {
		mean += t.Score() / n
	}
	total := 0.0
	for _, t := range ts {
		d := t.Score() - mean
		total += d * d
	}
	var out []Importance
	for name := range names {
		groups := map[string][]float64{}
		for _, t := range ts {
			val, ok := t.Params[name]
			if !ok {
				val = notSet
			}
			groups[val] = append(groups[val], t.Score())
		}
		imp := Importance{Param: name}
		between := 0.0
		for val, scores := range groups {
			e := ValueEffect{Value: val, Trials: len(scores)}
			for _, s := range scores {
				e.Mean += s / float64(len(scores))
				e.Best = max(e.Best, s)
				if s > 0 {
					e.Feasible++
				}
			}
			between += float64(len(scores)) * (e.Mean - mean) * (e.Mean - mean)
			imp.Values = append(imp.Values, e)
		}
		k := float64(len(groups))
		if total > 0 && k > 1 && n > k {
			within := total - between
			imp.Score = max(0, (between-(k-1)*within/(n-k))/total)
		}
		sort.Slice(imp.Values, func(i, j int) bool {
			if imp.Values[i].Mean != imp.Values[j].Mean {
				return imp.Values[i].Mean > imp.Values[j].Mean
			}
			return imp.Values[i].Value < imp.Values[j].Value
		})
		out = append(out, imp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Param < out[j].Param
	})
	return out
}

// FailureClass is how many trials failed one way, and which.
type FailureClass struct {
	Class   string `json:"class"`
	Outcome string `json:"outcome"`
	Trials  []int  `json:"trials"`
	Example string `json:"example"` // the first one's message
}

// Failures groups the trials that did not produce a feasible or infeasible measurement by failure class,
// most frequent first. Duplicates are left out: they ran nothing.
func (v *View) Failures() []FailureClass {
	byClass := map[string]*FailureClass{}
	var order []*FailureClass
	for _, t := range v.Trials {
		if t.Failure == "" || t.DuplicateOf != nil {
			continue
		}
		c := byClass[t.Failure]
		if c == nil {
			c = &FailureClass{Class: t.Failure, Outcome: t.Outcome, Example: t.Message}
			byClass[t.Failure] = c
			order = append(order, c)
		}
		c.Trials = append(c.Trials, t.Number)
	}
	out := make([]FailureClass, len(order))
	for i, c := range order {
		out[i] = *c
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].Trials) > len(out[j].Trials) })
	return out
}
