package searchq

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand"
	"sort"
	"strings"

	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/space"
)

// This file is the ONE place where the ensemble's ranges live: every constant of the simulator that the published
// data cannot pin down, the interval a member draws it from, and why. RESULTS.md prints the same table
// (`searchq --ranges`). The calibrated value (sim.DefaultLandscape) lies inside every range, so the calibrated
// simulator is one plausible member among many; a search tuned to it alone is what issue 10 found failing on a
// landscape nobody had seen.

// Range is one uncertain constant of the simulator and the interval the ensemble draws it from, uniformly.
type Range struct {
	Name    string
	Lo, Hi  float64
	Default float64 // the calibrated value, sim.DefaultLandscape
	Unit    string
	What    string // which lever's gain or cost it sets
	Why     string // why the data cannot pin it down, and why these bounds
}

// perRowAndSeq is the decode-step fit's per-request slope that the cost model splits into a per-row (graph
// padding) part and a per-request part (scheduling, sampling, per-chunk output): t4-calibration.md §10.3 pins the
// sum through three windows, not the split. The split is held at this sum so every member stays on the fit.
const perRowAndSeq = 0.026 + 0.006 + 0.004 + 0.030

// prefillChunkMs is what a step with a 2,048-token prefill chunk costs apart from attention: the fixed part of a
// mixed step plus the per-token part (cal §10.4), held constant while the split between them is drawn.
const prefillChunkMs = 22.0 + 0.0215*2048

// Ranges are the ensemble's ranges. Each entry's What and Why are its documentation.
var Ranges = []Range{
	// Graph padding: how much a padded CUDA-graph row costs, hence what a capture list containing the real batch
	// size (50) gains.
	{"row_share", 0.2, 0.6, 0.026 / perRowAndSeq, "of the per-request slope",
		"graph padding: cost of a padded row, so the gain of capture sizes that fit the batch",
		"cal §10.3 fits one slope per request (0.066 ms); the refit through padded sizes 16/56/104 cannot separate padded rows from requests [D assumption]"},
	// Stream interval: how much of the per-request work is per streamed chunk.
	{"chunk_share", 0.3, 0.9, 0.030 / (0.006 + 0.004 + 0.030), "of the per-request work",
		"stream interval: the per-chunk output work (detokenize, SSE, host CPU) that --stream-interval saves",
		"no measurement splits scheduling, sampling and output work; the contest winner's stream interval gain is one confounded number [D assumption]"},
	// Token budget: the fixed cost of a step carrying prefill, which a larger max_num_batched_tokens amortises.
	{"mixed_step_ms", 8, 35, 22, "ms",
		"token budget: fixed cost of a step that carries prefill tokens (the rest of the 66 ms of a 2,048-token chunk is per token)",
		"cal §10.4 gives ≈34 µs per prompt token all-in; how much of it is per step is not measured [D assumption]"},
	{"piecewise_ms", 0.5, 2.5, 1.2, "ms",
		"graph mode: per-step cost of a PIECEWISE graph (spec decode, -O1) over FULL",
		"no T4 measurement of FULL vs PIECEWISE [D assumption]"},
	{"no_graph_ms", 2, 7, 4.5, "ms",
		"graph padding: per-step cost of a batch above the largest captured size",
		"taken as about half the eager penalty (8–10 ms, cal §10.4); not measured [D assumption]"},
	{"prefix_hash_us", 0, 1, 0.3, "µs per prompt token",
		"prefix caching: hashing cost on random prompts that never hit",
		"vLLM reports prefix caching as near free; no T4 number [D assumption]"},
	{"no_async_ms", 0.4, 1.5, 0.9, "ms per step (the per-request part scales with it)",
		"async scheduling: the scheduling time exposed without it (and under spec decode)",
		"async scheduling gains are reported on faster GPUs only [D assumption]"},
	{"ngram_propose_ms", 0.01, 0.04, 0.020, "ms per request per step",
		"ngram: CPU cost of the prompt lookup", "not measured [D assumption]"},
	{"suffix_propose_ms", 0.02, 0.08, 0.040, "ms per request per step",
		"suffix decoding: CPU cost of the suffix tree", "not measured [D assumption]"},
	{"verify_kv", 0.05, 0.3, 0.15, "of a request's KV read per draft token",
		"spec decode: extra attention cost of verifying drafts", "not measured [D assumption]"},
	{"triton_kv", 1.5, 3.5, 2.75, "× FlashInfer's KV read",
		"attention backend: TRITON_ATTN's decode attention (its prefill attention 1 + 0.46 × (x − 1), fixed 0.3 ms)",
		"PR #49077 gives 13.5× slower than on an A100 for a 4.9× bandwidth ratio: a range, not a T4 number [D]"},
	{"flex_kv", 2.5, 5, 4, "× FlashInfer's KV read",
		"attention backend: FLEX_ATTENTION (its prefill attention 1 + 2/3 × (x − 1), fixed 1.5 ms)",
		"#25528 says \"much slower\" without a number [D assumption]"},
	{"flash_attn_kv", 0.8, 1.15, 1, "× FlashInfer's KV read",
		"attention backend: FLASH_ATTN on an L4 (prefill attention the same factor); refused on a T4",
		"no L4 comparison of FA2 and FlashInfer for this model [D assumption]"},
	{"block32_kv", 0.94, 1.04, 1, "× KV read",
		"block size 32: paged-attention efficiency against 16", "the model has no block-size term; ±a few % is plausible [D assumption]"},
	{"block64_kv", 0.9, 1.06, 1, "× KV read",
		"block size 64: paged-attention efficiency against 16", "as block 32, a wider range [D assumption]"},
	{"fp8_parity_rows", 32, 128, 64, "batch rows",
		"fp8 weights: batch size up to which the halved weight read pays off (fades out by twice that)",
		"cal §7.2 gives int4 Marlin parity by m≈64 and int8 CUTLASS gains up to 128; fp8 Marlin on a T4 is not measured [D]"},
	{"fp8_prefill", 0.95, 1.2, 1.05, "× fp16 prefill",
		"fp8 weights: prefill (compute-bound) cost of W8A16 Marlin", "not measured on a T4 [D assumption]"},
	{"fp8_fixed_ms", 0, 0.4, 0, "ms per step",
		"fp8 weights: fixed per-step cost (dequantization launches)", "not measured [D assumption]"},
	{"kv_fp8", 0.45, 0.9, 0.6, "× fp16 KV read",
		"fp8 KV cache (L4 only in the space): half the bytes plus dequantization", "not measured [D assumption]"},
	{"ngram_acceptance", 0, 0.6, 0.10, "per draft token",
		"ngram speculation: acceptance on this benchmark's random prompts",
		"run C reports \"near zero on random data\" (cal §2.1) for a different build; a 0.5B model's repetitive output could do better (issue 10)"},
	{"suffix_acceptance", 0.5, 0.95, 0.95, "per draft token",
		"suffix decoding: acceptance", "0.95 was chosen to reach the self-reported 7.8–9.1k tok/s (cal §3.2); the real value is unknown (issue 10)"},
	{"noise_sigma", 0.01, 0.04, 0.02, "σ of the run's step-time factor",
		"run-to-run noise: 2–8% between two runs of one config", "cal §2.1 measured one pair of runs 4.4% apart; one pair pins no spread"},
	{"act_base_gib", 0.8, 1.1, 0.937, "GiB",
		"memory: activation and non-torch base of the profiling run (sets the KV cache, and which configs start)",
		"cal §9.4 finds 1.41 GiB at the defaults by subtraction; the base/slope split is a workable model [D]"},
	{"graph_per_max_gib", 0.5, 0.9, 0.67, "GiB per 512 capture sizes",
		"memory: CUDA-graph memory outside the budget", "fit to one measured 0.69 GiB point (cal §6.1) [D]"},
}

// Kinds are the machines of the ensemble: the simulated T4 with and without arctic-inference (suffix decoding),
// and an L4 (sim.L4: compute capability 8.9, 24 GB, bf16, FLASH_ATTN and fp8 KV caches allowed) with and without.
// Members cycle through kindCycle, so a third of them are L4s.
var Kinds = []string{"t4", "t4-no-arctic", "l4", "l4-no-arctic"}

var kindCycle = []string{"t4", "t4-no-arctic", "t4", "t4-no-arctic", "l4", "l4-no-arctic"}

// Member is one landscape of the ensemble.
type Member struct {
	Index   int
	Kind    string
	Values  map[string]float64 // one value per Range
	HeldOut bool               // in the test set: not looked at while the search was developed
}

// Name is how tables and files name the member.
func (m Member) Name() string { return fmt.Sprintf("m%02d-%s", m.Index, m.Kind) }

// HeldOutFrom is the first member index of the test set in an ensemble of n: the last quarter.
func HeldOutFrom(n int) int { return n - n/4 }

// Members draws an ensemble of n landscapes from Ranges with the given seed. The same (n, seed) always gives the
// same members, and member i does not depend on n (only its HeldOut flag does).
func Members(n int, seed int64) []Member {
	var out []Member
	for i := 0; i < n; i++ {
		r := rand.New(rand.NewSource(seed*1_000_003 + int64(i)))
		m := Member{Index: i, Kind: kindCycle[i%len(kindCycle)], Values: map[string]float64{}, HeldOut: i >= HeldOutFrom(n)}
		for _, rg := range Ranges {
			m.Values[rg.Name] = rg.Lo + r.Float64()*(rg.Hi-rg.Lo)
		}
		out = append(out, m)
	}
	return out
}

// DefaultValues are the calibrated values of every range: the member that is today's simulator.
func DefaultValues() map[string]float64 {
	v := map[string]float64{}
	for _, rg := range Ranges {
		v[rg.Name] = rg.Default
	}
	return v
}

// BuildLandscape turns one value per range into a simulator landscape on a GPU. With DefaultValues and the T4 it
// is sim.DefaultLandscape.
func BuildLandscape(gpu sim.GPU, v map[string]float64) sim.Landscape {
	l := sim.DefaultLandscape()
	l.GPU = gpu
	l.Row = perRowAndSeq * v["row_share"]
	perReq := perRowAndSeq - l.Row
	l.Chunk = perReq * v["chunk_share"]
	rest := perReq - l.Chunk // scheduling and sampling, in the calibrated 6:4 ratio; greedy a quarter of random
	l.Sched, l.SampleRand = rest*0.6, rest*0.4
	l.SampleGreedy = l.SampleRand / 4
	l.MixedStep = v["mixed_step_ms"]
	l.PrefillTok = (prefillChunkMs - l.MixedStep) / 2048
	l.Piecewise, l.NoGraph = v["piecewise_ms"], v["no_graph_ms"]
	l.PrefixHash = v["prefix_hash_us"] / 1000
	l.NoAsyncFixed = v["no_async_ms"]
	l.NoAsyncSeq = 0.010 * v["no_async_ms"] / 0.9
	l.NgramPropose, l.SuffixPropose, l.VerifyKV = v["ngram_propose_ms"], v["suffix_propose_ms"], v["verify_kv"]
	l.Backends = map[string]sim.BackendCost{
		"FLASHINFER":     {KV: 1, PrefillAttn: 1},
		"TRITON_ATTN":    {KV: v["triton_kv"], PrefillAttn: 1 + 0.8/1.75*(v["triton_kv"]-1), Fixed: 0.3},
		"FLEX_ATTENTION": {KV: v["flex_kv"], PrefillAttn: 1 + 2.0/3*(v["flex_kv"]-1), Fixed: 1.5},
		"FLASH_ATTN":     {KV: v["flash_attn_kv"], PrefillAttn: v["flash_attn_kv"]},
	}
	l.BlockKV = map[int]float64{32: v["block32_kv"], 64: v["block64_kv"]}
	l.FP8ParityRows, l.FP8PrefillFactor, l.FP8Fixed = v["fp8_parity_rows"], v["fp8_prefill"], v["fp8_fixed_ms"]
	l.KVFP8Factor = v["kv_fp8"]
	l.NgramAcceptance, l.SuffixAcceptance = v["ngram_acceptance"], v["suffix_acceptance"]
	l.NoiseSigma = v["noise_sigma"]
	l.ActBaseGiB, l.GraphPerMaxGiB = v["act_base_gib"], v["graph_per_max_gib"]
	return l
}

// GPUOf is the GPU of a kind.
func GPUOf(kind string) sim.GPU {
	if strings.HasPrefix(kind, "l4") {
		return sim.L4()
	}
	return sim.T4()
}

// PackagesOf is what the simulated machine of a kind has installed (the simulator's Python module names).
func PackagesOf(kind string) map[string]bool {
	return map[string]bool{sim.ArcticInference: !strings.HasSuffix(kind, "no-arctic")}
}

// Landscape is the member's simulator.
func (m Member) Landscape() *sim.Landscape {
	l := BuildLandscape(GPUOf(m.Kind), m.Values)
	return &l
}

// Space is the default search space autotune would build on the member's machine.
func (m Member) Space() (*space.Space, error) { return Space(m.Kind) }

// Fingerprint identifies what the member's optimum depends on: its values, its kind and its space.
func (m Member) Fingerprint(sp *space.Space) string {
	names := make([]string, 0, len(m.Values))
	for k := range m.Values {
		names = append(names, k)
	}
	sort.Strings(names)
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|", m.Kind, sp.Fingerprint())
	for _, k := range names {
		fmt.Fprintf(h, "%s=%.9g|", k, m.Values[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
