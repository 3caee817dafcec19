package sampler

import (
	"errors"
	"fmt"

	"github.com/c-bata/goptuna"
)

// Draw is one config drawn from a sampler in memory: it implements space.Suggester, so that a search space
// draws its parameters through it, and it keeps every value in goptuna's internal representation with its
// distribution, in the order drawn, for the study's record. Nothing reaches a storage.
type Draw struct {
	sampler Sampler
	history History
	trial   goptuna.FrozenTrial
	fixed   map[string]float64

	// Names are the parameters in the order they were drawn; Values and Dists their internal values and
	// distributions.
	Names  []string
	Values map[string]float64
	Dists  map[string]interface{}
}

// NewDraw returns a draw of one config from s for trial, seeing the study's history h. A parameter in fixed
// (a queued trial's values) takes its value there when the value is on the parameter's domain.
func NewDraw(s Sampler, h History, trial goptuna.FrozenTrial, fixed map[string]float64) *Draw {
	return &Draw{sampler: s, history: h, trial: trial, fixed: fixed,
		Values: map[string]float64{}, Dists: map[string]interface{}{}}
}

func (dr *Draw) suggest(name string, dist interface{}) (float64, error) {
	if _, dup := dr.Values[name]; dup {
		return 0, fmt.Errorf("parameter %q drawn twice", name)
	}
	v, ok := dr.fixed[name]
	if !ok || !distContains(dist, v) {
		var err error
		if v, err = dr.sampler.Sample(dr.history, dr.trial, name, dist); err != nil {
			return 0, err
		}
	}
	dr.Names = append(dr.Names, name)
	dr.Values[name] = v
	dr.Dists[name] = dist
	return v, nil
}

func distContains(dist interface{}, v float64) bool {
	switch d := dist.(type) {
	case goptuna.UniformDistribution:
		return d.Contains(v)
	case goptuna.LogUniformDistribution:
		return d.Contains(v)
	case goptuna.DiscreteUniformDistribution:
		return d.Contains(v)
	case goptuna.IntUniformDistribution:
		return d.Contains(v)
	case goptuna.StepIntUniformDistribution:
		return d.Contains(v)
	case goptuna.CategoricalDistribution:
		return d.Contains(v)
	}
	return false
}

var errLowHigh = errors.New("'low' must be smaller than or equal to the 'high'")

// SuggestCategorical implements space.Suggester.
func (dr *Draw) SuggestCategorical(name string, choices []string) (string, error) {
	if len(choices) == 0 {
		return "", errors.New("'choices' must contains one or more elements")
	}
	v, err := dr.suggest(name, goptuna.CategoricalDistribution{Choices: choices})
	if err != nil {
		return "", err
	}
	return choices[int(v)], nil
}

// SuggestInt implements space.Suggester.
func (dr *Draw) SuggestInt(name string, low, high int) (int, error) {
	if low > high {
		return 0, errLowHigh
	}
	d := goptuna.IntUniformDistribution{Low: low, High: high}
	v, err := dr.suggest(name, d)
	if err != nil {
		return 0, err
	}
	return d.ToExternalRepr(v).(int), nil
}

// SuggestStepInt implements space.Suggester.
func (dr *Draw) SuggestStepInt(name string, low, high, step int) (int, error) {
	if low > high {
		return 0, errLowHigh
	}
	if step <= 0 {
		return 0, errors.New("'step' must be larger than 0")
	}
	d := goptuna.StepIntUniformDistribution{Low: low, High: high, Step: step}
	v, err := dr.suggest(name, d)
	if err != nil {
		return 0, err
	}
	return d.ToExternalRepr(v).(int), nil
}

// SuggestFloat implements space.Suggester.
func (dr *Draw) SuggestFloat(name string, low, high float64) (float64, error) {
	if low > high {
		return 0, errLowHigh
	}
	return dr.suggest(name, goptuna.UniformDistribution{Low: low, High: high})
}

// SuggestDiscreteFloat implements space.Suggester.
func (dr *Draw) SuggestDiscreteFloat(name string, low, high, q float64) (float64, error) {
	if low > high {
		return 0, errLowHigh
	}
	d := goptuna.DiscreteUniformDistribution{Low: low, High: high, Q: q}
	v, err := dr.suggest(name, d)
	if err != nil {
		return 0, err
	}
	return d.ToExternalRepr(v).(float64), nil
}

// SuggestLogFloat implements space.Suggester.
func (dr *Draw) SuggestLogFloat(name string, low, high float64) (float64, error) {
	if low > high {
		return 0, errLowHigh
	}
	return dr.suggest(name, goptuna.LogUniformDistribution{Low: low, High: high})
}
