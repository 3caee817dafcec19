package tuner

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand"
	"sync"

	"github.com/c-bata/goptuna"
	"github.com/c-bata/goptuna/tpe"
)

// Sampler names accepted by --sampler.
var Samplers = []string{"tpe", "random", "grid"}

// newSampler builds the named sampler. seed is already mixed with the study's progress (see Tuner.open), so a
// resumed study draws new startup points instead of replaying the first run's.
func newSampler(name string, seed int64, startupTrials int) (goptuna.Sampler, error) {
	switch name {
	case "tpe":
		if startupTrials <= 0 {
			startupTrials = DefaultStartupTrials
		}
		return &phasedSampler{
			startup: newUniformSampler(seed),
			// TPE's own startup phase would use goptuna's RandomSampler (see uniformSampler), so ours runs it.
			tpe:   tpe.NewSampler(tpe.SamplerOptionSeed(seed), tpe.SamplerOptionWeights(flatWeights), tpe.SamplerOptionNumberOfStartupTrials(0)),
			after: startupTrials,
		}, nil
	case "random":
		return newUniformSampler(seed), nil
	case "grid":
		return &gridSampler{seed: uint64(seed)}, nil
	}
	return nil, fmt.Errorf("--sampler %q: must be one of tpe, random, grid", name)
}

// DefaultStartupTrials is how many finished trials TPE waits for before it models the objective.
const DefaultStartupTrials = 10

// phasedSampler draws uniformly until the study has `after` finished trials, then hands over to TPE.
type phasedSampler struct {
	startup, tpe goptuna.Sampler
	after        int
}

// Sample implements goptuna.Sampler.
func (p *phasedSampler) Sample(study *goptuna.Study, trial goptuna.FrozenTrial, name string, dist interface{}) (float64, error) {
	trials, err := study.GetTrials()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range trials {
		if t.State == goptuna.TrialStateComplete {
			n++
		}
	}
	if n < p.after {
		return p.startup.Sample(study, trial, name, dist)
	}
	return p.tpe.Sample(study, trial, name, dist)
}

// uniformSampler draws every parameter uniformly from its whole domain with its own seeded generator.
// goptuna v0.9.0's RandomSampler has two defects that matter here: integer draws use rng.Intn(High-Low), so
// the upper bound is never drawn, and categorical draws use the unseeded global math/rand, so a seeded study is
// not reproducible.
type uniformSampler struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func newUniformSampler(seed int64) *uniformSampler {
	return &uniformSampler{rng: rand.New(rand.NewSource(seed))}
}

// Sample implements goptuna.Sampler.
func (u *uniformSampler) Sample(_ *goptuna.Study, _ goptuna.FrozenTrial, _ string, dist interface{}) (float64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch d := dist.(type) {
	case goptuna.CategoricalDistribution:
		return float64(u.rng.Intn(len(d.Choices))), nil
	case goptuna.IntUniformDistribution:
		return float64(d.Low + u.rng.Intn(d.High-d.Low+1)), nil
	case goptuna.StepIntUniformDistribution:
		return float64(d.Low + u.rng.Intn((d.High-d.Low)/d.Step+1)*d.Step), nil
	case goptuna.UniformDistribution:
		return d.Low + u.rng.Float64()*(d.High-d.Low), nil
	case goptuna.LogUniformDistribution:
		lo, hi := math.Log(d.Low), math.Log(d.High)
		return math.Exp(lo + u.rng.Float64()*(hi-lo)), nil
	case goptuna.DiscreteUniformDistribution:
		steps := int(math.Round((d.High - d.Low) / d.Q))
		return d.Low + float64(u.rng.Intn(steps+1))*d.Q, nil
	}
	return 0, fmt.Errorf("uniform sampler: unsupported distribution %T", dist)
}

// flatWeights weighs every observation equally. goptuna v0.9.0's default weights ramp down observations older
// than the last 25, but its categorical counting (tpe.bincount) indexes the weights by category instead of by
// observation, so past 25 observations the first choice of every categorical parameter is counted at a fraction
// of its weight: TPE then believes that choice was rarely bad and keeps proposing it (a parameter whose first
// choice always crashed was proposed nine times in a row in TestSamplerMovesAwayFromFailures). With equal weights
// the mis-indexing has no effect. A 40-trial study loses nothing by not down-weighting old trials.
func flatWeights(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

// gridLevels is how many evenly spaced levels a numeric range gets in grid search.
const gridLevels = 5

// gridSampler restricts every parameter to a grid (every choice of a categorical parameter, gridLevels evenly
// spaced levels of a numeric one) and picks each parameter's level from a hash of (seed, trial number, parameter
// name). A full grid of this space has millions of points, so an ordered sweep would spend a 40-trial budget
// varying one or two parameters; hashing spreads the budget over every parameter's levels, which is what a person
// running a coarse grid on a budget would do. It is a baseline for comparison, not a recommendation.
type gridSampler struct{ seed uint64 }

// Sample implements goptuna.Sampler.
func (g *gridSampler) Sample(study *goptuna.Study, trial goptuna.FrozenTrial, name string, dist interface{}) (float64, error) {
	levels, err := gridValues(dist)
	if err != nil {
		return 0, err
	}
	// The digit for a parameter is taken from an index shuffled per (trial, parameter name), so each parameter
	// cycles through its levels evenly across trials while parameters stay decorrelated.
	idx := mix(g.seed ^ uint64(trial.Number)*0x9E3779B97F4A7C15 ^ hashName(name))
	return levels[idx%uint64(len(levels))], nil
}

func hashName(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// mix is splitmix64's finaliser: a bijection on uint64 with good avalanche.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// gridValues lists the internal representations of a distribution's grid levels.
func gridValues(dist interface{}) ([]float64, error) {
	spread := func(lo, hi float64, n int, round func(float64) float64) []float64 {
		if hi <= lo {
			return []float64{lo}
		}
		var out []float64
		for i := 0; i < n; i++ {
			v := round(lo + (hi-lo)*float64(i)/float64(n-1))
			if len(out) == 0 || out[len(out)-1] != v {
				out = append(out, v)
			}
		}
		return out
	}
	id := func(x float64) float64 { return x }
	switch d := dist.(type) {
	case goptuna.CategoricalDistribution:
		out := make([]float64, len(d.Choices))
		for i := range out {
			out[i] = float64(i)
		}
		return out, nil
	case goptuna.IntUniformDistribution:
		return spread(float64(d.Low), float64(d.High), gridLevels, math.Round), nil
	case goptuna.StepIntUniformDistribution:
		step := float64(d.Step)
		return spread(float64(d.Low), float64(d.High), gridLevels, func(x float64) float64 {
			return float64(d.Low) + math.Round((x-float64(d.Low))/step)*step
		}), nil
	case goptuna.UniformDistribution:
		return spread(d.Low, d.High, gridLevels, id), nil
	case goptuna.DiscreteUniformDistribution:
		return spread(d.Low, d.High, gridLevels, func(x float64) float64 {
			return d.Low + math.Round((x-d.Low)/d.Q)*d.Q
		}), nil
	case goptuna.LogUniformDistribution:
		lo, hi := math.Log(d.Low), math.Log(d.High)
		vals := spread(lo, hi, gridLevels, id)
		for i := range vals {
			vals[i] = math.Exp(vals[i])
		}
		return vals, nil
	}
	return nil, fmt.Errorf("grid sampler: unsupported distribution %T", dist)
}
