package space_test

import (
	"testing"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sampler"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/space"
)

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
	u := sampler.NewUniform(3)
	for i := 0; i < 1500; i++ {
		c, err := s.Sample(u.Suggester())
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
		if err := sim.CheckConfig(argv, map[string]bool{sim.ArcticInference: true}); err != nil {
			t.Fatalf("%q: the simulator refuses it: %v", c.Args, err)
		}
	}
}
