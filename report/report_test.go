package report_test

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/report/reporttest"
	"github.com/autotune/autotune/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s changed (run go test ./report -update to accept it if the schema change is meant):\n%s", path, got)
	}
}

// The read model's JSON is a stable interface: the golden file pins every key and how each outcome looks.
func TestViewJSONGolden(t *testing.T) {
	v, err := report.Load(reporttest.Study(), "tuning.db", "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "view.json.golden", append(got, '\n'))
}

func TestOutcomes(t *testing.T) {
	v, err := report.Load(reporttest.Study(), "tuning.db", "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]struct {
		state, outcome string
		finished       bool
	}{
		0: {"complete", report.Feasible, true}, 1: {"complete", report.Feasible, true}, 2: {"complete", report.Refused, true},
		3: {"complete", report.Crashed, true}, 4: {"complete", report.Infeasible, true}, 5: {"complete", report.Duplicate, false},
		6: {"failed", report.Interrupted, false}, 7: {"complete", report.Feasible, true}, 8: {"waiting", report.Queued, false},
		9: {"pruned", report.Pruned, true}, 10: {"running", report.Running, false},
	}
	if len(v.Trials) != len(want) {
		t.Fatalf("%d trials, want %d", len(v.Trials), len(want))
	}
	for _, tr := range v.Trials {
		w := want[tr.Number]
		if tr.State != w.state || tr.Outcome != w.outcome || tr.Finished != w.finished {
			t.Errorf("trial %d: state %q, outcome %q, finished %v; want %q, %q, %v", tr.Number, tr.State, tr.Outcome,
				tr.Finished, w.state, w.outcome, w.finished)
		}
	}
	if v.Study.Finished != 7 {
		t.Errorf("finished_trials = %d, want 7 (complete or pruned, and not a duplicate)", v.Study.Finished)
	}
	// The crash under load has a benchmark result and still is not "complete" to a person, nor infeasible.
	if tr := v.Trial(3); tr.Measured() != true || tr.Outcome != report.Crashed {
		t.Errorf("trial 3 = %+v", tr)
	}
	// A queued retry shows the flags it will run with, and says whose they are.
	if q := v.Trial(8); q.FlagsOf == nil || *q.FlagsOf != 6 || !reflect.DeepEqual(q.Args, []string{"--quantization", "fp8"}) {
		t.Errorf("queued retry = %+v, want trial 6's flags", q)
	}
	wantGPU := (46 + 30 + 2) + (50 + 20 + 2) + (20 + 1) + (50 + 5 + 3) + (45 + 25 + 2) + 10 + (50 + 20 + 2) + (40 + 5 + 2)
	if v.Study.GPUSeconds != float64(wantGPU) {
		t.Errorf("gpu_seconds = %v, want %d", v.Study.GPUSeconds, wantGPU)
	}
}

// The best config is the one with the best mean over its measurements, feasible on each; its view carries the
// mean throughput, the worst P99s and every measurement, and leaves the trials' own views alone.
func TestBestAggregatesEveryRun(t *testing.T) {
	v, err := report.Load(reporttest.Study(), "tuning.db", "")
	if err != nil {
		t.Fatal(err)
	}
	b := v.Best
	if b == nil || b.Number != 1 {
		t.Fatalf("best = %+v, want trial 1 (suffix, measured by trials 1 and 7)", b)
	}
	if *b.OutputThroughput != (6898+6808)/2.0 || *b.P99TTFTms != 1530 || *b.P99TPOTms != 9.1 {
		t.Errorf("best: %v tok/s, P99 TPOT %v, P99 TTFT %v; want the mean 6853 and the worst P99s 9.1 and 1530",
			*b.OutputThroughput, *b.P99TPOTms, *b.P99TTFTms)
	}
	if got := []int{b.Measurements[0].Number, b.Measurements[1].Number}; len(b.Measurements) != 2 || got[0] != 1 || got[1] != 7 {
		t.Errorf("measurements %+v, want trials 1 and 7", b.Measurements)
	}
	if *v.Trial(1).OutputThroughput != 6898 {
		t.Errorf("the best's aggregation changed trial 1's own view")
	}
	if v.Baseline == nil || v.Baseline.Number != 0 {
		t.Errorf("baseline = %+v", v.Baseline)
	}
}

func TestCandidates(t *testing.T) {
	dup := reporttest.Measurement(5, "a", 9000, true)
	one := 1
	dup.DuplicateOf = &one
	failed := store.Trial{Number: 6, ConfigKey: "d", State: store.StateFailed}
	recs := []store.Trial{
		reporttest.Measurement(4, "a", 7000, true), // a repeat of trial 1, listed out of order
		reporttest.Measurement(0, "base", 3300, true),
		reporttest.Measurement(1, "a", 7600, true),
		reporttest.Measurement(2, "b", 7400, true),
		reporttest.Measurement(3, "c", 7700, true),
		reporttest.Measurement(7, "c", -1.2, false), // c's repeat missed the SLA
		dup, failed,
	}
	cs := report.Candidates(recs)
	var got []string
	for _, c := range cs {
		got = append(got, c.Key)
	}
	// b (7400 once) beats a (mean 7300 of 7600 and 7000); c is not feasible on every measurement.
	if want := []string{"b", "a", "base", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if a := cs[1]; a.Mean != 7300 || !reflect.DeepEqual(a.Numbers(), []int{1, 4}) || !a.Feasible {
		t.Errorf("a = mean %v, trials %v, feasible %v; want 7300 over trials 1 and 4 (the duplicate is not a measurement)", a.Mean, a.Numbers(), a.Feasible)
	}
	if best, ok := report.Best(recs); !ok || best.Key != "b" {
		t.Errorf("Best = %q, %v; want b", best.Key, ok)
	}
	if _, ok := report.Best([]store.Trial{reporttest.Measurement(0, "x", -3, false)}); ok {
		t.Errorf("Best found a feasible candidate among infeasible ones")
	}
}

func TestLoadPicksTheStudy(t *testing.T) {
	f := reporttest.Study()
	f.StudyList = append(f.StudyList, store.Study{ID: 2, Name: "t4 fp8"}, store.Study{ID: 3, Name: "other"})
	_, err := report.Load(f, "x.db", "")
	if !errors.Is(err, nil) {
		t.Fatalf("with a study named default among several, report.Load took an error: %v", err)
	}
	f.StudyList[0].Name = "first"
	if _, err := report.Load(f, "x.db", ""); !errors.Is(err, report.ErrSeveralStudies) || !strings.Contains(err.Error(), "first, t4 fp8, other") {
		t.Errorf("several studies, none default: %v", err)
	}
	if _, err := report.Load(f, "x.db", "nope"); !errors.Is(err, store.ErrNoStudy) || !strings.HasPrefix(err.Error(), `"nope": `) || strings.Contains(err.Error(), "--") {
		t.Errorf("unknown study: %v", err)
	}
	v, err := report.Load(f, "x.db", "t4 fp8")
	if err != nil {
		t.Fatal(err)
	}
	if !v.NeedsStudyName() {
		t.Error("NeedsStudyName = false, want true: the file holds several studies")
	}
	alone, _ := report.Load(reporttest.Study(), "x.db", "")
	if alone.NeedsStudyName() {
		t.Error("NeedsStudyName of the only study = true, want false")
	}
}

func TestProofDropsChatter(t *testing.T) {
	v, _ := report.Load(reporttest.Study(), "tuning.db", "")
	got := v.Trial(2).Proof()
	if len(got) != 1 || !strings.Contains(got[0], "To serve at least one request") {
		t.Errorf("proof = %q, want only the ERROR line", got)
	}
	// Forty INFO lines and an error: the error alone; no error line at all: the last lines.
	var tail []string
	for range 40 {
		tail = append(tail, "(EngineCore_DP0 pid=7) INFO 11-28 09:30:00 [gpu_worker.py:1] Memory profiling takes 1 s, and the error rate is low")
	}
	tr := report.Trial{Record: store.Trial{LogTail: strings.Join(append(tail, "torch.OutOfMemoryError: CUDA out of memory."), "\n")}}
	if got := tr.Proof(); len(got) != 1 || got[0] != "torch.OutOfMemoryError: CUDA out of memory." {
		t.Errorf("proof = %q", got)
	}
	// What the classifier never takes as evidence is no proof either (runner.NotEvidence): a container-prefixed
	// WARNING record and a Python warning, both with failure words.
	tr.Record.LogTail = "vllm-1  | WARNING 11-28 09:30:00 [cuda.py:9] out of memory avoided by lowering batch size\n" +
		"torch/cuda/__init__.py:61: UserWarning: invalid value encountered\nValueError: No available memory for the cache blocks."
	if got := tr.Proof(); len(got) != 1 || got[0] != "ValueError: No available memory for the cache blocks." {
		t.Errorf("proof = %q, want only the ValueError line", got)
	}
	tr.Record.LogTail = "a\nb\nc\nd\ne\nf\ng"
	if got := tr.Proof(); !reflect.DeepEqual(got, []string{"c", "d", "e", "f", "g"}) {
		t.Errorf("fallback proof = %q", got)
	}
}

func TestCommandNamesVLLM(t *testing.T) {
	v, _ := report.Load(reporttest.Study(), "tuning.db", "")
	got := strings.Join(v.Trial(0).Command(true), " ")
	if got != "vllm serve Qwen/Qwen2.5-0.5B --host 127.0.0.1 --port 8000" {
		t.Errorf("simulated command = %q, want vllm serve ..., not the temporary binary", got)
	}
	if got := v.Trial(0).Command(false); got[0] != "/tmp/go-build123/exe/autotune" {
		t.Errorf("a real study's command must be the argv as it ran: %q", got)
	}
}

func TestRound(t *testing.T) {
	for in, want := range map[float64]string{3340.085: "3340", 13.566345248194134: "13.6", 0.24581: "0.246",
		1185.0: "1185", 9.5: "9.5", -10000: "-10000", -1.5165: "-1.52", 0.001234: "0.0012"} {
		if got := report.Round(in); got != want {
			t.Errorf("report.Round(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestChanges(t *testing.T) {
	v, _ := report.Load(reporttest.Study(), "tuning.db", "")
	if got := v.Trial(4).Changes(); !reflect.DeepEqual(got, []string{"max_num_seqs=50", "speculative=suffix"}) {
		t.Errorf("changes of trial 4 = %q", got)
	}
	if got := v.Trial(0).Changes(); got != nil {
		t.Errorf("the baseline changes nothing: %q", got)
	}
	if got := report.CommonChanges([]report.Trial{*v.Trial(0), *v.Trial(1), *v.Trial(3), *v.Trial(4)}); !reflect.DeepEqual(got, []string{"speculative=suffix"}) {
		t.Errorf("common = %q", got)
	}
}
