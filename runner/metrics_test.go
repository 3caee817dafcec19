package runner

import (
	"math"
	"os"
	"strings"
	"testing"
)

// Lines of real vLLM /metrics output: the TTFT histogram of a V1 server (engine label) from vLLM PR #22227
// (https://github.com/vllm-project/vllm/pull/22227), and a generation-token counter from IBM/vllm PR #18
// (https://github.com/IBM/vllm/pull/18), both verbatim.
func TestParseMetricsRealVLLMText(t *testing.T) {
	text, err := os.ReadFile("testdata/metrics-vllm-pr22227.txt")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMetrics(text)
	if err != nil {
		t.Fatal(err)
	}
	if m.GenerationTokens != 218152 {
		t.Errorf("generation tokens %v, want 218152", m.GenerationTokens)
	}
	if len(m.TTFT.Bounds) != 13 || m.TTFT.Bounds[0] != 0.1 || m.TTFT.Bounds[12] != 160 {
		t.Errorf("TTFT bounds %v, want the 13 from 0.1 to 160", m.TTFT.Bounds)
	}
	for i, c := range m.TTFT.Counts {
		if c != 1 {
			t.Errorf("bucket le=%v: %v, want 1", m.TTFT.Bounds[i], c)
		}
	}
	if !m.Found[MetricTTFT] || !m.Found[MetricGenerationTokens] || m.Found[MetricRunning] {
		t.Errorf("found %v", m.Found)
	}
}

func TestParseMetricsSumsEnginesAndReadsBothITLNames(t *testing.T) {
	text := `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 30.0
vllm:num_requests_running{engine="1",model_name="m"} 20.0
vllm:generation_tokens_total{engine="0",model_name="m"} 1000.0 1732871234000
vllm:generation_tokens_total{engine="1",model_name="m"} 500.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="1.0",model_name="m"} 5.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="2.5",model_name="m"} 7.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 10.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 10.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 19.5
vllm:time_to_first_token_seconds_bucket{engine="1",le="1.0",model_name="m"} 1.0
vllm:time_to_first_token_seconds_bucket{engine="1",le="2.5",model_name="m"} 1.0
vllm:time_to_first_token_seconds_bucket{engine="1",le="+Inf",model_name="m"} 2.0
vllm:time_to_first_token_seconds_count{engine="1",model_name="m"} 2.0
vllm:time_per_output_token_seconds_count{engine="0",model_name="m"} 400.0
vllm:request_success_total{engine="0",finished_reason="length",model_name="a \"quoted\", name"} 3.0
vllm:other_metric{le="1"} 7
`
	m, err := ParseMetrics([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if m.Running != 50 || m.GenerationTokens != 1500 || m.RequestSuccess != 3 {
		t.Errorf("running %v, tokens %v, success %v; want 50, 1500, 3", m.Running, m.GenerationTokens, m.RequestSuccess)
	}
	if m.TTFT.Count != 12 || m.TTFT.Sum != 19.5 {
		t.Errorf("TTFT count %v sum %v", m.TTFT.Count, m.TTFT.Sum)
	}
	// Above 2 s: only what is above the 2.5 s bound (the 1.0–2.5 s bucket may hold prompts under 2 s).
	if got := m.TTFT.Above(2); got != 12-8 {
		t.Errorf("TTFT above 2 s: %v, want 4", got)
	}
	if m.ITL.Count != 400 {
		t.Errorf("ITL count %v from the old name, want 400", m.ITL.Count)
	}
	if !math.IsInf(m.TTFT.Bounds[len(m.TTFT.Bounds)-1], 1) {
		t.Errorf("bounds %v: want +Inf last", m.TTFT.Bounds)
	}
}

func TestParseMetricsRejectsMalformedKnownLines(t *testing.T) {
	for _, line := range []string{
		`vllm:generation_tokens_total{model_name="m"} twelve`,
		`vllm:time_to_first_token_seconds_bucket{model_name="m"} 3`,
		`vllm:time_to_first_token_seconds_bucket{le="x",model_name="m"} 3`,
		`vllm:num_requests_running{model_name="m} 3`,
	} {
		if _, err := ParseMetrics([]byte(line + "\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%s: error %v, want one naming line 1", line, err)
		}
	}
}

func hist(bounds, cum []float64) Histogram {
	return Histogram{Bounds: bounds, Counts: cum, Count: cum[len(cum)-1]}
}

func TestJudge(t *testing.T) {
	bounds := []float64{1, 2.5, math.Inf(1)}
	scrape := func(at, gen float64, ttftCum []float64) Scrape {
		return Scrape{Elapsed: at, Metrics: Metrics{GenerationTokens: gen, TTFT: hist(bounds, ttftCum)}}
	}
	rule := PruneRule{NumPrompts: 200, OutputLen: 512, MaxP99TTFT: 2, Incumbent: 4000, Margin: 0.15, MinProgress: 0.4}
	start := scrape(0, 0, []float64{0, 0, 0})
	for _, tc := range []struct {
		name    string
		scrapes []Scrape
		rule    string
	}{
		{"2 late prompts cannot lose P99 of 200", []Scrape{start, scrape(4, 5000, []float64{48, 48, 50})}, ""},
		{"3 late prompts lose it", []Scrape{start, scrape(4, 5000, []float64{47, 47, 50})}, "ttft"},
		{"late in the 1–2.5 s bucket do not count", []Scrape{start, scrape(4, 5000, []float64{40, 50, 50})}, ""},
		// 2,000 tok/s from the first tokens on, far below 4,000 × 0.85, after 40% of 102,400 tokens.
		{"far below the incumbent", []Scrape{start, scrape(2, 1000, []float64{50, 50, 50}), scrape(22, 41000, []float64{50, 50, 50})}, "throughput"},
		{"far below, but too early", []Scrape{start, scrape(2, 1000, []float64{50, 50, 50}), scrape(12, 21000, []float64{50, 50, 50})}, ""},
		// 3,933 tok/s since the first tokens, projected 3,686: within the margin of 4,000.
		{"within the margin", []Scrape{start, scrape(2, 1000, []float64{50, 50, 50}), scrape(14, 48200, []float64{50, 50, 50})}, ""},
	} {
		v := rule.Judge(tc.scrapes)
		if v.Rule != tc.rule || v.Prune != (tc.rule != "") {
			t.Errorf("%s: %+v, want rule %q", tc.name, v, tc.rule)
		}
	}
	// Counters are taken from the first scrape: a server that served before the benchmark is judged on the run.
	warm := []Scrape{scrape(0, 99999, []float64{0, 0, 10}), scrape(4, 104999, []float64{48, 48, 60})}
	if v := rule.Judge(warm); v.Prune {
		t.Errorf("10 late prompts before the benchmark counted against it: %+v", v)
	}
}
