// Package reporttest holds a study in memory for the tests of report and of the commands that render it: a
// hand-written report.Source with one trial in every outcome.
package reporttest

import (
	"time"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/store"
)

// Source is a study database in memory: autotune's records and goptuna's trials, as a test writes them.
type Source struct {
	StudyList []store.Study
	recs      map[int][]store.Trial
	gts       map[int][]goptuna.FrozenTrial
}

func (f *Source) Studies() ([]store.Study, error)                     { return f.StudyList, nil }
func (f *Source) Trials(id int) ([]store.Trial, error)                { return f.recs[id], nil }
func (f *Source) GoptunaTrials(id int) ([]goptuna.FrozenTrial, error) { return f.gts[id], nil }

// New returns a database in memory that holds one study and no trials.
func New(st store.Study) *Source {
	return &Source{StudyList: []store.Study{st}, recs: map[int][]store.Trial{}, gts: map[int][]goptuna.FrozenTrial{}}
}

// Bench is a benchmark result as the store keeps it (a few of vLLM's keys).
func Bench(tput, tpot, ttft float64) string { return bench(tput, tpot, ttft) }

// Measurement is the record of a complete trial that measured config key at value (feasible or not), for the
// tests of what is read from several runs of one config (report's best aggregation, tuner's confirmation).
func Measurement(number int, key string, value float64, feasible bool) store.Trial {
	v := value
	return store.Trial{Number: number, ConfigKey: key, State: store.StateComplete, Objective: &v, Feasible: feasible}
}

// Add records a trial in both tables: goptuna's state and value, and autotune's record.
func (f *Source) Add(studyID int, state goptuna.TrialState, rec store.Trial) {
	rec.StudyID = studyID
	rec.TrialID = studyID*1000 + rec.Number
	ft := goptuna.FrozenTrial{ID: rec.TrialID, StudyID: studyID, Number: rec.Number, State: state,
		SystemAttrs: map[string]string{}}
	if rec.Objective != nil {
		ft.Value = *rec.Objective
	}
	if state == goptuna.TrialStateWaiting {
		// A queued trial has no record of ours yet, only its label in goptuna.
		ft.SystemAttrs[store.LabelAttr] = rec.Label
		f.gts[studyID] = append(f.gts[studyID], ft)
		return
	}
	rec.State = map[goptuna.TrialState]string{goptuna.TrialStateRunning: store.StateRunning,
		goptuna.TrialStateComplete: store.StateComplete, goptuna.TrialStatePruned: store.StatePruned,
		goptuna.TrialStateFail: store.StateFailed}[state]
	f.recs[studyID] = append(f.recs[studyID], rec)
	f.gts[studyID] = append(f.gts[studyID], ft)
}

func fl(v float64) *float64 { return &v }

// bench is a benchmark result as the store keeps it (a few of vLLM's keys).
func bench(tput, tpot, ttft float64) string {
	return `{"completed":200,"failed":0,"output_throughput":` + ftoa(tput) + `,"p99_tpot_ms":` + ftoa(tpot) +
		`,"p99_ttft_ms":` + ftoa(ttft) + `,"mean_tpot_ms":` + ftoa(tpot*0.9) + `,"mean_ttft_ms":` + ftoa(ttft/2) + `}`
}

func ftoa(v float64) string { return report.Round(v) }

// Study is a small simulated study with one trial in every outcome; trial 1 and its repeat 7 are the best
// config, trial 0 the baseline.
func Study() *Source {
	f := &Source{recs: map[int][]store.Trial{}, gts: map[int][]goptuna.FrozenTrial{}}
	created := time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)
	f.StudyList = []store.Study{{ID: 1, Name: "default", CreatedAt: created, Model: "Qwen/Qwen2.5-0.5B",
		WorkloadJSON: `{"max_concurrency":50,"num_prompts":200}`, SLAJSON: `{"max_p99_tpot_ms":50,"max_p99_ttft_ms":2000}`,
		Sampler: "tpe", Seed: 1, Simulated: true, SpaceFingerprint: "d939eef1", VLLMVersion: "0.15.1", GPU: "Tesla T4"}}
	defaults := map[string]string{"quantization": "default", "speculative": "default", "max_num_seqs": "default"}
	params := func(kv ...string) map[string]string {
		p := map[string]string{}
		for k, v := range defaults {
			p[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	sec := time.Second
	complete := goptuna.TrialStateComplete
	f.Add(1, complete, store.Trial{Number: 0, Label: report.BaselineLabel, ConfigKey: "base", Params: params(), Feasible: true,
		Objective: fl(3340), BenchJSON: bench(3340, 14.7, 1185), Startup: 46 * sec, Benchmark: 30 * sec, Teardown: 2 * sec,
		ServeArgv: []string{"/tmp/go-build123/exe/autotune", "sim", "serve", "Qwen/Qwen2.5-0.5B", "--host", "127.0.0.1", "--port", "8000"}})
	f.Add(1, complete, store.Trial{Number: 1, Label: "known-good: suffix decoding", ConfigKey: "suffix",
		Params: params("speculative", "suffix"), Args: []string{"--speculative-config", `{"method":"suffix"}`},
		Feasible: true, Objective: fl(6898), BenchJSON: bench(6898, 8.8, 1500), Startup: 50 * sec, Benchmark: 20 * sec, Teardown: 2 * sec})
	f.Add(1, complete, store.Trial{Number: 2, ConfigKey: "kv", Params: params("max_num_seqs", "128", "quantization", "fp8"),
		Args: []string{"--quantization", "fp8", "--max-num-seqs", "128"}, Objective: fl(-10000), Failure: "kv_cache_too_small",
		Violation: "kv_cache_too_small", Message: "KV cache smaller than one max-length request", Startup: 20 * sec, Teardown: sec,
		LogTail: "INFO 11-28 09:30:00 [core.py:1] Loading weights\nERROR 11-28 09:30:05 [core.py:2] ValueError: To serve at least one request with the model's max seq len (32768), 1.5 GiB KV cache is needed\nINFO 11-28 09:30:06 [core.py:3] shutting down\n"})
	f.Add(1, complete, store.Trial{Number: 3, ConfigKey: "oom", Params: params("max_num_seqs", "256", "speculative", "suffix"),
		Args: []string{"--speculative-config", `{"method":"suffix"}`, "--max-num-seqs", "256"}, Objective: fl(-10000),
		Failure: "crashed_during_benchmark", Violation: "crashed_during_benchmark", Message: "engine died",
		BenchJSON: bench(100, 90, 9000), Startup: 50 * sec, Benchmark: 5 * sec, Teardown: 3 * sec})
	f.Add(1, complete, store.Trial{Number: 4, ConfigKey: "slow", Params: params("max_num_seqs", "50", "speculative", "suffix"),
		Args: []string{"--speculative-config", `{"method":"suffix"}`, "--max-num-seqs", "50"}, Objective: fl(-1.5165),
		Violation: "P99 TTFT 3033 ms >= 2000 ms", BenchJSON: bench(5773, 9.5, 3033), Startup: 45 * sec, Benchmark: 25 * sec, Teardown: 2 * sec})
	one := 1
	f.Add(1, complete, store.Trial{Number: 5, ConfigKey: "suffix", Params: params("speculative", "suffix"),
		Args: []string{"--speculative-config", `{"method":"suffix"}`}, Feasible: true, Objective: fl(6898), DuplicateOf: &one,
		BenchJSON: bench(6898, 8.8, 1500), Message: "same command line as trial 1; not run again"})
	f.Add(1, goptuna.TrialStateFail, store.Trial{Number: 6, ConfigKey: "q", Params: params("quantization", "fp8"),
		Args: []string{"--quantization", "fp8"}, Failure: "interrupted", Message: "interrupted: the autotune that ran it is gone", Startup: 10 * sec})
	f.Add(1, complete, store.Trial{Number: 7, Label: report.RepeatLabel(1), ConfigKey: "suffix", Params: params("speculative", "suffix"),
		Args: []string{"--speculative-config", `{"method":"suffix"}`}, Feasible: true, Objective: fl(6808),
		BenchJSON: bench(6808, 9.1, 1530), Startup: 50 * sec, Benchmark: 20 * sec, Teardown: 2 * sec})
	f.Add(1, goptuna.TrialStateWaiting, store.Trial{Number: 8, Label: report.RetryLabel(6)})
	f.Add(1, goptuna.TrialStatePruned, store.Trial{Number: 9, ConfigKey: "p", Params: params("max_num_seqs", "64"),
		Args: []string{"--max-num-seqs", "64"}, Startup: 40 * sec, Benchmark: 5 * sec, Teardown: 2 * sec})
	f.Add(1, goptuna.TrialStateRunning, store.Trial{Number: 10, ConfigKey: "r", Params: params("quantization", "bitsandbytes"),
		Args: []string{"--quantization", "bitsandbytes"}})
	return f
}
