package sampler

import (
	"fmt"
	"math"
	"math/rand"
	"sync"

	"github.com/c-bata/goptuna"
)

// Uniform draws every parameter uniformly from its whole domain with its own seeded generator.
// goptuna v0.9.0's RandomSampler has two defects that matter here: integer draws use rng.Intn(High-Low), so
// the upper bound is never drawn, and categorical draws use the unseeded global math/rand, so a seeded study is
// not reproducible.
type Uniform struct {
	mu  sync.Mutex
	rng *rand.Rand
}

// NewUniform returns a uniform sampler seeded with seed.
func NewUniform(seed int64) *Uniform {
	return &Uniform{rng: rand.New(rand.NewSource(seed))}
}

// Sample implements Sampler. It reads neither the history nor the trial.
func (u *Uniform) Sample(_ History, _ goptuna.FrozenTrial, _ string, dist interface{}) (float64, error) {
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

// Suggester returns a fresh space.Suggester that draws one config uniformly with u (call it again for the next
// config: a Draw refuses a parameter drawn twice).
func (u *Uniform) Suggester() *Draw { return NewDraw(u, History{}, goptuna.FrozenTrial{}, nil) }
