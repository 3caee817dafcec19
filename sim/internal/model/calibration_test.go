package model

import (
	"math"
	"testing"
)

// The measured contest runs (t4-calibration.md §2.1) the simulator is held to, with the tolerances of issue 4.
var (
	workloadB = DefaultWorkload()                                                           // 200 / c=50, 512/512
	workloadA = Workload{NumPrompts: 50, InputLen: 512, OutputLen: 512, MaxConcurrency: 10} // 50 / c=10
	workloadD = Workload{NumPrompts: 100, InputLen: 512, OutputLen: 128}                    // 100 / ∞, 512/128
	runCArgs  = argv(`--enforce-eager --max-model-len 4096 --max-num-batched-tokens 4096 --gpu-memory-utilization 0.95 --speculative-config {"method":"ngram","num_speculative_tokens":5,"prompt_lookup_min":2,"prompt_lookup_max":5}`)
	// bestStock is a plausible hand-tuned stock config (no quantization, no speculation): a graph list that
	// contains the batch of 50, a larger token budget, fewer sequences and a larger stream interval.
	bestStock   = argv("--max-num-seqs 64 --max-num-batched-tokens 8192 --cudagraph-capture-sizes 1 2 4 8 16 24 32 40 48 50 56 64 --stream-interval 16")
	goodSuffix  = argv(`--max-num-seqs 64 --max-num-batched-tokens 8192 --stream-interval 8 --speculative-config {"method":"suffix","num_speculative_tokens":12}`)
	defaultArgs = argv("")
)

func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol*want }

func TestCalibration(t *testing.T) {
	type check struct {
		metric    string
		got       func(o Outcome) float64
		lo, hi    float64
		reference string
	}
	thr := func(o Outcome) float64 { return o.OutputThroughput }
	tests := []struct {
		name   string
		args   []string
		w      Workload
		checks []check
	}{
		{"run B default c=50", defaultArgs, workloadB, []check{
			{"output_throughput", thr, 3332 * 0.95, 3479 * 1.05, "3,332–3,479 within 5%"},
			{"mean_tpot_ms", func(o Outcome) float64 { return o.MeanTPOTMs }, 14.21 * 0.85, 14.21 * 1.15, "14.21 within 15%"},
			{"p99_ttft_ms", func(o Outcome) float64 { return o.P99TTFTMs }, 1180 * 0.85, 1180 * 1.15, "1,180 within 15%"},
		}},
		{"run A default c=10", defaultArgs, workloadA, []check{
			{"output_throughput", thr, 1262 * 0.9, 1262 * 1.1, "1,262 within 10%"},
			{"mean_tpot_ms", func(o Outcome) float64 { return o.MeanTPOTMs }, 7.57 * 0.9, 7.57 * 1.1, "7.57 within 10%"},
		}},
		{"run D burst 100, 512/128", defaultArgs, workloadD, []check{
			{"output_throughput", thr, 2997 * 0.9, 2997 * 1.1, "2,997 within 10%"},
		}},
		{"run C eager + ngram", runCArgs, workloadB, []check{
			{"output_throughput", thr, 1874 * 0.8, 1874 * 1.2, "1,874 within 20%"},
		}},
		{"suffix spec decode, good config", goodSuffix, workloadB, []check{
			{"output_throughput", thr, 7000, 9500, "reported 7,800–9,052 (t4-calibration.md §3.2)"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Predict(tt.args, tt.w, 0)
			if o.Failure != nil {
				t.Fatalf("refused: %s", o.Failure.Text())
			}
			for _, c := range tt.checks {
				v := c.got(o)
				t.Logf("%s = %.2f (target %s)", c.metric, v, c.reference)
				if v < c.lo || v > c.hi {
					t.Errorf("%s = %.2f, outside [%.2f, %.2f] (%s)", c.metric, v, c.lo, c.hi, c.reference)
				}
			}
		})
	}
}

func TestTuningDirections(t *testing.T) {
	base := Predict(defaultArgs, workloadB, 0)
	if base.Failure != nil {
		t.Fatal(base.Failure)
	}
	tests := []struct {
		name   string
		args   []string
		lo, hi float64 // ratio to the default's output throughput
	}{
		{"best plausible stock config beats the default by 15-35%", bestStock, 1.15, 1.35},
		{"eager is slower (t4-calibration.md §5: ≈ halved)", argv("--enforce-eager"), 0.4, 0.8},
		{"-O0 is eager", argv("-O0"), 0.4, 0.8},
		{"capture size 50 avoids the padding to 56", argv("--cudagraph-capture-sizes 1 2 4 8 16 24 32 40 48 50 56 64"), 1.003, 1.1},
		{"larger stream interval helps", argv("--stream-interval 8"), 1.03, 1.2},
		{"batches above the largest graph run without graphs", argv("--max-cudagraph-capture-size 32"), 0.6, 0.95},
		{"no async scheduling costs", argv("--no-async-scheduling"), 0.8, 0.98},
		{"TRITON_ATTN is slower than FlashInfer", argv("--attention-backend TRITON_ATTN"), 0.5, 0.95},
		{"FLEX_ATTENTION is slower still", argv("--attention-backend FLEX_ATTENTION"), 0.3, 0.8},
		{"bitsandbytes is slower than fp16 (§7.2)", argv("-q bitsandbytes"), 0.5, 0.95},
		{"AWQ Marlin checkpoint gains 14-23% (§7.2)", []string{"Qwen/Qwen2.5-0.5B-Instruct-AWQ", "--served-model-name", qwen, "-q", "awq_marlin"}, 1.10, 1.25},
		{"ngram on random prompts does not pay (run C)", argv(`--speculative-config {"method":"ngram","num_speculative_tokens":4}`), 0.5, 1.0},
		{"suffix decoding pays a lot (§3.2)", argv(`--speculative-config {"method":"suffix"}`), 1.6, 3.0},
		{"gpu-memory-utilization is not a throughput knob (vllm.md §16.4)", argv("--gpu-memory-utilization 0.5"), 0.98, 1.02},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Predict(tt.args, workloadB, 0)
			if o.Failure != nil {
				t.Fatalf("refused: %s", o.Failure.Text())
			}
			r := o.OutputThroughput / base.OutputThroughput
			t.Logf("%.0f tok/s, %.3f× the default", o.OutputThroughput, r)
			if r < tt.lo || r > tt.hi {
				t.Errorf("ratio %.3f outside [%.2f, %.2f]", r, tt.lo, tt.hi)
			}
		})
	}
}

func TestStartupModel(t *testing.T) {
	o := Predict(defaultArgs, workloadB, 0)
	// t4-calibration.md §6: ≈46 s warm, +15-25 s cold; eager ≈25 s.
	if !within(o.StartupSeconds, 46, 0.1) {
		t.Errorf("warm startup %.1f s, want ≈46 s", o.StartupSeconds)
	}
	if d := o.StartupColdSeconds - o.StartupSeconds; d < 15 || d > 25 {
		t.Errorf("cold compile adds %.1f s, want 15–25 s", d)
	}
	eager := Predict(argv("--enforce-eager"), workloadB, 0)
	if eager.StartupSeconds < 20 || eager.StartupSeconds > 32 {
		t.Errorf("eager startup %.1f s, want ≈25 s", eager.StartupSeconds)
	}
	small := Predict(argv("--max-num-seqs 64"), workloadB, 0)
	if small.StartupSeconds >= o.StartupSeconds {
		t.Errorf("fewer graphs should start faster: %.1f vs %.1f s", small.StartupSeconds, o.StartupSeconds)
	}
}

// TestNoise: seed 0 is the central value, other seeds vary like the measured reruns (±4%), reproducibly.
func TestNoise(t *testing.T) {
	central := Predict(defaultArgs, workloadB, 0).OutputThroughput
	var xs []float64
	for seed := int64(1); seed <= 12; seed++ {
		xs = append(xs, Predict(defaultArgs, workloadB, seed).OutputThroughput)
	}
	if again := Predict(defaultArgs, workloadB, 3).OutputThroughput; again != xs[2] {
		t.Errorf("seed 3 gave %.1f then %.1f; a seed must reproduce", xs[2], again)
	}
	sd := stdPop(xs) / mean(xs)
	if sd < 0.008 || sd > 0.04 {
		t.Errorf("relative spread %.4f over seeds, want about 0.02", sd)
	}
	for _, x := range xs {
		if !within(x, central, 0.08) {
			t.Errorf("seeded run %.0f far from the central %.0f", x, central)
		}
	}
}

func TestPreemptionUnderTinyKVCache(t *testing.T) {
	// 8,192 KV tokens for 50 requests of up to 1,024 tokens: V1 preempts (recompute), nothing fails.
	o := Predict(argv("--kv-cache-memory-bytes 96M --max-model-len 2048"), workloadB, 0)
	if o.Failure != nil {
		t.Fatal(o.Failure.Text())
	}
	if o.Stats.Preemptions == 0 || o.Metrics.Failed != 0 || o.Metrics.Completed != 200 {
		t.Errorf("preemptions %d, failed %d, completed %d; want preemptions and no failures", o.Stats.Preemptions, o.Metrics.Failed, o.Metrics.Completed)
	}
	full := Predict(argv("--max-model-len 2048"), workloadB, 0)
	if o.OutputThroughput >= full.OutputThroughput {
		t.Errorf("preemption should cost throughput: %.0f vs %.0f", o.OutputThroughput, full.OutputThroughput)
	}
}

func TestRequestsLongerThanMaxModelLenFail(t *testing.T) {
	o := Predict(argv("--max-model-len 1000"), workloadB, 0)
	if o.Failure != nil {
		t.Fatal(o.Failure.Text())
	}
	if o.Metrics.Completed != 0 || o.Metrics.Failed != 200 || o.Metrics.Errors[0] != "Bad Request" {
		t.Errorf("completed %d failed %d; 512+512 > 1000 must be refused with 400 Bad Request", o.Metrics.Completed, o.Metrics.Failed)
	}
}

// BenchmarkSimulate200 measures the CPU cost of simulating the scored benchmark (200 requests, c=50,
// 512/512) including the metric computation.
func BenchmarkSimulate200(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Predict(defaultArgs, workloadB, int64(i))
	}
}
