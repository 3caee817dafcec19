package tuner

import (
	"testing"

	"github.com/c-bata/goptuna"
)

// TestUniformSamplerCoversBounds guards the two goptuna RandomSampler defects uniformSampler exists for.
func TestUniformSamplerCoversBounds(t *testing.T) {
	dists := map[string]interface{}{
		"int":  goptuna.IntUniformDistribution{Low: 1, High: 3},
		"step": goptuna.StepIntUniformDistribution{Low: 0, High: 8, Step: 4},
		"cat":  goptuna.CategoricalDistribution{Choices: []string{"a", "b", "c"}},
		"disc": goptuna.DiscreteUniformDistribution{Low: 0.5, High: 0.9, Q: 0.2},
	}
	want := map[string][]float64{"int": {1, 2, 3}, "step": {0, 4, 8}, "cat": {0, 1, 2}, "disc": {0.5, 0.7, 0.9}}
	for name, d := range dists {
		seen := map[float64]bool{}
		u := newUniformSampler(1)
		for i := 0; i < 200; i++ {
			v, err := u.Sample(nil, goptuna.FrozenTrial{}, name, d)
			if err != nil {
				t.Fatal(err)
			}
			seen[float64(int(v*10+0.5))/10] = true
		}
		for _, w := range want[name] {
			if !seen[w] {
				t.Errorf("%s: never drew %v (drew %v)", name, w, seen)
			}
		}
		if len(seen) != len(want[name]) {
			t.Errorf("%s: drew values off the domain: %v", name, seen)
		}
	}
}

func TestUniformSamplerIsReproducible(t *testing.T) {
	d := goptuna.CategoricalDistribution{Choices: []string{"a", "b", "c", "d", "e"}}
	draw := func() []float64 {
		u := newUniformSampler(42)
		var out []float64
		for i := 0; i < 20; i++ {
			v, _ := u.Sample(nil, goptuna.FrozenTrial{}, "x", d)
			out = append(out, v)
		}
		return out
	}
	a, b := draw(), draw()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different draws: %v vs %v", a, b)
		}
	}
}

func TestGridSamplerStaysOnGrid(t *testing.T) {
	g := &gridSampler{seed: 3}
	d := goptuna.UniformDistribution{Low: 0, High: 1}
	levels := map[float64]bool{0: true, 0.25: true, 0.5: true, 0.75: true, 1: true}
	seen := map[float64]bool{}
	for n := 0; n < 100; n++ {
		v, err := g.Sample(nil, goptuna.FrozenTrial{Number: n}, "u", d)
		if err != nil {
			t.Fatal(err)
		}
		if !levels[v] {
			t.Fatalf("trial %d: %v is not a grid level", n, v)
		}
		seen[v] = true
	}
	if len(seen) != len(levels) {
		t.Errorf("100 trials visited %d of %d levels", len(seen), len(levels))
	}
}
