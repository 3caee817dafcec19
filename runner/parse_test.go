package runner

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseBenchFull(t *testing.T) {
	b, err := ParseBench(readTestdata(t, "bench_0.15.1.json"))
	if err != nil {
		t.Fatal(err)
	}
	raw := b.Raw
	b.Raw = nil
	lat := b.Latency
	b.Latency = nil
	want := &Bench{
		Date: "20260519-101502", Backend: "openai", ModelID: "Qwen/Qwen2.5-0.5B", TokenizerID: "Qwen/Qwen2.5-0.5B",
		NumPrompts: 200, RequestRate: "inf", MaxConcurrency: 50, Duration: 31.87, Completed: 200, Failed: 0,
		TotalInputTokens: 102400, TotalOutputTokens: 102400, RequestThroughput: 6.275, OutputThroughput: 3213.05,
		TotalTokenThroughput: 6426.1, MaxOutputTokensPerS: 3650, MaxConcurrentRequests: 91,
	}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("got  %+v\nwant %+v", b, want)
	}
	// Every <stat>_<metric>_ms key: mean/median/std + p50/p90/p99 for ttft, tpot, itl, e2el.
	if len(lat) != 24 {
		t.Errorf("%d latency keys: %v", len(lat), lat)
	}
	for k, v := range map[string]float64{"p99_tpot_ms": 15.98, "p99_ttft_ms": 1184.6, "mean_tpot_ms": 14.61,
		"median_itl_ms": 13.92, "p90_e2el_ms": 8360, "std_e2el_ms": 402.9} {
		if lat[k] != v {
			t.Errorf("Latency[%q] = %v, want %v", k, lat[k], v)
		}
	}
	if raw["label"] != nil || raw["request_goodput"] != nil || raw["endpoint_type"] != "openai" || len(raw) != 45 {
		t.Errorf("Raw has %d keys: %v", len(raw), raw)
	}
	if b.SpecDecode != nil {
		t.Errorf("SpecDecode = %v without spec-decode keys", b.SpecDecode)
	}
}

func TestParseBenchNaNInfinity(t *testing.T) {
	b, err := ParseBench(readTestdata(t, "bench_nan.json"))
	if err != nil {
		t.Fatal(err)
	}
	if b.RequestRate != "inf" || !math.IsInf(b.MaxOutputTokensPerS, 1) || !math.IsNaN(b.MaxConcurrentRequests) {
		t.Errorf("rate %q, max tokens/s %v, max concurrent %v", b.RequestRate, b.MaxOutputTokensPerS, b.MaxConcurrentRequests)
	}
	if !math.IsNaN(b.Latency["std_ttft_ms"]) || !math.IsInf(b.Latency["mean_tpot_ms"], -1) || b.Latency["p99_tpot_ms"] != 15.98 {
		t.Errorf("Latency = %v", b.Latency)
	}
	if got := b.Raw["label"]; got != `NaN and Infinity stay text inside strings: "NaN", Infinity, -Infinity` {
		t.Errorf("a string was changed: %q", got)
	}
	itls := b.Raw["itls"].([]any)
	if !math.IsNaN(itls[0].([]any)[1].(float64)) || !math.IsInf(itls[1].([]any)[0].(float64), 1) {
		t.Errorf("nested NaN/Infinity: %v", itls)
	}
	if b.OutputThroughput != 3213.05 || b.Completed != 200 {
		t.Errorf("%+v", b)
	}
}

func TestParseBenchRate(t *testing.T) {
	b, err := ParseBench(readTestdata(t, "bench_rate_number.json"))
	if err != nil {
		t.Fatal(err)
	}
	if b.RequestRate != "10" || b.MaxConcurrency != 0 || b.NumPrompts != 100 {
		t.Errorf("rate %q, max concurrency %d", b.RequestRate, b.MaxConcurrency)
	}
	b, err = ParseBench([]byte(`{"num_prompts": 1, "completed": 1, "failed": 0, "output_throughput": 1, "request_rate": 2.5}`))
	if err != nil || b.RequestRate != "2.5" {
		t.Errorf("rate %q, %v", b.RequestRate, err)
	}
}

func TestParseBenchSpecDecode(t *testing.T) {
	b, err := ParseBench(readTestdata(t, "bench_spec_decode.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"spec_decode_acceptance_rate": 61.5, "spec_decode_acceptance_length": 3.2,
		"spec_decode_num_drafts": 32000, "spec_decode_draft_tokens": 160000, "spec_decode_accepted_tokens": 98400}
	if !reflect.DeepEqual(b.SpecDecode, want) {
		t.Errorf("SpecDecode = %v", b.SpecDecode)
	}
	if _, ok := b.Raw["spec_decode_per_position_acceptance_rates"].([]any); !ok {
		t.Error("the per-position list is not in Raw")
	}
}

func TestParseBenchAllFailed(t *testing.T) {
	b, err := ParseBench(readTestdata(t, "bench_all_failed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if v := validate(b, ""); v.class != RequestsFailed || !strings.Contains(v.msg, "200 of 200 requests failed") {
		t.Errorf("validate = %+v", v)
	}
	good, _ := ParseBench(readTestdata(t, "bench_0.15.1.json"))
	if v := validate(good, ""); v.class != OK {
		t.Errorf("validate(good) = %+v", v)
	}
	good.OutputThroughput = math.NaN()
	if v := validate(good, ""); v.class != RequestsFailed {
		t.Errorf("validate(NaN throughput) = %+v", v)
	}
}

func TestParseBenchErrors(t *testing.T) {
	for name, data := range map[string]string{
		"truncated":   string(readTestdata(t, "bench_truncated.json")),
		"empty":       "",
		"blank":       " \n",
		"not object":  `[1, 2]`,
		"null":        `null`,
		"no counts":   `{"date": "x"}`,
		"string num":  `{"num_prompts": "200", "completed": 200, "failed": 0, "output_throughput": 1}`,
		"second half": `{"num_prompts": 1, "completed": 1, "failed": 0, "output_throughput": 1}` + "\n" + `{"num_pr`,
	} {
		if b, err := ParseBench([]byte(data)); err == nil {
			t.Errorf("%s: no error, got %+v", name, b)
		}
	}
	// --append-result: one object per line, the last counts.
	b, err := ParseBench([]byte(`{"num_prompts": 1, "completed": 1, "failed": 0, "output_throughput": 1}` + "\n" +
		`{"num_prompts": 2, "completed": 2, "failed": 0, "output_throughput": 2}` + "\n"))
	if err != nil || b.NumPrompts != 2 {
		t.Errorf("appended results: %+v, %v", b, err)
	}
}

func FuzzParseBench(f *testing.F) {
	for _, name := range []string{"bench_0.15.1.json", "bench_nan.json", "bench_truncated.json"} {
		data, _ := os.ReadFile(filepath.Join("testdata", name))
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseBench(data) // must not panic
	})
}

// JSON stores what ParseBench read, NaN and Infinity (which JSON cannot carry) as null at any depth, so that it
// parses again to the same numbers; a Bench built without Raw (the simulator's) is stored in vLLM's keys.
func TestBenchJSON(t *testing.T) {
	b, err := ParseBench(readTestdata(t, "bench_nan.json"))
	if err != nil {
		t.Fatal(err)
	}
	stored := b.JSON()
	if stored == "" {
		t.Fatal("no stored JSON (encoding/json refuses NaN and Infinity)")
	}
	again, err := ParseBench([]byte(stored))
	if err != nil {
		t.Fatalf("stored JSON does not parse: %v", err)
	}
	if again.OutputThroughput != b.OutputThroughput || again.P99TPOT() != 15.98 || again.Completed != b.Completed {
		t.Errorf("stored JSON parses to throughput %v, P99 TPOT %v, completed %d", again.OutputThroughput, again.P99TPOT(), again.Completed)
	}
	for _, k := range []string{"max_output_tokens_per_s", "std_ttft_ms"} { // Infinity and NaN in the file
		if v, ok := again.Raw[k]; !ok || v != nil {
			t.Errorf("%s stored as %v, want null", k, v)
		}
	}
	if itls := again.Raw["itls"].([]any); itls[0].([]any)[1] != nil {
		t.Errorf("a nested NaN stored as %v, want null", itls[0])
	}

	sim := &Bench{NumPrompts: 2, Completed: 2, OutputThroughput: 10, Latency: map[string]float64{KeyP99TPOT: 20, KeyP99TTFT: math.NaN()}}
	again, err = ParseBench([]byte(sim.JSON()))
	if err != nil {
		t.Fatalf("%s: %v", sim.JSON(), err)
	}
	if again.NumPrompts != 2 || again.OutputThroughput != 10 || again.P99TPOT() != 20 || again.Raw[KeyP99TTFT] != nil {
		t.Errorf("a Bench without Raw stored as %s", sim.JSON())
	}
}
