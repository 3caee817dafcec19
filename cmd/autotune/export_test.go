package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	baseline := &trialView{Number: 0, Label: "baseline", OutputThroughput: f(3332), P99TPOTms: f(14.8), P99TTFTms: f(1180)}
	best := &trialView{Number: 17, OutputThroughput: f(4321.5), P99TPOTms: f(18.2), P99TTFTms: f(1234), MeanTPOTms: f(11.03),
		Args: []string{"--max-num-seqs", "64", "--speculative-config", `{"method":"ngram","num_speculative_tokens":4}`,
			"--cudagraph-capture-sizes", "1", "2", "4", "50", "--no-enable-prefix-caching", "-O1"},
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
		t.Errorf("export script differs from %s (run with -update to accept):\n%s", golden, got)
	}
}

// The best config is the one with the best mean over its measurements, feasible on each; its view carries the
// mean throughput, the worst P99s and every measurement.
func TestBestRanksByMean(t *testing.T) {
	view := func(number int, key string, tput, ttft float64, feasible bool) trialView {
		obj := tput
		if !feasible {
			obj = -1.5
		}
		return trialView{Number: number, State: "complete", Feasible: feasible, OutputThroughput: f(tput), P99TTFTms: f(ttft),
			rec: store.Trial{Number: number, ConfigKey: key, State: store.StateComplete, Objective: &obj, Feasible: feasible}}
	}
	ls := &loadedStudy{trials: []trialView{
		view(0, "base", 3300, 1100, true),
		view(1, "a", 7600, 900, true), // lucky once...
		view(2, "b", 7400, 950, true),
		view(3, "c", 7900, 800, true), // ...and c's repeat missed the SLA
		view(4, "a", 7000, 1000, true),
		view(5, "b", 7350, 990, true),
		view(6, "c", 7000, 2500, false),
	}}
	ls.trials[0].Label = "baseline"
	best, baseline := ls.bestAndBaseline()
	if baseline == nil || baseline.Number != 0 {
		t.Fatalf("baseline %+v", baseline)
	}
	if best == nil || best.Number != 2 {
		t.Fatalf("best = %+v, want trial 2 (b: mean 7375 over two feasible runs)", best)
	}
	if *best.OutputThroughput != 7375 || *best.P99TTFTms != 990 || len(best.Measurements) != 2 {
		t.Errorf("best shows %v tok/s, P99 TTFT %v, %d measurements; want the mean 7375, the worst 990, 2",
			*best.OutputThroughput, *best.P99TTFTms, len(best.Measurements))
	}
	if got := best.measuredText(); got != "#2, #5: mean" {
		t.Errorf("measuredText = %q", got)
	}
	if *ls.trials[2].OutputThroughput != 7400 {
		t.Errorf("bestAndBaseline changed the trial's own view")
	}
	rep := trialView{State: "complete", Feasible: true, Label: "repeat of #2"}
	if got := rep.verdict(); got != "feasible, repeat of #2" {
		t.Errorf("a repeat's verdict is %q", got)
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
