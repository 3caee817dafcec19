package sampler

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
	"sync"

	"github.com/c-bata/goptuna"
	"github.com/c-bata/goptuna/tpe"
)

// flatWeights weighs every observation equally. goptuna v0.9.0's default weights ramp down observations older
// than the last 25, but its categorical counting (tpe.bincount) indexes the weights by category instead of by
// observation, so past 25 observations the first choice of every categorical parameter is counted at a fraction
// of its weight: TPE then believes that choice was rarely bad and keeps proposing it (a parameter whose first
// choice always crashed was proposed nine times in a row in TestSamplerMovesAwayFromFailures). With equal weights
// the mis-indexing has no effect. A 40-trial study loses nothing by not down-weighting old trials. Since
// tpeSampler samples categorical parameters itself (with equal weights), this now matters only for the numeric
// parameters it hands to goptuna, where the same defect does not arise; the equal weights keep the two halves of
// TPE consistent.
func flatWeights(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

// tpeCandidates is how many candidates TPE draws from l(x), the density of the best trials, for a categorical
// parameter before it keeps the one with the highest l(x)/g(x). goptuna's default of 24 is more than any
// parameter here has choices, and goptuna then scores every choice instead of drawing: TPE becomes a
// deterministic argmax of l/g that rarely proposes a value again once it appeared in poor trials. On the
// simulator without suffix decoding, where the optimum needs fp8 weights and a long stream interval together,
// that argmax picked a median of 89.4% of the optimum (9 of 30 seeds at >= 95%); drawing 2 candidates picked
// 98.6% (26 of 30). More candidates drift back towards the argmax: 3 gave 19 of 30; and with 4 startup trials,
// 2, 3, 4 and 6 candidates gave 20, 22, 20 and 13 (searchq/RESULTS.md).
const tpeCandidates = 2

// tpeSampler is goptuna v0.9.0's TPE with categorical (and small integer) parameters sampled by our own code,
// for two defects: goptuna draws the EI candidates of a categorical parameter (and picks the mixture component
// of a numeric one) from the global, unseeded math/rand, so a seeded study would not be reproducible once fewer
// candidates than choices are drawn; and with more candidates than choices it does not draw at all (see
// tpeCandidates). The estimator is goptuna's: the trials are split at gamma (tpe.DefaultGamma, the best 10%)
// into "below" and "above", each choice's density is its count plus a prior weight of 1, normalised; candidates
// are drawn from the below density and the one with the largest below/above ratio is returned. Integer
// parameters with at most MaxCategoricalInts values (the n-gram knobs) are treated as categorical over their
// values; wider numeric parameters (only from space files) go to goptuna's sampler unchanged.
type tpeSampler struct {
	mu         sync.Mutex
	rng        *rand.Rand
	candidates int
	numeric    Sampler
}

// MaxCategoricalInts is the widest integer range tpeSampler models as categorical (and the tuner's local moves
// step through).
const MaxCategoricalInts = 16

// tpePriorWeight is the pseudo-count of every choice in both densities (goptuna's default).
const tpePriorWeight = 1.0

// Sample implements Sampler.
func (s *tpeSampler) Sample(h History, trial goptuna.FrozenTrial, name string, dist interface{}) (float64, error) {
	var n int
	var value func(i int) float64
	var index func(x float64) int
	switch d := dist.(type) {
	case goptuna.CategoricalDistribution:
		n = len(d.Choices)
		value = func(i int) float64 { return float64(i) }
		index = func(x float64) int { return int(x) }
	case goptuna.IntUniformDistribution:
		if d.High-d.Low+1 > MaxCategoricalInts {
			return s.numeric.Sample(h, trial, name, dist)
		}
		n = d.High - d.Low + 1
		value = func(i int) float64 { return float64(d.Low + i) }
		index = func(x float64) int { return int(math.Round(x)) - d.Low }
	default:
		return s.numeric.Sample(h, trial, name, dist)
	}
	type obs struct {
		i int
		v float64
	}
	var seen []obs
	for _, t := range h.Trials {
		value, ok := ToldValue(t) // complete, or pruned with its last intermediate value
		if !ok {
			continue
		}
		if x, ok := t.InternalParams[name]; ok {
			if i := index(x); i >= 0 && i < n {
				seen = append(seen, obs{i, value})
			}
		}
	}
	// Best first (the study maximises); ties keep trial order.
	sort.SliceStable(seen, func(a, b int) bool { return seen[a].v > seen[b].v })
	nBelow := tpe.DefaultGamma(len(seen))
	below, above := make([]float64, n), make([]float64, n)
	for i := range below {
		below[i], above[i] = tpePriorWeight, tpePriorWeight
	}
	for k, o := range seen {
		if k < nBelow {
			below[o.i]++
		} else {
			above[o.i]++
		}
	}
	sumB, sumA := 0.0, 0.0
	for i := 0; i < n; i++ {
		sumB += below[i]
		sumA += above[i]
	}
	ratio := func(i int) float64 { return (below[i] / sumB) / (above[i] / sumA) }

	s.mu.Lock()
	defer s.mu.Unlock()
	best := -1
	for c := 0; c < s.candidates; c++ {
		r := s.rng.Float64() * sumB
		i := 0
		for ; i < n-1 && r >= below[i]; i++ {
			r -= below[i]
		}
		if best < 0 || ratio(i) > ratio(best) {
			best = i
		}
	}
	return value(best), nil
}

// goptunaSampler runs one of goptuna's samplers on an explicit history. goptuna's samplers read the trials
// through a *goptuna.Study (Study.GetTrials, and Study.Direction, which only goptuna can set), so this one keeps
// a study of its own, maximising, whose storage answers with the history it is given.
type goptunaSampler struct {
	mu      sync.Mutex
	inner   goptuna.Sampler
	study   *goptuna.Study
	history *historyStorage
}

// historyStorage is goptuna's in-memory storage that lists the trials it is told to instead of its own.
type historyStorage struct {
	goptuna.Storage
	trials []goptuna.FrozenTrial
}

// GetAllTrials implements goptuna.Storage.
func (s *historyStorage) GetAllTrials(int) ([]goptuna.FrozenTrial, error) { return s.trials, nil }

func newGoptunaSampler(inner goptuna.Sampler) (*goptunaSampler, error) {
	hs := &historyStorage{Storage: goptuna.NewInMemoryStorage()}
	study, err := goptuna.CreateStudy("history", goptuna.StudyOptionStorage(hs),
		goptuna.StudyOptionDirection(goptuna.StudyDirectionMaximize), goptuna.StudyOptionLogger(nil))
	if err != nil {
		return nil, fmt.Errorf("goptuna's study in memory: %w", err)
	}
	return &goptunaSampler{inner: inner, study: study, history: hs}, nil
}

// Sample implements Sampler.
func (g *goptunaSampler) Sample(h History, trial goptuna.FrozenTrial, name string, dist interface{}) (float64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.history.trials = h.Trials
	return g.inner.Sample(g.study, trial, name, dist)
}
