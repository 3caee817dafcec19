package space

import (
	"strings"
	"testing"

	"github.com/autotune/autotune/runner"
)

// TestSpaceFileBounds: integers that overflow are refused as such (9223372036854775807 used to read as
// -9223372036854775808 "below the minimum 1"), every built-in integer parameter has an upper bound
// (num_speculative_tokens 10^15 used to be accepted), and values that would vanish are refused.
func TestSpaceFileBounds(t *testing.T) {
	cases := []struct{ src, want string }{
		{"params:\n  num_speculative_tokens: {high: 9223372036854775807}\n", "outside -2^53..2^53"},
		{"params:\n  num_speculative_tokens: {high: 9223372036854775808}\n", "outside -2^53..2^53"},
		{"params:\n  num_speculative_tokens: {low: -9223372036854775809}\n", "outside -2^53..2^53"},
		{"params:\n  num_speculative_tokens: {high: 1000000000000000}\n", "above the maximum 64"},
		{"params:\n  num_speculative_tokens: {fix: 65}\n", "above the maximum 64"},
		{"params:\n  prompt_lookup_max: {high: 65}\n", "above the maximum 64"},
		{"params:\n  max_num_seqs: {choices: [default, 16385]}\n", "above the maximum 16384"},
		{"params:\n  max_num_seqs: {fix: 99999999999999999999}\n", "outside the range of a 64-bit integer"},
		{"params:\n  max_num_batched_tokens: {choices: [2097153]}\n", "above the maximum 2097152"},
		{"params:\n  max_model_len: {choices: [2097153]}\n", "above the maximum 2097152"},
		{"params:\n  stream_interval: {choices: [65537]}\n", "above the maximum 65536"},
		{"params:\n  block_size: {choices: [512]}\n", "above 256"},
		{"params:\n  foo: {flag: --foo, type: int, low: 1, high: 9007199254740993}\n", "outside -2^53..2^53"},
		{"params:\n  foo: {flag: --foo, type: float, low: 1, high: .inf}\n", "not a finite number"},
		{"params:\n  max_num_seqs: {fix: \"\"}\n", "fix: is empty"},
		{"env:\n  VLLM_X:\n", "env.VLLM_X: has no value"},
		{"env:\n  VLLM_X: ~\n", "env.VLLM_X: has no value"},
	}
	for _, tc := range cases {
		_, err := Parse("space.yaml", []byte(tc.src), tesla("0.15.1"), runner.DefaultWorkload())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to say %q", tc.src, err, tc.want)
		}
	}
	if !t.Failed() {
		t.Logf("SUMMARY: %d space-file values that overflow, exceed a parameter's bound or would vanish refused, each naming the field", len(cases))
	}
	// The bounds themselves are accepted, and an empty environment value is kept, not dropped.
	s, err := Parse("space.yaml", []byte("params:\n  num_speculative_tokens: {high: 64}\n  max_num_seqs: {choices: [default, 16384]}\nenv:\n  VLLM_EMPTY: \"\"\n"),
		tesla("0.15.1"), runner.DefaultWorkload())
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := s.Describe().Env["VLLM_EMPTY"]; !ok || v != "" {
		t.Errorf("env VLLM_EMPTY: %q, %v; want kept as the empty string", v, ok)
	}
	if c := s.Baseline(); c.Env == nil || func() bool { _, ok := c.Env["VLLM_EMPTY"]; return !ok }() {
		t.Errorf("the baseline's environment lost VLLM_EMPTY: %v", c.Env)
	}
}
