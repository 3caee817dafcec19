package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	readmodel "github.com/autotune/autotune/report"
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func f(v float64) *float64 { return &v }

// TestExportScriptGolden pins the exported script's layout: header, quoting, one flag per line.
func TestExportScriptGolden(t *testing.T) {
	ls := &loadedStudy{
		study: store.Study{Name: "default"},
		view: studyView{
			Name: "default", DB: "/content/drive/MyDrive/autotune/tuning.db", Model: "Qwen/Qwen2.5-0.5B",
			Workload:    json.RawMessage(`{"model":"Qwen/Qwen2.5-0.5B","tokenizer":"Qwen/Qwen2.5-0.5B","backend":"openai","endpoint":"/completions","dataset_name":"random","max_concurrency":50,"num_prompts":200,"random_input_len":512,"random_output_len":512,"ignore_eos":true,"request_rate":"inf"}`),
			SLA:         json.RawMessage(`{"max_p99_tpot_ms":50,"max_p99_ttft_ms":2000}`),
			VLLMVersion: "0.15.1", GPU: "Tesla T4 (compute 7.5, 15360 MiB)",
		},
	}
	baseline := &trialView{Trial: readmodel.Trial{Number: 0, Label: "baseline", OutputThroughput: f(3332), P99TPOTms: f(14.8), P99TTFTms: f(1180)}}
	best := &trialView{Trial: readmodel.Trial{Number: 17, OutputThroughput: f(4321.5), P99TPOTms: f(18.2), P99TTFTms: f(1234), MeanTPOTms: f(11.03),
		Args: []string{"--max-num-seqs", "64", "--speculative-config", `{"method":"ngram","num_speculative_tokens":4}`,
			"--cudagraph-capture-sizes", "1", "2", "4", "50", "--no-enable-prefix-caching", "-O1"}},
		rec: store.Trial{Env: map[string]string{"VLLM_USE_FLASHINFER_SAMPLER": "0"}}}
	checkGolden(t, "flags.sh.golden", mustExport(t, ls, best, baseline))

	// A config confirmed by a second run says so, with both runs.
	confirmed := *best
	confirmed.OutputThroughput = f(4300)
	confirmed.MeanTPOTms = f(11.1)
	confirmed.Measurements = []measurementView{{Number: 17, OutputThroughput: 4321.5}, {Number: 38, OutputThroughput: 4278.5}}
	checkGolden(t, "flags-confirmed.sh.golden", mustExport(t, ls, &confirmed, baseline))
}

func mustExport(t *testing.T, ls *loadedStudy, best, baseline *trialView) string {
	t.Helper()
	s, err := exportScript(ls, best, baseline, time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept):\n%s", golden, got)
	}
}

// measuredText names every run behind a config measured more than once.
func TestMeasuredText(t *testing.T) {
	v := trialView{Trial: readmodel.Trial{Number: 2, Measurements: []measurementView{{Number: 2}, {Number: 5}}}}
	if got := v.measuredText(); got != "#2, #5: mean" {
		t.Errorf("measuredText = %q", got)
	}
	if got := v.trialsText(); got != "trials 2 and 5" {
		t.Errorf("trialsText = %q", got)
	}
}

// A re-export replaces an existing script with an executable one: os.WriteFile would keep the old file's mode.
func TestWriteExecutableReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.sh")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeExecutable(path, "#!/usr/bin/env bash\n"); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", st.Mode().Perm())
	}
	if data, _ := os.ReadFile(path); string(data) != "#!/usr/bin/env bash\n" {
		t.Errorf("content %q", data)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".flags.sh.*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if err := writeExecutable(filepath.Join(path, "sub", "x.sh"), "x"); err == nil {
		t.Errorf("writing under a file: no error")
	}
}

// The export header describes the benchmark with runner's own flags, ExtraArgs included.
func TestWorkloadTextUsesRunnersFlags(t *testing.T) {
	w := runner.DefaultWorkload()
	w.ExtraArgs = []string{"--seed", "7"}
	raw, _ := json.Marshal(w)
	got := workloadText(raw)
	want := "vllm bench serve " + strings.Join(w.BenchFlags(), " ") + " --seed 7"
	if got != want {
		t.Errorf("workloadText = %q, want %q", got, want)
	}
}
