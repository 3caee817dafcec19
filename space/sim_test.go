package space_test

import (
	"math/rand"
	"testing"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/space"
)

type rnd struct{ r *rand.Rand }

func (s rnd) SuggestCategorical(_ string, c []string) (string, error) {
	return c[s.r.Intn(len(c))], nil
}
func (s rnd) SuggestInt(_ string, lo, hi int) (int, error) { return lo + s.r.Intn(hi-lo+1), nil }
func (s rnd) SuggestStepInt(_ string, lo, hi, st int) (int, error) {
	return lo + st*s.r.Intn((hi-lo)/st+1), nil
}
func (s rnd) SuggestFloat(_ string, lo, hi float64) (float64, error) {
	return lo + s.r.Float64()*(hi-lo), nil
}
func (s rnd) SuggestDiscreteFloat(_ string, lo, _, _ float64) (float64, error) { return lo, nil }
func (s rnd) SuggestLogFloat(_ string, lo, _ float64) (float64, error)         { return lo, nil }

// Every sampled config of the T4 / vLLM 0.15.1 space parses under the simulator's vLLM 0.15.1 flag set,
// and the simulator's config resolution (vLLM's validation, with its messages) accepts it.
func TestSampledArgvParsesUnderSimulator(t *testing.T) {
	p := space.Platform{GPUName: "Tesla T4", ComputeCap: 7.5, MemoryMiB: 15360, VLLMVersion: "0.15.1",
		Packages: map[string]bool{"arctic-inference": true}}
	w := runner.DefaultWorkload()
	s, err := space.Default(p, w)
	if err != nil {
		t.Fatal(err)
	}
	configs := append([]space.Config{s.Baseline()}, s.KnownGood()...)
	r := rnd{rand.New(rand.NewSource(3))}
	for i := 0; i < 1500; i++ {
		c, err := s.Sample(r)
		if err != nil {
			t.Fatal(err)
		}
		configs = append(configs, c)
	}
	for _, c := range configs {
		argv := append([]string{w.Model}, c.Args...)
		if err := sim.CheckServeArgs(argv); err != nil {
			t.Fatalf("%q: %v", c.Args, err)
		}
		a, err := sim.ParseServeArgs(argv)
		if err != nil {
			t.Fatal(err)
		}
		if _, f := sim.ResolveEngine(a, sim.Env{Packages: map[string]bool{"arctic_inference": true, "arctic-inference": true}}); f != nil {
			t.Fatalf("%q: the simulator refuses it: %v", c.Args, f)
		}
	}
}
