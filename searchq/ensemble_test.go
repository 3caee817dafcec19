package searchq

import (
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/tuner"
)

// The member with every calibrated value is today's simulator: the ensemble perturbs it, it does not replace it.
func TestDefaultMemberIsTheCalibratedSimulator(t *testing.T) {
	land := BuildLandscape(sim.T4(), DefaultValues())
	sp, err := Space("t4")
	if err != nil {
		t.Fatal(err)
	}
	w := sim.WorkloadOf(runner.DefaultWorkload())
	configs := append(sp.KnownGood(), sp.Baseline())
	for _, extra := range [][]string{{"--quantization", "fp8", "--stream-interval", "16"}, {"--no-async-scheduling", "--block-size", "32"},
		{"--attention-backend", "TRITON_ATTN", "--optimization-level", "1"}} {
		c := sp.Baseline()
		c.Args = extra
		configs = append(configs, c)
	}
	for _, c := range configs {
		for _, seed := range []int64{0, 5} {
			argv := append([]string{"Qwen/Qwen2.5-0.5B"}, c.Args...)
			want := sim.Predict(argv, w, seed)
			got := sim.PredictOn(&land, map[string]bool{sim.ArcticInference: true}, argv, w, seed)
			if math.Abs(got.OutputThroughput-want.OutputThroughput) > 1e-9*want.OutputThroughput || got.P99TTFTMs != want.P99TTFTMs && math.Abs(got.P99TTFTMs-want.P99TTFTMs) > 1e-6 {
				t.Errorf("%v seed %d: default member gives %.3f tok/s (P99 TTFT %.3f), the simulator %.3f (%.3f)", c.Args, seed,
					got.OutputThroughput, got.P99TTFTMs, want.OutputThroughput, want.P99TTFTMs)
			}
		}
	}
}

func TestMembersDrawWithinTheirRanges(t *testing.T) {
	ms := Members(40, 3)
	if !reflect.DeepEqual(ms, Members(40, 3)) {
		t.Fatal("the same seed drew two different ensembles")
	}
	if a, b := Members(40, 3)[5].Values, Members(12, 3)[5].Values; !reflect.DeepEqual(a, b) {
		t.Error("member 5 depends on the ensemble's size")
	}
	if reflect.DeepEqual(ms[0].Values, Members(1, 4)[0].Values) {
		t.Error("another ensemble seed drew the same member")
	}
	kinds := map[string]int{}
	for _, m := range ms {
		kinds[m.Kind]++
		if want := m.Index >= 30; m.HeldOut != want {
			t.Errorf("%s: held out %v, want %v (the last quarter)", m.Name(), m.HeldOut, want)
		}
		for _, r := range Ranges {
			v, ok := m.Values[r.Name]
			if !ok || v < r.Lo || v > r.Hi {
				t.Errorf("%s: %s = %v (present %v), outside [%v, %v]", m.Name(), r.Name, v, ok, r.Lo, r.Hi)
			}
		}
	}
	for _, k := range Kinds {
		if kinds[k] == 0 {
			t.Errorf("no member of kind %s in %v", k, kinds)
		}
	}
	for _, r := range Ranges {
		if !(r.Lo < r.Hi) || r.Default < r.Lo || r.Default > r.Hi || r.What == "" || r.Why == "" {
			t.Errorf("range %s: [%v, %v] default %v, what %q, why %q: want Lo < Hi, the calibrated value inside, and both reasons", r.Name, r.Lo, r.Hi, r.Default, r.What, r.Why)
		}
	}
}

// sensitiveTo names, per range, a machine and flags whose simulated outcome that range changes. A range without
// an entry fails the test: every range must be wired into the simulator.
var sensitiveTo = map[string]struct {
	kind string
	args []string
}{
	"row_share":         {"t4", nil},
	"chunk_share":       {"t4", nil},
	"mixed_step_ms":     {"t4", []string{"--max-num-batched-tokens", "8192"}},
	"piecewise_ms":      {"t4", []string{"--optimization-level", "1"}},
	"no_graph_ms":       {"t4", []string{"--max-cudagraph-capture-size", "8"}},
	"prefix_hash_us":    {"t4", nil},
	"no_async_ms":       {"t4", []string{"--no-async-scheduling"}},
	"ngram_propose_ms":  {"t4", []string{"--speculative-config", `{"method":"ngram","num_speculative_tokens":4,"prompt_lookup_max":4,"prompt_lookup_min":2}`}},
	"suffix_propose_ms": {"t4", []string{"--speculative-config", `{"method":"suffix"}`}},
	"verify_kv":         {"t4", []string{"--speculative-config", `{"method":"suffix"}`}},
	"triton_kv":         {"t4", []string{"--attention-backend", "TRITON_ATTN"}},
	"flex_kv":           {"t4", []string{"--attention-backend", "FLEX_ATTENTION"}},
	"flash_attn_kv":     {"l4", nil},
	"block32_kv":        {"t4", []string{"--block-size", "32"}},
	"block64_kv":        {"t4", []string{"--block-size", "64"}},
	"fp8_parity_rows":   {"t4", []string{"--quantization", "fp8"}},
	"fp8_prefill":       {"t4", []string{"--quantization", "fp8"}},
	"fp8_fixed_ms":      {"t4", []string{"--quantization", "fp8"}},
	"kv_fp8":            {"l4", []string{"--kv-cache-dtype", "fp8"}},
	"ngram_acceptance":  {"t4", []string{"--speculative-config", `{"method":"ngram","num_speculative_tokens":4,"prompt_lookup_max":4,"prompt_lookup_min":2}`}},
	"suffix_acceptance": {"t4", []string{"--speculative-config", `{"method":"suffix"}`}},
	"noise_sigma":       {"t4", nil},
	"act_base_gib":      {"t4", nil},
	"graph_per_max_gib": {"t4", nil},
}

func TestEveryRangeChangesTheSimulator(t *testing.T) {
	w := sim.WorkloadOf(runner.DefaultWorkload())
	for _, r := range Ranges {
		probe, ok := sensitiveTo[r.Name]
		if !ok {
			t.Errorf("range %s: no probe config in sensitiveTo", r.Name)
			continue
		}
		outcome := func(v float64) string {
			vals := DefaultValues()
			vals[r.Name] = v
			land := BuildLandscape(GPUOf(probe.kind), vals)
			out := sim.PredictOn(&land, PackagesOf(probe.kind), append([]string{"Qwen/Qwen2.5-0.5B"}, probe.args...), w, 7)
			if out.Failure != nil {
				return "refused: " + out.Failure.Message
			}
			return fmt.Sprintf("%.6f tok/s, KV %.6f GiB, graphs %.6f GiB, noise %.6f", out.OutputThroughput, out.Memory.KVGiB, out.Memory.GraphGiB, out.Noise)
		}
		lo, hi := outcome(r.Lo), outcome(r.Hi)
		if lo == hi {
			t.Errorf("range %s: %v and %v give the same outcome for %s %v: %s", r.Name, r.Lo, r.Hi, probe.kind, probe.args, lo)
		}
	}
}

// The L4 allows what the T4 refuses: bf16, FLASH_ATTN and an fp8 KV cache.
func TestL4AllowsWhatTheT4Refuses(t *testing.T) {
	w := sim.WorkloadOf(runner.DefaultWorkload())
	for _, args := range [][]string{{"--dtype", "bfloat16"}, {"--attention-backend", "FLASH_ATTN"}, {"--kv-cache-dtype", "fp8"}} {
		argv := append([]string{"Qwen/Qwen2.5-0.5B"}, args...)
		t4 := BuildLandscape(sim.T4(), DefaultValues())
		if out := sim.PredictOn(&t4, nil, argv, w, 0); out.Failure == nil {
			t.Errorf("%v: the T4 started it (%.0f tok/s), want a refusal", args, out.OutputThroughput)
		}
		l4 := BuildLandscape(sim.L4(), DefaultValues())
		if out := sim.PredictOn(&l4, nil, argv, w, 0); out.Failure != nil || !(out.OutputThroughput > 0) {
			t.Errorf("%v: the L4 refused it: %v", args, out.Failure)
		}
	}
}

// The committed optima still hold: each was found for its member's current values and space, and the simulator
// still gives its value.
func TestCachedEnsembleOptimaHold(t *testing.T) {
	cache, err := LoadEnsembleOptima("")
	if err != nil {
		t.Fatal(err)
	}
	if len(cache.Members) == 0 {
		t.Skip("no ensemble optima committed")
	}
	ms := Members(len(cache.Members), 1)
	for _, m := range ms {
		sp, err := m.Space()
		if err != nil {
			t.Fatal(err)
		}
		ev := NewEvaluatorOn(runner.DefaultWorkload(), tuner.DefaultSLA(), m.Landscape(), PackagesOf(m.Kind))
		mo, ok := cache.Lookup(m, sp, ev)
		if !ok {
			t.Errorf("%s: the committed optimum (%q, fingerprint %s) no longer holds for fingerprint %s: recompute it (searchq --ensemble %d)",
				m.Name(), mo.Member, mo.Fingerprint, m.Fingerprint(sp), len(ms))
		}
	}
}
