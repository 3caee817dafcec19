package model

import (
	"math"
	"strings"
	"testing"
)

func TestPercentileMatchesNumPy(t *testing.T) {
	// Values from numpy.percentile (default "linear" method).
	tests := []struct {
		x    []float64
		p    float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, 99, 3.97},
		{[]float64{1, 2, 3, 4}, 50, 2.5},
		{[]float64{1, 2, 3, 4}, 0, 1},
		{[]float64{1, 2, 3, 4}, 100, 4},
		{[]float64{5}, 99, 5},
		{[]float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 99, 99.1},
		{[]float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 90, 91},
		{[]float64{0.1, 0.2, 0.7}, 99.9, 0.699},
	}
	for _, tt := range tests {
		if got := percentile(tt.x, tt.p); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.x, tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("empty percentile = %v, want 0", got)
	}
}

func TestMeanStdPairwise(t *testing.T) {
	x := make([]float64, 1000)
	for i := range x {
		x[i] = float64(i%7) + 0.1
	}
	naive := 0.0
	for _, v := range x {
		naive += v
	}
	if m := mean(x); math.Abs(m-naive/1000) > 1e-12 {
		t.Errorf("mean %v vs %v", m, naive/1000)
	}
	if s := stdPop([]float64{2, 4, 4, 4, 5, 5, 7, 9}); s != 2 {
		t.Errorf("population std = %v, want 2 (numpy.std)", s)
	}
}

func TestComputeMetrics(t *testing.T) {
	rs := []RequestResult{
		{PromptLen: 10, OutputLen: 5, Start: 0, TTFT: 0.1, ITL: []float64{0.01, 0.02, 0.03, 0.04}, Latency: 0.2},
		{PromptLen: 10, OutputLen: 3, Start: 0.05, TTFT: 0.2, ITL: []float64{0.05, 0.05}, Latency: 0.3},
		{PromptLen: 10, OutputLen: 1, Start: 0.1, TTFT: 0.3, Latency: 0.3},
		{PromptLen: 10, Start: 0.1, Error: "Bad Request"},
	}
	m := ComputeMetrics(rs, 2.0, []string{"ttft", "tpot", "itl", "e2el"}, []float64{99}, map[string]float64{"ttft": 150})
	if m.Completed != 3 || m.Failed != 1 || m.TotalInput != 30 || m.TotalOutput != 9 {
		t.Fatalf("counts: %+v", m)
	}
	check := func(key string, want float64) {
		t.Helper()
		got, ok := m.Stat(key)
		if !ok || math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, want)
		}
	}
	// TPOT = (latency - ttft) / (output_len - 1), only for output_len > 1 (serve.py:447-451).
	check("mean_tpot_ms", ((0.2-0.1)/4+(0.3-0.2)/2)/2*1000)
	check("median_ttft_ms", 200)
	check("mean_itl_ms", (0.01+0.02+0.03+0.04+0.05+0.05)/6*1000)
	check("p99_e2el_ms", (0.3)*1000)
	if m.OutputThroughput != 4.5 || m.RequestThroughput != 1.5 || m.TotalTokenThroughput != 19.5 {
		t.Errorf("throughputs %v %v %v", m.OutputThroughput, m.RequestThroughput, m.TotalTokenThroughput)
	}
	if m.RequestGoodput == nil || *m.RequestGoodput != 0.5 {
		t.Errorf("goodput %v, want 1 request meeting ttft<=150ms / 2 s", m.RequestGoodput)
	}
	keys := []string{}
	for _, kv := range m.Stats {
		keys = append(keys, kv.Key)
	}
	want := "mean_ttft_ms median_ttft_ms std_ttft_ms p99_ttft_ms mean_tpot_ms median_tpot_ms std_tpot_ms p99_tpot_ms mean_itl_ms median_itl_ms std_itl_ms p99_itl_ms mean_e2el_ms median_e2el_ms std_e2el_ms p99_e2el_ms"
	if strings.Join(keys, " ") != want {
		t.Errorf("stat keys\n%s\nwant\n%s", strings.Join(keys, " "), want)
	}
}

func TestPercentileLabels(t *testing.T) {
	for p, want := range map[float64]string{99: "99", 99.9: "99.9", 50: "50", 0.5: "0.5"} {
		if got := percentileLabel(p); got != want {
			t.Errorf("percentileLabel(%v) = %q, want %q", p, got, want)
		}
	}
}

func TestPyFloat(t *testing.T) {
	for f, want := range map[float64]string{4100: "4100.0", 0.5: "0.5", 1e-05: "1e-05", 3332.25: "3332.25", math.Inf(1): "Infinity", 0: "0.0"} {
		if got := PyFloat(f); got != want {
			t.Errorf("PyFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestSummaryLabels(t *testing.T) {
	m := ComputeMetrics([]RequestResult{{PromptLen: 1, OutputLen: 2, TTFT: 0.1, ITL: []float64{0.01}, Latency: 0.11}}, 1, []string{"ttft", "tpot", "itl"}, []float64{99}, nil)
	var b strings.Builder
	PrintSummary(&b, &m, 50, []string{"ttft", "tpot", "itl"}, []float64{99})
	labels := []string{"Successful requests:", "Failed requests:", "Maximum request concurrency:", "Benchmark duration (s):",
		"Total input tokens:", "Total generated tokens:", "Request throughput (req/s):", "Output token throughput (tok/s):",
		"Peak output token throughput (tok/s):", "Peak concurrent requests:", "Total token throughput (tok/s):",
		"Mean TTFT (ms):", "Median TTFT (ms):", "P99 TTFT (ms):", "Mean TPOT (ms):", "Median TPOT (ms):", "P99 TPOT (ms):",
		"Mean ITL (ms):", "Median ITL (ms):", "P99 ITL (ms):"}
	out := b.String()
	pos := 0
	for _, l := range labels {
		i := strings.Index(out[pos:], l)
		if i < 0 {
			t.Fatalf("label %q missing or out of order (vllm.md §13.9) in\n%s", l, out)
		}
		pos += i
	}
}
