package report

import (
	"sort"

	"github.com/autotune/autotune/store"
)

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
		if !r.Finished() || r.Objective == nil {
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

// Measurement is one run of a config measured more than once.
type Measurement struct {
	Number           int      `json:"number"`
	OutputThroughput float64  `json:"output_throughput"`
	P99TPOTms        *float64 `json:"p99_tpot_ms"`
	P99TTFTms        *float64 `json:"p99_ttft_ms"`
}

// bestOf builds the view of the best config from its candidate. With one measurement it is that trial; with
// several it is the first one's with the mean throughput and mean TPOT, the worst P99 latencies of all of
// them (the SLA has to hold on every run), and Measurements listing each run.
func bestOf(c Candidate, byNumber map[int]*Trial) *Trial {
	first := *byNumber[c.Trials[0].Number]
	best := &first
	if len(c.Trials) == 1 {
		return best
	}
	// A feasible trial's objective is its throughput, so the candidate's mean is the mean throughput.
	mean, meanTPOT, tpotKnown := c.Mean, 0.0, true
	n := float64(len(c.Trials))
	for _, tr := range c.Trials {
		v := byNumber[tr.Number]
		best.Measurements = append(best.Measurements, Measurement{Number: v.Number, OutputThroughput: *v.OutputThroughput,
			P99TPOTms: v.P99TPOTms, P99TTFTms: v.P99TTFTms})
		best.P99TPOTms = maxPtr(best.P99TPOTms, v.P99TPOTms)
		best.P99TTFTms = maxPtr(best.P99TTFTms, v.P99TTFTms)
		if v.MeanTPOTms != nil {
			meanTPOT += *v.MeanTPOTms / n
		} else {
			tpotKnown = false
		}
	}
	best.OutputThroughput = &mean
	best.MeanTPOTms = nil
	if tpotKnown {
		best.MeanTPOTms = &meanTPOT
	}
	// The mean TTFT of several runs is not shown: the P99s carry the SLA, and a mean of one run would mislead.
	best.MeanTTFTms = nil
	return best
}

func maxPtr(a, b *float64) *float64 {
	if a == nil || (b != nil && *b > *a) {
		return b
	}
	return a
}
