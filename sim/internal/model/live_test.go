package model

import (
	"strings"
	"testing"
)

// /metrics replayed from a simulated benchmark: tokens only grow, and by the end every request's output and
// first token is counted, with vLLM's bucket bounds.
func TestLiveAtCountsTheBenchmark(t *testing.T) {
	out := Predict([]string{"Qwen/Qwen2.5-0.5B"}, DefaultWorkload(), 4)
	if out.Failure != nil {
		t.Fatal(out.Failure.Message)
	}
	prev := -1.0
	for at := 0.0; at <= out.BenchmarkSeconds+1; at += 1 {
		m := LiveAt(out.Requests, at)
		if m.GenerationTokens < prev {
			t.Fatalf("generation tokens fell from %v to %v at %gs", prev, m.GenerationTokens, at)
		}
		prev = m.GenerationTokens
		if at > 1 && at < out.BenchmarkSeconds-1 && m.Running == 0 {
			t.Errorf("no request running at %gs of %gs", at, out.BenchmarkSeconds)
		}
	}
	end := LiveAt(out.Requests, out.BenchmarkSeconds+1)
	if end.GenerationTokens != 200*512 || end.TTFT.n != 200 || end.Success != 200 || end.Running != 0 {
		t.Errorf("at the end: %v tokens, %d TTFTs, %d done, %d running; want 102400, 200, 200, 0", end.GenerationTokens, end.TTFT.n, end.Success, end.Running)
	}
	mid := LiveAt(out.Requests, out.BenchmarkSeconds/2)
	if !(mid.GenerationTokens > 0.3*200*512 && mid.GenerationTokens < 0.7*200*512) {
		t.Errorf("half-way: %v tokens, want about half of 102400 (counted as generated, not at completion)", mid.GenerationTokens)
	}
	text := end.Exposition("Qwen/Qwen2.5-0.5B")
	for _, want := range []string{
		`vllm:generation_tokens_total{engine="0",model_name="Qwen/Qwen2.5-0.5B"} 102400`,
		`vllm:time_to_first_token_seconds_bucket{engine="0",model_name="Qwen/Qwen2.5-0.5B",le="2.5"} 200`,
		`vllm:time_to_first_token_seconds_count{engine="0",model_name="Qwen/Qwen2.5-0.5B"} 200`,
		`vllm:inter_token_latency_seconds_bucket{engine="0",model_name="Qwen/Qwen2.5-0.5B",le="0.025"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}
