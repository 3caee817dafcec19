package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

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
	baseline := &trialView{Number: 0, Label: "baseline", OutputThroughput: f(3332), P99TPOTms: f(14.8), P99TTFTms: f(1180)}
	best := &trialView{Number: 17, OutputThroughput: f(4321.5), P99TPOTms: f(18.2), P99TTFTms: f(1234), MeanTPOTms: f(11.03),
		Args: []string{"--max-num-seqs", "64", "--speculative-config", `{"method":"ngram","num_speculative_tokens":4}`,
			"--cudagraph-capture-sizes", "1", "2", "4", "50", "--no-enable-prefix-caching", "-O1"},
		rec: store.Trial{Env: map[string]string{"VLLM_USE_FLASHINFER_SAMPLER": "0"}}}
	got := exportScript(ls, best, baseline, time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC))
	golden := filepath.Join("testdata", "flags.sh.golden")
	if *update {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("export script differs from %s (run with -update to accept):\n%s", golden, got)
	}
}
