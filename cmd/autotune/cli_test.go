package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/autotune/autotune/internal/citest"
)

// cli runs autotune in-process and returns its exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

type trialsJSON struct {
	Study struct {
		Name      string `json:"name"`
		Simulated bool   `json:"simulated"`
		Finished  int    `json:"finished_trials"`
	} `json:"study"`
	Trials []struct {
		Number           int               `json:"number"`
		State            string            `json:"state"`
		Label            string            `json:"label"`
		Feasible         bool              `json:"feasible"`
		OutputThroughput *float64          `json:"output_throughput"`
		P99TPOTms        *float64          `json:"p99_tpot_ms"`
		P99TTFTms        *float64          `json:"p99_ttft_ms"`
		MeanTPOTms       *float64          `json:"mean_tpot_ms"`
		MeanTTFTms       *float64          `json:"mean_ttft_ms"`
		Failure          *string           `json:"failure"`
		Args             []string          `json:"args"`
		Params           map[string]string `json:"params"`
	} `json:"trials"`
}

func readTrials(t *testing.T, db string) trialsJSON {
	t.Helper()
	code, out, errs := cli(t, "trials", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatalf("trials: exit %d: %s", code, errs)
	}
	var tj trialsJSON
	if err := json.Unmarshal([]byte(out), &tj); err != nil {
		t.Fatalf("trials --format json is not JSON: %v\n%s", err, out)
	}
	return tj
}

// TestStudyAgainstFakeVLLM runs the whole CLI in-process against a fake vllm: study, report, export, and the
// exported script run with a stand-in vllm that prints its arguments.
func TestStudyAgainstFakeVLLM(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	page := filepath.Join(dir, "report.html")
	args := append([]string{"--trials", "6", "--db", db, "--seed", "3", "--report", page}, fakeMachine(t)...)
	code, out, errs := cli(t, args...)
	if code != 0 {
		t.Fatalf("run: exit %d\nstderr:\n%s", code, errs)
	}
	if !strings.Contains(out, "output throughput") {
		t.Errorf("run printed no best-vs-baseline table on stdout:\n%s", out)
	}
	if !strings.Contains(errs, "#0 ") || !strings.Contains(errs, "| best ") {
		t.Errorf("no progress line on stderr:\n%s", errs)
	}
	// run --report rewrote the page after every trial and wrote the last one without the reload.
	if html, err := os.ReadFile(page); err != nil || !strings.Contains(string(html), "<svg") || strings.Contains(string(html), `http-equiv="refresh"`) {
		t.Errorf("run --report: %v, %d bytes (want the final page, with charts and no reload)", err, len(html))
	}
	other := filepath.Join(dir, "other.html")
	if code, _, errs := cli(t, "report", "--db", db, "--html", other); code != 0 {
		t.Errorf("report --html: exit %d: %s", code, errs)
	} else if html, _ := os.ReadFile(other); !strings.Contains(string(html), "Optimization history") {
		t.Errorf("report --html wrote no report")
	}
	if code, _, errs := cli(t, "report", "--db", db); code != 2 || !strings.Contains(errs, "--html") {
		t.Errorf("report without --html: exit %d, %q; want 2 naming --html", code, errs)
	}
	tj := readTrials(t, db)
	if tj.Study.Finished != 6 {
		t.Errorf("finished_trials = %d, want 6", tj.Study.Finished)
	}
	if tj.Trials[0].Label != "baseline" || len(tj.Trials[0].Args) != 0 || tj.Trials[0].OutputThroughput == nil {
		t.Errorf("trial 0 = %+v, want the measured baseline with no flags", tj.Trials[0])
	}
	for _, tr := range tj.Trials {
		if tr.Failure == nil || tr.Args == nil || tr.Params == nil {
			t.Errorf("trial %d lacks a DESIGN.md key: %+v", tr.Number, tr)
		}
	}

	script := filepath.Join(dir, "flags.sh")
	code, bestOut, errs := cli(t, "best", "--db", db, "--export", script, "--format", "json")
	if code != 0 {
		t.Fatalf("best: exit %d: %s", code, errs)
	}
	var best struct {
		Best struct {
			Number int      `json:"number"`
			Args   []string `json:"args"`
		} `json:"best"`
		DeltaPct map[string]float64 `json:"delta_pct"`
	}
	if err := json.Unmarshal([]byte(bestOut), &best); err != nil {
		t.Fatalf("best --format json: %v\n%s", err, bestOut)
	}
	if best.DeltaPct["output_throughput"] <= 0 {
		t.Errorf("best does not beat the baseline: %+v", best.DeltaPct)
	}
	// The script must start vllm with exactly the best trial's flags.
	echo := filepath.Join(dir, "echo-vllm")
	os.WriteFile(echo, []byte("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n"), 0o755)
	cmd := exec.Command("bash", script, "--extra")
	cmd.Env = append(os.Environ(), "VLLM="+echo, "PORT=8123")
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("run exported script: %v", err)
	}
	want := append(append([]string{"serve", "Qwen/Qwen2.5-0.5B"}, best.Best.Args...), "--host", "127.0.0.1", "--port", "8123", "--extra")
	if lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n"); !reflect.DeepEqual(lines, want) {
		t.Errorf("script ran vllm with\n%q\nwant\n%q", lines, want)
	}
	text, _ := os.ReadFile(script)
	for _, s := range []string{"set -euo pipefail", "tok/s", "Baseline", "vLLM 0.15.1", "Tesla T4", "--max-concurrency 50"} {
		if !strings.Contains(string(text), s) {
			t.Errorf("script header lacks %q:\n%s", s, text)
		}
	}
	// show N: the command line and where the logs are, as text and JSON; a trial that does not exist is bad input.
	code, showOut, errs := cli(t, "show", "1", "--db", db)
	if code != 0 || !strings.Contains(showOut, "command:") || !strings.Contains(showOut, "server log:") {
		t.Errorf("show 1: exit %d, stdout:\n%s\nstderr: %s", code, showOut, errs)
	}
	code, showOut, _ = cli(t, "show", "1", "--db", db, "--format", "json")
	var shown struct {
		Number    int      `json:"number"`
		Simulated *bool    `json:"simulated"`
		ServeArgv []string `json:"serve_argv"`
		ServerLog string   `json:"server_log"`
	}
	if err := json.Unmarshal([]byte(showOut), &shown); err != nil || code != 0 {
		t.Fatalf("show 1 --format json: exit %d, %v\n%s", code, err, showOut)
	}
	if shown.Number != 1 || shown.Simulated == nil || *shown.Simulated || len(shown.ServeArgv) == 0 || shown.ServerLog == "" {
		t.Errorf("show 1 --format json = %+v, want trial 1 with simulated=false, its command and its log", shown)
	}
	if code, _, errs := cli(t, "show", "99", "--db", db); code != 2 || !strings.Contains(errs, "trial 99") {
		t.Errorf("show 99: exit %d, stderr %q; want 2 naming the trial", code, errs)
	}
}

func TestShellQuoteSurvivesBash(t *testing.T) {
	for _, s := range []string{`{"method":"ngram","num_speculative_tokens":4}`, "it's", "a b", "$HOME", "", "--x", "[1,2,4,50]", `"\`} {
		out, err := exec.Command("bash", "-c", "printf '%s' "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("shellQuote(%q) = %s: bash gave %q (%v)", s, shellQuote(s), out, err)
		}
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	os.WriteFile(notDB, []byte("my notes, not a database"), 0o644)
	empty := filepath.Join(dir, "missing.db")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--trails", "40"}, "autotune: run: unknown flag: --trails"},
		{"missing space file", []string{"--simulate", "--db", empty, "--space", filepath.Join(dir, "nope.yaml")}, "--space: open " + filepath.Join(dir, "nope.yaml")},
		{"unknown command", []string{"bset"}, `unknown command "bset"`},
		{"zero trials", []string{"--trials", "0"}, "--trials 0"},
		{"bad sampler", []string{"--sampler", "bayes"}, `--sampler "bayes"`},
		{"bad port", []string{"--port", "70000"}, "--port 70000"},
		{"bad SLA", []string{"--max-p99-tpot-ms", "-1"}, "--max-p99-tpot-ms"},
		{"db not SQLite", []string{"--db", notDB, "--simulate"}, "--db " + notDB + ": not an SQLite database"},
		{"best without a study", []string{"best", "--db", empty}, "no such file"},
		{"trials bad format", []string{"trials", "--format", "xml"}, `--format "xml"`},
		{"show not a number", []string{"show", "seven"}, `"seven" is not a trial number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(notDB)
			code, _, errs := cli(t, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", code, errs)
			}
			if !strings.Contains(errs, tc.want) {
				t.Errorf("stderr %q does not say %q", errs, tc.want)
			}
			// The error is one line, the last (progress notes may come before it).
			lines := strings.Split(strings.TrimSpace(errs), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "autotune: ") || !strings.Contains(last, tc.want) {
				t.Errorf("the error is not the one last line: %q", errs)
			}
			after, _ := os.ReadFile(notDB)
			if !bytes.Equal(before, after) {
				t.Errorf("the file was changed")
			}
		})
	}
	if _, err := os.Stat(empty); err == nil {
		t.Errorf("best or a refused run created %s", empty)
	}
}

func TestIncompatibleRerunIsRefused(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	machine := fakeMachine(t)
	if code, _, errs := cli(t, append([]string{"--trials", "2", "--db", db}, machine...)...); code != 0 {
		t.Fatalf("first run: %s", errs)
	}
	before, _ := os.ReadFile(db)
	code, _, errs := cli(t, append([]string{"--trials", "4", "--db", db, "--max-p99-tpot-ms", "30"}, machine...)...)
	if code != 2 || !strings.Contains(errs, "max_p99_tpot_ms: 50 → 30") {
		t.Fatalf("exit %d, stderr %q; want 2 and an explanation naming the changed SLA limit", code, errs)
	}
	after, _ := os.ReadFile(db)
	if !bytes.Equal(before, after) {
		t.Errorf("the refused run changed the database")
	}
	if tj := readTrials(t, db); tj.Study.Finished != 2 {
		t.Errorf("finished = %d, want 2", tj.Study.Finished)
	}
}

// TestChangedSpaceOnResumeIsRefused: resuming with a space file that changes the space is refused, exit 2, the
// database untouched.
func TestChangedSpaceOnResumeIsRefused(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	flags := simFlags(t, db, "400") // generous trial limits: 3 s, scaled from the defaults, fail under load
	if code, _, errs := cli(t, append(flags, "--trials", "2")...); code != 0 {
		t.Fatalf("first run: %s", errs)
	}
	spaceFile := filepath.Join(dir, "space.yaml")
	os.WriteFile(spaceFile, []byte("params:\n  max_num_seqs:\n    choices: [default, 64]\n"), 0o644)
	before, _ := os.ReadFile(db)
	code, _, errs := cli(t, append(flags, "--trials", "4", "--space", spaceFile)...)
	if want := "space file: (built-in) → space.yaml"; code != 2 || !strings.Contains(errs, want) {
		t.Errorf("exit %d, stderr %q; want 2 and %q", code, errs, want)
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Errorf("the refused run changed the database")
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("params:\n  max_num_seqs:\n    choices: [default, lots]\n"), 0o644)
	code, _, errs = cli(t, append(flags, "--trials", "4", "--space", bad)...)
	if code != 2 || !strings.Contains(errs, "bad.yaml") || !strings.Contains(errs, "max_num_seqs") {
		t.Errorf("bad space file: exit %d, stderr %q; want 2 naming the file and the field", code, errs)
	}
}

// TestReadOnlyDatabase: a database on a read-only file system is refused with a clear error, exit 2.
func TestReadOnlyDatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ro")
	os.Mkdir(dir, 0o755)
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=100m", "tmpfs", dir).Run(); err != nil {
		citest.SkipUnlessCI(t, "cannot mount a tmpfs here (it needs root): %v", err)
	}
	defer exec.Command("umount", dir).Run()
	db := filepath.Join(dir, "tuning.db")
	flags := append(simFlags(t, db, "400"), "--workdir", t.TempDir())
	if code, _, errs := cli(t, append(flags, "--trials", "1")...); code != 0 {
		t.Fatalf("first run: %s", errs)
	}
	if err := exec.Command("mount", "-o", "remount,ro", dir).Run(); err != nil {
		citest.SkipUnlessCI(t, "cannot remount read-only: %v", err)
	}
	code, _, errs := cli(t, append(flags, "--trials", "2")...)
	if code != 2 || !strings.Contains(errs, "--db "+db) {
		t.Errorf("exit %d, stderr %q; want 2 and an error naming the database", code, errs)
	}
	if code, out, errs := cli(t, "trials", "--db", db, "--format", "csv"); code != 0 || !strings.Contains(out, "number") {
		t.Errorf("reports on a read-only database: exit %d: %s", code, errs)
	}
}

// TestProbeFailureLeavesNothingBehind: on a machine without a GPU or vLLM the run fails with one line naming
// the commands, and leaves no empty database or trial folder.
func TestProbeFailureLeavesNothingBehind(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	code, _, errs := cli(t, "--trials", "2", "--db", db, "--vllm", "/nonexistent/vllm", "--nvidia-smi", "/nonexistent/nvidia-smi")
	if code != 1 || !strings.Contains(errs, "/nonexistent/nvidia-smi") || !strings.Contains(errs, "--simulate") {
		t.Errorf("exit %d, stderr %q; want 1, the failing command and the --simulate hint", code, errs)
	}
	if n := strings.Count(strings.TrimSpace(errs), "\n"); n != 1 { // the "probing" line, then the error
		t.Errorf("want the error on one line, got:\n%s", errs)
	}
	for _, p := range []string{db, filepath.Join(dir, "tuning.trials")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was left behind", p)
		}
	}
}

// TestSimulateRefusesAnUnmodelledModel: the simulator models one model; another one is refused up front, naming
// the flag, instead of reporting Qwen2.5-0.5B's numbers under its name.
func TestSimulateRefusesAnUnmodelledModel(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tuning.db")
	code, _, errs := cli(t, "--simulate", "--db", db, "--model", "meta-llama/Llama-3-8B", "--trials", "2")
	if code != exitUsage || !strings.Contains(errs, "--model meta-llama/Llama-3-8B: the simulator models only Qwen/Qwen2.5-0.5B") {
		t.Fatalf("exit %d, stderr:\n%s\nwant %d and a refusal naming --model", code, errs, exitUsage)
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("the refused run created %s", db)
	}
}

// TestModelMaxLenFromTheModel: without --simulate, the model's own maximum length comes from its config.json in
// the Hugging Face cache, and is unknown (0: nothing pruned by it) when the model is not there.
func TestModelMaxLenFromTheModel(t *testing.T) {
	home := t.TempDir()
	snap := filepath.Join(home, "hub", "models--meta-llama--Llama-3-8B", "snapshots", "r1")
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(snap, "config.json"), []byte(`{"max_position_embeddings": 8192}`), 0o644)
	t.Setenv("HF_HOME", home)
	var errs strings.Builder
	m := machineFlags{model: "meta-llama/Llama-3-8B"}
	if n := m.modelMaxLen(&errs); n != 8192 || !strings.Contains(errs.String(), "max_model_len 8192") {
		t.Errorf("got %d, stderr %q; want 8192 and a word where it came from", n, errs.String())
	}
	m.model = "org/not-downloaded"
	if n := m.modelMaxLen(&errs); n != 0 || !strings.Contains(errs.String(), "max_model_len unknown") {
		t.Errorf("got %d, stderr %q; want 0 (unknown) and a word that it is unknown", n, errs.String())
	}
	m = machineFlags{model: "Qwen/Qwen2.5-0.5B-Instruct", simulate: true}
	if n := m.modelMaxLen(&errs); n != 32768 {
		t.Errorf("simulated model: got %d, want 32768", n)
	}
}
