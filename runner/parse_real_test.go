package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseRealBenchFiles parses real --save-result files from public repositories (testdata/bench-real,
// sources in SOURCES.md) and judges them as Run does.
func TestParseRealBenchFiles(t *testing.T) {
	cases := []struct {
		file                     string
		numPrompts, done, failed int
		outTput, p99TPOT         float64
		specKeys                 int
		class                    Class
		err                      string
	}{
		// No "failed" key; --append-result, so the last of 9 objects counts.
		{file: "nerdalert-2025-05-benchmark_serving-append.json", numPrompts: 900, done: 900, failed: 0,
			outTput: 11011.349280220396, p99TPOT: 71.62702592521168, class: OK},
		{file: "stellalee-2026-07-openai-infqps.json", numPrompts: 150, done: 150, failed: 0,
			outTput: 534.9311122803554, p99TPOT: 173.71355269222352, class: OK},
		{file: "er0080-0.25.1.json", numPrompts: 8, done: 8, failed: 0,
			outTput: 82.89297074037474, p99TPOT: 11.979541883350674, class: OK},
		{file: "er0080-0.25.1-speculative.json", numPrompts: 8, done: 8, failed: 0,
			outTput: 122.27228948568478, p99TPOT: 16.367859358147722, specKeys: 5, class: OK},
		{file: "er0080-0.25.1-all-failed.json", numPrompts: 8, done: 0, failed: 8, class: RequestsFailed},
		{file: "nv-action-2025-03-no-completed.json", err: `no number "completed"`},
	}
	for _, c := range cases {
		data, err := os.ReadFile(filepath.Join("testdata", "bench-real", c.file))
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseBench(data)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err = %v, want %q", c.file, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if b.NumPrompts != c.numPrompts || b.Completed != c.done || b.Failed != c.failed ||
			b.OutputThroughput != c.outTput || b.Latency["p99_tpot_ms"] != c.p99TPOT || len(b.SpecDecode) != c.specKeys {
			t.Errorf("%s: prompts %d completed %d failed %d throughput %v p99 TPOT %v spec keys %d", c.file,
				b.NumPrompts, b.Completed, b.Failed, b.OutputThroughput, b.Latency["p99_tpot_ms"], len(b.SpecDecode))
		}
		if class, msg := CheckBench(b); class != c.class {
			t.Errorf("%s: CheckBench = %q (%s), want %q", c.file, class, msg, c.class)
		}
	}
}

// Without "failed", the prompts that did not complete failed (the older benchmark_serving.py counted only the
// completed ones); a "failed" that is not a number is refused.
func TestParseBenchWithoutFailed(t *testing.T) {
	b, err := ParseBench([]byte(`{"num_prompts": 10, "completed": 7, "output_throughput": 5.0}`))
	if err != nil || b.Failed != 3 {
		t.Fatalf("got %+v, %v; want 3 failed", b, err)
	}
	if class, _ := CheckBench(b); class != RequestsFailed {
		t.Errorf("CheckBench = %q, want requests_failed", class)
	}
	for _, bad := range []string{
		`{"num_prompts": 10, "completed": 11, "output_throughput": 5.0}`,
		`{"num_prompts": 10, "completed": 10, "failed": "none", "output_throughput": 5.0}`,
	} {
		if _, err := ParseBench([]byte(bad)); err == nil {
			t.Errorf("ParseBench(%s) accepted it", bad)
		}
	}
}
