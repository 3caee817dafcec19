package model

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/autotune/autotune/runner"
)

// Run-to-run noise: B vs B' differ by ≈4.4% on an identical config [M t4-calibration.md §2.1]. Each server
// start draws one factor that multiplies every step, with this standard deviation, clipped at ±3σ.
const runNoiseSigma = 0.02

// Outcome is what a simulated trial produces: a refusal with vLLM's message, or the benchmark's metrics.
type Outcome struct {
	// Failure is non-nil when vLLM would refuse the config (argparse: ExitCode 2; otherwise 1).
	Failure *Failure
	Engine  *Engine
	Memory  MemPlan

	StartupSeconds     float64 // to /health 200 with a warm compile cache
	StartupColdSeconds float64 // the same with a cold compile cache
	BenchmarkSeconds   float64 // the benchmark's duration
	FailSeconds        float64 // with a Failure: how long the refused start ran before it exited
	Noise              float64 // the run's step-time factor

	Metrics MetricSet
	Stats   RunStats
	// Requests are the benchmark's requests with their timelines (LiveAt replays /metrics from them).
	Requests []RequestResult

	OutputThroughput float64 // tok/s
	MeanTTFTMs       float64
	MedianTTFTMs     float64
	P99TTFTMs        float64
	MeanTPOTMs       float64
	P99TPOTMs        float64
	MeanITLMs        float64
	P99ITLMs         float64
}

// DefaultWorkload is the scored benchmark, runner.DefaultWorkload, as the simulator runs it.
func DefaultWorkload() Workload { return WorkloadOf(runner.DefaultWorkload()) }

// WorkloadOf is the benchmark that w, autotune's one workload, has the simulator run in process (Predict): its
// model, prompts, lengths and concurrency, all at once unless RequestRate is a finite number. The fields that
// runner.Workload has no flag for stay zero, which the DES reads as those flags' defaults, and ExtraArgs are not
// read: `autotune sim bench serve` takes the whole workload, ExtraArgs included, from its argv instead.
func WorkloadOf(w runner.Workload) Workload {
	rate := 0.0
	if r, err := strconv.ParseFloat(w.RequestRate, 64); err == nil && !math.IsInf(r, 0) {
		rate = r
	}
	return Workload{Model: w.Model, NumPrompts: w.NumPrompts, InputLen: w.InputLen, OutputLen: w.OutputLen,
		MaxConcurrency: w.MaxConcurrency, RequestRate: rate}
}

// Predict simulates `vllm serve <args>` followed by `vllm bench serve` with workload w, in process and without
// sleeping. args are the arguments after `vllm serve` (model first, as on the command line). seed 0 gives the
// model's central value (no run-to-run noise); any other seed draws the noise as a real rerun would. Predict
// and the `serve`/`bench serve` path share the same parser, validation, memory, startup and scheduler code.
func Predict(args []string, w Workload, seed int64) Outcome {
	return predictEnv(args, w, seed, Env{Packages: map[string]bool{ArcticInference: true}})
}

func predictEnv(args []string, w Workload, seed int64, env Env) Outcome {
	var out Outcome
	a, err := ParseServeArgs(args)
	if err != nil {
		out.Failure = &Failure{Phase: PhaseParse, ExitCode: 2, Message: err.Error()}
		return out
	}
	e, fail := ResolveEngine(a, env)
	out.Engine = e
	warm := PlanStartup(a, e, fail, 0, false, "", nil)
	if warm.Fail != nil {
		out.Failure = warm.Fail
		out.FailSeconds = warm.FailAt
		out.Memory = warm.Mem
		return out
	}
	cold := PlanStartup(a, e, fail, 0, true, "", nil)
	out.Memory = warm.Mem
	out.StartupSeconds, out.StartupColdSeconds = warm.ReadyAt, cold.ReadyAt
	out.Noise = runNoise(seed, e)
	rs, st := RunBench(e, warm.Mem, w, out.Noise, runRNG(seed, e))
	out.Stats = st
	out.Requests = rs
	out.BenchmarkSeconds = st.Duration
	out.Metrics = ComputeMetrics(rs, st.Duration, []string{"ttft", "tpot", "itl", "e2el"}, []float64{50, 99}, nil)
	m := &out.Metrics
	out.OutputThroughput = m.OutputThroughput
	out.MeanTTFTMs, _ = m.Stat("mean_ttft_ms")
	out.MedianTTFTMs, _ = m.Stat("median_ttft_ms")
	out.P99TTFTMs, _ = m.Stat("p99_ttft_ms")
	out.MeanTPOTMs, _ = m.Stat("mean_tpot_ms")
	out.P99TPOTMs, _ = m.Stat("p99_tpot_ms")
	out.MeanITLMs, _ = m.Stat("mean_itl_ms")
	out.P99ITLMs, _ = m.Stat("p99_itl_ms")
	return out
}

// ConfigHash identifies an engine config for seeding.
func ConfigHash(e *Engine) uint64 {
	h := fnv.New64a()
	h.Write([]byte(e.CompileKey()))
	h.Write([]byte(strings.Join([]string{e.Backend, e.CGMode, pyBool(e.Async), pyBool(e.PrefixCaching)}, "|")))
	var b [8]byte
	for i, v := range []float64{e.Util, float64(e.MaxNumSeqs), float64(e.StreamInterval), e.Temperature} {
		bits := math.Float64bits(v)
		for k := range b {
			b[k] = byte(bits >> (8 * k))
		}
		h.Write(b[:])
		_ = i
	}
	return h.Sum64()
}

// runNoise draws the run's step-time factor: 1 for seed 0.
func runNoise(seed int64, e *Engine) float64 {
	if seed == 0 {
		return 1
	}
	r := rand.New(rand.NewPCG(uint64(seed), ConfigHash(e)^0x6e6f697365))
	return noiseFactor(e, r)
}

// noiseFactor is one run's step-time factor: 1 + σ·z with z a standard normal draw clipped to ±3 and σ the
// landscape's NoiseSigma, for both Predict and a server start.
func noiseFactor(e *Engine, r *rand.Rand) float64 {
	return 1 + e.land().NoiseSigma*math.Max(-3, math.Min(3, r.NormFloat64()))
}

func runRNG(seed int64, e *Engine) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), ConfigHash(e)))
}

// StartNoise draws the step-time factor of one start of engine e from rng (the `serve` path; Predict's runNoise
// draws it from the seed and the config).
func StartNoise(rng *rand.Rand, e *Engine) float64 { return noiseFactor(e, rng) }
