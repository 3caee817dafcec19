package model

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Live metrics: what vLLM's /metrics shows while a benchmark runs (vllm.md §14), computed from the simulated
// requests' timelines, so that a watcher pruning trials early (runner.PruneRule) sees on the simulator what it
// would see on vLLM: vllm:generation_tokens_total counted as tokens are generated (not when requests finish),
// TTFT and inter-token-latency histograms with vLLM's bucket bounds, and the running-requests gauge.

// Histogram bounds of vllm/v1/metrics/loggers.py (vllm.md §14: TTFT 1 ms … 2,560 s with 1.0 and 2.5 s; ITL
// 10 ms … 80 s with 25/50/75 ms).
var (
	ttftBounds = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
		10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	itlBounds = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
		20.0, 40.0, 80.0}
)

// LiveMetrics is the server's state t seconds after a benchmark started.
type LiveMetrics struct {
	GenerationTokens float64
	Running          int
	Success          int
	TTFT, ITL        Hist // observations so far, server side
}

// Hist counts observations per bucket (not cumulative; the last slot is above every bound).
type Hist struct {
	bounds []float64
	counts []int
	n      int
	sum    float64
}

func newHist(bounds []float64) Hist { return Hist{bounds: bounds, counts: make([]int, len(bounds)+1)} }

// Plus is the sum of two histograms over the same bounds (the zero Hist adds nothing).
func (h Hist) Plus(o Hist) Hist {
	if h.bounds == nil {
		return o.Clone()
	}
	out := h.Clone()
	for i := range o.counts {
		out.counts[i] += o.counts[i]
	}
	out.n += o.n
	out.sum += o.sum
	return out
}

// Clone is a copy that shares nothing with h.
func (h Hist) Clone() Hist {
	h.counts = append([]int(nil), h.counts...)
	return h
}

func (h *Hist) observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v) // first bound >= v
	h.counts[i]++
	h.n++
	h.sum += v
}

// LiveAt computes the metrics t seconds into a benchmark whose requests are results (times relative to its
// start, as RunBench returns them). A request's tokens are spread evenly over its streamed chunks.
func LiveAt(results []RequestResult, t float64) LiveMetrics {
	m := LiveMetrics{TTFT: newHist(ttftBounds), ITL: newHist(itlBounds)}
	for i := range results {
		r := &results[i]
		if r.Error != "" || r.Start > t {
			continue
		}
		end := r.Start + r.Latency
		if t < end {
			m.Running++
		} else {
			m.Success++
		}
		first := r.Start + r.TTFT
		if t < first {
			continue
		}
		// vLLM times TTFT from the request's arrival at the server, not from the client's send.
		m.TTFT.observe(math.Max(0, r.TTFT-2*NetDelay))
		at, chunks := first, 0
		for _, d := range r.ITL {
			if at+d > t {
				break
			}
			at += d
			chunks++
			m.ITL.observe(d)
		}
		tokens := 1.0
		if len(r.ITL) > 0 {
			tokens += float64(r.OutputLen-1) * float64(chunks) / float64(len(r.ITL))
		} else if t >= end {
			tokens = float64(r.OutputLen)
		}
		m.GenerationTokens += tokens
	}
	return m
}

// Exposition renders the metrics as vLLM's /metrics text for a served model name.
func (m LiveMetrics) Exposition(model string) string {
	lbl := fmt.Sprintf(`engine="0",model_name="%s"`, model)
	var b strings.Builder
	b.WriteString("# autotune sim: SIMULATED vLLM 0.15.1 metrics — not a measurement\n")
	fmt.Fprintf(&b, "# HELP vllm:num_requests_running Number of requests in model execution batches.\n# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{%s} %d\n", lbl, m.Running)
	fmt.Fprintf(&b, "# HELP vllm:generation_tokens Number of generation tokens processed.\n# TYPE vllm:generation_tokens counter\nvllm:generation_tokens_total{%s} %g\n", lbl, math.Floor(m.GenerationTokens))
	fmt.Fprintf(&b, "# HELP vllm:request_success Count of successfully processed requests.\n# TYPE vllm:request_success counter\nvllm:request_success_total{engine=\"0\",finished_reason=\"length\",model_name=\"%s\"} %d\n", model, m.Success)
	m.TTFT.Write(&b, "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", lbl)
	m.ITL.Write(&b, "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", lbl)
	return b.String()
}

// Write renders the histogram in the Prometheus text format, cumulative as vLLM exposes it.
func (h Hist) Write(b *strings.Builder, name, help, lbl string) {
	if h.bounds == nil {
		h = newHist(ttftBounds)
		if strings.Contains(name, "inter_token") {
			h = newHist(itlBounds)
		}
	}
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	cum := 0
	for i, ub := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(b, "%s_bucket{%s,le=\"%s\"} %d\n", name, lbl, PyFloat(ub), cum)
	}
	fmt.Fprintf(b, "%s_bucket{%s,le=\"+Inf\"} %d\n%s_count{%s} %d\n%s_sum{%s} %g\n", name, lbl, h.n, name, lbl, h.n, name, lbl, h.sum)
}
