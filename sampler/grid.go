package sampler

import (
	"fmt"
	"hash/fnv"
	"math"

	"github.com/c-bata/goptuna"
)

// gridLevels is how many evenly spaced levels a numeric range gets in grid search.
const gridLevels = 5

// grid restricts every parameter to a grid (every choice of a categorical parameter, gridLevels evenly
// spaced levels of a numeric one) and picks each parameter's level from a hash of (seed, trial number, parameter
// name). A full grid of this space has millions of points, so an ordered sweep would spend a 40-trial budget
// varying one or two parameters; hashing spreads the budget over every parameter's levels, which is what a person
// running a coarse grid on a budget would do. It is a baseline for comparison, not a recommendation.
type grid struct{ seed uint64 }

// Sample implements Sampler.
func (g *grid) Sample(_ History, trial goptuna.FrozenTrial, name string, dist interface{}) (float64, error) {
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
