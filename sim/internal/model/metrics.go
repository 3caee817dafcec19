package model

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// This file computes the benchmark metrics from per-request measurements exactly as `vllm bench serve` does
// (vllm.md §13.5: serve.py:396-605) and renders its stdout summary (vllm.md §13.9) and JSON (vllm.md §13.8).

// MetricSet is the benchmark result of one run.
type MetricSet struct {
	Completed             int
	Failed                int
	TotalInput            int
	TotalOutput           int
	Duration              float64 // s
	RequestThroughput     float64
	RequestGoodput        *float64 // nil without --goodput
	OutputThroughput      float64
	TotalTokenThroughput  float64
	MaxOutputTokensPerS   float64
	MaxConcurrentRequests int
	// Stats are the "<stat>_<metric>_ms" values in vLLM's key order.
	Stats []KV
	// Errors are the error strings of failed requests, in request order.
	Errors []string
}

// KV is one ordered key/value pair of the result JSON.
type KV struct {
	Key   string
	Value any
}

// Stat returns the value of a "<stat>_<metric>_ms" key, and whether it is present.
func (m *MetricSet) Stat(key string) (float64, bool) {
	for _, kv := range m.Stats {
		if kv.Key == key {
			f, ok := kv.Value.(float64)
			return f, ok
		}
	}
	return 0, false
}

// percentile is numpy.percentile with the default linear method, including numpy's lerp formulation.
func percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := p / 100 * float64(n-1)
	lo := math.Floor(rank)
	i := int(lo)
	if i >= n-1 {
		return sorted[n-1]
	}
	t := rank - lo
	a, b := sorted[i], sorted[i+1]
	diff := b - a
	if t >= 0.5 {
		return b - diff*(1-t)
	}
	return a + diff*t
}

// pairwiseSum is numpy's pairwise summation (blocks of 8, then halves above 128 elements), so that means
// agree with np.mean to the last bit on the same data.
func pairwiseSum(x []float64) float64 {
	n := len(x)
	switch {
	case n < 8:
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], x[:8])
		i := 8
		for ; i+8 <= n; i += 8 {
			for j := 0; j < 8; j++ {
				r[j] += x[i+j]
			}
		}
		s := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += x[i]
		}
		return s
	default:
		m := n / 2
		m -= m % 8
		return pairwiseSum(x[:m]) + pairwiseSum(x[m:])
	}
}

func mean(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	return pairwiseSum(x) / float64(len(x))
}

// stdPop is np.std (population).
func stdPop(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	m := mean(x)
	d := make([]float64, len(x))
	for i, v := range x {
		d[i] = (v - m) * (v - m)
	}
	return math.Sqrt(pairwiseSum(d) / float64(len(x)))
}

// percentileLabel prints p without ".0" when whole: 99 -> "99", 99.9 -> "99.9".
func percentileLabel(p float64) string {
	if p == math.Trunc(p) {
		return strconv.Itoa(int(p))
	}
	return strconv.FormatFloat(p, 'f', -1, 64)
}

// ComputeMetrics turns per-request results into the benchmark's metrics. duration is the wall time of the
// run in seconds; selected are the --percentile-metrics, percentiles the --metric-percentiles; goodput holds
// SLOs in ms per metric ("ttft", "tpot", "e2el"), nil when --goodput is absent.
func ComputeMetrics(rs []RequestResult, duration float64, selected []string, percentiles []float64, goodput map[string]float64) MetricSet {
	m := MetricSet{Duration: duration}
	var ttfts, tpots, itls, e2els []float64
	good := 0
	for i := range rs {
		r := &rs[i]
		if r.Error != "" {
			m.Failed++
			m.Errors = append(m.Errors, r.Error)
			continue
		}
		m.Completed++
		m.TotalInput += r.PromptLen
		m.TotalOutput += r.OutputLen
		tpot := 0.0
		if r.OutputLen > 1 {
			tpot = (r.Latency - r.TTFT) / float64(r.OutputLen-1)
			tpots = append(tpots, tpot)
		}
		ttfts = append(ttfts, r.TTFT)
		itls = append(itls, r.ITL...)
		e2els = append(e2els, r.Latency)
		if goodput != nil {
			ok := true
			if v, has := goodput["ttft"]; has && r.TTFT*1000 > v {
				ok = false
			}
			if v, has := goodput["tpot"]; has && tpot*1000 > v {
				ok = false
			}
			if v, has := goodput["e2el"]; has && r.Latency*1000 > v {
				ok = false
			}
			if ok {
				good++
			}
		}
	}
	if duration > 0 {
		m.RequestThroughput = float64(m.Completed) / duration
		m.OutputThroughput = float64(m.TotalOutput) / duration
		m.TotalTokenThroughput = float64(m.TotalInput+m.TotalOutput) / duration
		if goodput != nil {
			g := float64(good) / duration
			m.RequestGoodput = &g
		}
	}
	m.MaxOutputTokensPerS, m.MaxConcurrentRequests = peaks(rs)
	series := map[string][]float64{"ttft": ttfts, "tpot": tpots, "itl": itls, "e2el": e2els}
	for _, name := range []string{"ttft", "tpot", "itl", "e2el"} {
		if !contains(selected, name) {
			continue
		}
		x := append([]float64(nil), series[name]...)
		sort.Float64s(x)
		m.Stats = append(m.Stats,
			KV{"mean_" + name + "_ms", mean(x) * 1000},
			KV{"median_" + name + "_ms", percentile(x, 50) * 1000},
			KV{"std_" + name + "_ms", stdPop(x) * 1000})
		for _, p := range percentiles {
			m.Stats = append(m.Stats, KV{"p" + percentileLabel(p) + "_" + name + "_ms", percentile(x, p) * 1000})
		}
	}
	return m
}

// peaks reconstructs the per-second output-token peak and the peak number of concurrent requests from start
// times, TTFTs and ITLs (serve.py:494-546): one token per received chunk, one-second buckets from the first
// start, a request counting as concurrent in every bucket it touches.
func peaks(rs []RequestResult) (float64, int) {
	minStart, maxEnd := math.Inf(1), math.Inf(-1)
	any := false
	for i := range rs {
		if rs[i].Error != "" {
			continue
		}
		any = true
		minStart = math.Min(minStart, rs[i].Start)
		maxEnd = math.Max(maxEnd, rs[i].Start+rs[i].Latency)
	}
	if !any {
		return 0, 0
	}
	nb := int(math.Ceil(maxEnd-minStart)) + 1
	tokens := make([]float64, nb)
	conc := make([]int, nb)
	for i := range rs {
		r := &rs[i]
		if r.Error != "" {
			continue
		}
		t := r.Start + r.TTFT
		if b := int(t - minStart); b >= 0 && b < nb {
			tokens[b]++
		}
		for _, d := range r.ITL {
			t += d
			if b := int(t - minStart); b >= 0 && b < nb {
				tokens[b]++
			}
		}
		s, e := int(r.Start-minStart), int(r.Start+r.Latency-minStart)
		for b := s; b <= e && b < nb; b++ {
			conc[b]++
		}
	}
	mt, mc := 0.0, 0
	for i := range tokens {
		mt = math.Max(mt, tokens[i])
		if conc[i] > mc {
			mc = conc[i]
		}
	}
	return mt, mc
}

// PrintSummary writes the stdout block of `vllm bench serve` (serve.py:933-1108).
func PrintSummary(b *strings.Builder, m *MetricSet, maxConc int, selected []string, percentiles []float64) {
	line := func(label string, v any) {
		switch t := v.(type) {
		case float64:
			fmt.Fprintf(b, "%-40s %-10.2f\n", label, t)
		default:
			fmt.Fprintf(b, "%-40s %-10v\n", label, t)
		}
	}
	center := func(s string, c byte) {
		pad := 50 - len(s)
		left := pad / 2
		fmt.Fprintf(b, "%s%s%s\n", strings.Repeat(string(c), left), s, strings.Repeat(string(c), pad-left))
	}
	center(" Serving Benchmark Result ", '=')
	line("Successful requests:", m.Completed)
	line("Failed requests:", m.Failed)
	if maxConc > 0 {
		line("Maximum request concurrency:", maxConc)
	}
	line("Benchmark duration (s):", m.Duration)
	line("Total input tokens:", m.TotalInput)
	line("Total generated tokens:", m.TotalOutput)
	line("Request throughput (req/s):", m.RequestThroughput)
	if m.RequestGoodput != nil {
		line("Request goodput (req/s):", *m.RequestGoodput)
	}
	line("Output token throughput (tok/s):", m.OutputThroughput)
	line("Peak output token throughput (tok/s):", m.MaxOutputTokensPerS)
	line("Peak concurrent requests:", float64(m.MaxConcurrentRequests))
	line("Total token throughput (tok/s):", m.TotalTokenThroughput)
	headers := map[string][2]string{
		"ttft": {"Time to First Token", "TTFT"},
		"tpot": {"Time per Output Token (excl. 1st token)", "TPOT"},
		"itl":  {"Inter-token Latency", "ITL"},
		"e2el": {"End-to-end Latency", "E2EL"},
	}
	for _, name := range []string{"ttft", "tpot", "itl", "e2el"} {
		if !contains(selected, name) {
			continue
		}
		h := headers[name]
		center(h[0], '-')
		v, _ := m.Stat("mean_" + name + "_ms")
		line("Mean "+h[1]+" (ms):", v)
		v, _ = m.Stat("median_" + name + "_ms")
		line("Median "+h[1]+" (ms):", v)
		for _, p := range percentiles {
			v, _ = m.Stat("p" + percentileLabel(p) + "_" + name + "_ms")
			line("P"+percentileLabel(p)+" "+h[1]+" (ms):", v)
		}
	}
	b.WriteString(strings.Repeat("=", 50) + "\n")
}

// PyFloat renders a float as Python's repr does (json.dump): 4100.0, 0.5, 1e-05, inf as Infinity.
func PyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	a := math.Abs(f)
	if a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64) // Go, like Python, prints at least two exponent digits
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
