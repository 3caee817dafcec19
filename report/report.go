package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
)

// Source is what the read model needs of a study database. FromStore adapts a *store.DB; tests pass fakes.
type Source interface {
	Studies() ([]store.Study, error)
	Trials(studyID int) ([]store.Trial, error)
	// GoptunaTrials are goptuna's trials of the study: the source of truth for states, and the only record of a
	// queued trial.
	GoptunaTrials(studyID int) ([]goptuna.FrozenTrial, error)
}

// FromStore reads a study database opened with store.OpenReadOnly (or store.Open).
func FromStore(db *store.DB) Source { return storeSource{db} }

type storeSource struct{ *store.DB }

func (s storeSource) GoptunaTrials(studyID int) ([]goptuna.FrozenTrial, error) {
	ts, err := s.DB.GoptunaTrials(studyID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path, err)
	}
	return ts, nil
}

// DefaultStudy is the name of the study that a run gives when --study names none, and that Load reads when no
// study is named and the file holds several.
const DefaultStudy = "default"

// ErrSeveralStudies is returned by Load when no study is named and the file holds several (none DefaultStudy).
var ErrSeveralStudies = errors.New("several studies")

// Study is the study as reports show it. The JSON names are a stable interface.
type Study struct {
	Name        string          `json:"name"`
	DB          string          `json:"db"`
	Simulated   bool            `json:"simulated"`
	Model       string          `json:"model"`
	Workload    json.RawMessage `json:"workload"`
	SLA         json.RawMessage `json:"sla"`
	Sampler     string          `json:"sampler"`
	Seed        int64           `json:"seed"`
	VLLMVersion string          `json:"vllm_version"`
	GPU         string          `json:"gpu"`
	Space       string          `json:"space_fingerprint"`
	CreatedAt   time.Time       `json:"created_at"`
	Finished    int             `json:"finished_trials"`
	// GPUSeconds is the time the study held the GPU: every trial's startup, benchmark and teardown.
	GPUSeconds float64 `json:"gpu_seconds"`
	// OtherStudies are the names of the other studies in the same file: when there are any, a command that
	// reads this study must name it.
	OtherStudies []string `json:"other_studies,omitempty"`
}

// Trial is one trial as reports show it. The JSON names are a stable interface (DESIGN.md).
type Trial struct {
	Number  int    `json:"number"`
	State   string `json:"state"`   // goptuna's state: complete, pruned, failed, running, waiting
	Outcome string `json:"outcome"` // for people: feasible, infeasible, crashed, refused, pruned, duplicate, ...
	Label   string `json:"label,omitempty"`
	// Finished: the trial counts toward --trials.
	Finished         bool              `json:"finished"`
	Feasible         bool              `json:"feasible"`
	OutputThroughput *float64          `json:"output_throughput"`
	P99TPOTms        *float64          `json:"p99_tpot_ms"`
	P99TTFTms        *float64          `json:"p99_ttft_ms"`
	MeanTPOTms       *float64          `json:"mean_tpot_ms"`
	MeanTTFTms       *float64          `json:"mean_ttft_ms"`
	Failure          string            `json:"failure"`
	Violation        string            `json:"violation,omitempty"`
	Message          string            `json:"message,omitempty"`
	Args             []string          `json:"args"`
	Params           map[string]string `json:"params"`
	Env              map[string]string `json:"env,omitempty"`   // environment variables the space file set
	Model            string            `json:"model,omitempty"` // the served model, when it is not the study's
	Objective        *float64          `json:"objective"`
	DuplicateOf      *int              `json:"duplicate_of,omitempty"`
	// FlagsOf is the trial whose flags a queued retry or confirmation run will use.
	FlagsOf *int `json:"flags_of,omitempty"`
	// Measurements lists every measurement of the config when it ran more than once (the confirmation phase);
	// then OutputThroughput and MeanTPOTms are their means and the P99 latencies their worst.
	Measurements []Measurement `json:"measurements,omitempty"`
	StartupS     float64       `json:"startup_s"`
	BenchmarkS   float64       `json:"benchmark_s"`
	TeardownS    float64       `json:"teardown_s"`

	// Record is autotune's full record (argv, logs, the benchmark's JSON); Metrics is that JSON decoded.
	Record  store.Trial    `json:"-"`
	Metrics map[string]any `json:"-"`
}

// GPUSeconds is how long the trial held the GPU.
func (t Trial) GPUSeconds() float64 { return t.StartupS + t.BenchmarkS + t.TeardownS }

// Measured reports whether the benchmark produced a throughput.
func (t Trial) Measured() bool { return t.OutputThroughput != nil }

// View is a study read for a report: the study, all its trials by number, the best config and the baseline.
type View struct {
	Study  Study   `json:"study"`
	Trials []Trial `json:"trials"`
	// Best is the best feasible config with all of its runs (nil when no trial met the SLA).
	Best *Trial `json:"best"`
	// Baseline is trial 0's measurement of vLLM's defaults (nil before it ran).
	Baseline *Trial `json:"baseline"`

	rank map[string]int // parameter -> importance rank, for SortChanges
}

// Load reads the study called name (or, when name is empty, the only study in the file, or the one called
// DefaultStudy) with all of its trials. path is how the file is named to people.
func Load(src Source, path, name string) (*View, error) {
	all, err := src.Studies()
	if err != nil {
		return nil, err
	}
	st, err := pick(all, path, name)
	if err != nil {
		return nil, err
	}
	gts, err := src.GoptunaTrials(st.ID)
	if err != nil {
		return nil, err
	}
	recs, err := src.Trials(st.ID)
	if err != nil {
		return nil, err
	}
	v := &View{Study: Study{
		Name: st.Name, DB: path, Simulated: st.Simulated, Model: st.Model, Workload: rawJSON(st.WorkloadJSON),
		SLA: rawJSON(st.SLAJSON), Sampler: st.Sampler, Seed: st.Seed, VLLMVersion: st.VLLMVersion, GPU: st.GPU,
		Space: st.SpaceFingerprint, CreatedAt: st.CreatedAt,
	}, Trials: []Trial{}}
	for _, s := range all {
		if s.ID != st.ID {
			v.Study.OtherStudies = append(v.Study.OtherStudies, s.Name)
		}
	}
	byID := map[int]store.Trial{}
	for _, r := range recs {
		byID[r.TrialID] = r
	}
	for _, ft := range gts {
		v.Trials = append(v.Trials, newTrial(ft, byID[ft.ID]))
	}
	sort.Slice(v.Trials, func(i, j int) bool { return v.Trials[i].Number < v.Trials[j].Number })
	byNumber := map[int]*Trial{}
	var measured []store.Trial
	for i := range v.Trials {
		t := &v.Trials[i]
		byNumber[t.Number] = t
		v.Study.GPUSeconds += t.GPUSeconds()
		if !t.Finished {
			continue
		}
		v.Study.Finished++
		if t.Label == BaselineLabel && t.Measured() && v.Baseline == nil {
			v.Baseline = t
		}
		if t.Measured() {
			measured = append(measured, t.Record)
		}
	}
	// A queued retry or confirmation run will use the flags of the trial its label names.
	for i := range v.Trials {
		t := &v.Trials[i]
		if n, ok := LabelTrial(t.Label); ok && t.State == store.StateWaiting {
			if src := byNumber[n]; src != nil {
				t.FlagsOf = &n
				t.Args, t.Params = src.Args, src.Params
			}
		}
	}
	if c, ok := Best(measured); ok {
		v.Best = bestOf(c, byNumber)
	}
	return v, nil
}

func pick(all []store.Study, path, name string) (store.Study, error) {
	if name != "" {
		for _, s := range all {
			if s.Name == name {
				return s, nil
			}
		}
		return store.Study{}, fmt.Errorf("%q: %w in %s%s", name, store.ErrNoStudy, path, namesText(all))
	}
	switch len(all) {
	case 0:
		return store.Study{}, fmt.Errorf("%s holds %w yet", path, store.ErrNoStudy)
	case 1:
		return all[0], nil
	}
	for _, s := range all {
		if s.Name == DefaultStudy {
			return s, nil
		}
	}
	return store.Study{}, fmt.Errorf("%s holds %w%s", path, ErrSeveralStudies, namesText(all))
}

func namesText(all []store.Study) string {
	if len(all) == 0 {
		return ""
	}
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Name
	}
	return " (" + strings.Join(names, ", ") + ")"
}

func rawJSON(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return json.RawMessage("null")
	}
	return json.RawMessage(s)
}

func newTrial(ft goptuna.FrozenTrial, rec store.Trial) Trial {
	t := Trial{
		Number: ft.Number, State: stateNames[ft.State], Label: rec.Label, Feasible: rec.Feasible,
		Failure: rec.Failure, Violation: rec.Violation, Message: rec.Message, Args: rec.Args, Params: rec.Params,
		Env: rec.Env, Model: rec.Model, DuplicateOf: rec.DuplicateOf, StartupS: rec.Startup.Seconds(),
		BenchmarkS: rec.Benchmark.Seconds(), TeardownS: rec.Teardown.Seconds(), Record: rec,
	}
	if t.Label == "" {
		t.Label = ft.SystemAttrs[store.LabelAttr]
	}
	if t.Args == nil {
		t.Args = []string{}
	}
	if t.Params == nil {
		t.Params = map[string]string{}
	}
	if len(t.Env) == 0 {
		t.Env = nil
	}
	if ft.State == goptuna.TrialStateComplete {
		val := ft.Value
		t.Objective = &val
	}
	if rec.BenchJSON != "" {
		var m map[string]any
		if json.Unmarshal([]byte(rec.BenchJSON), &m) == nil {
			t.Metrics = m
			t.OutputThroughput = number(m, runner.KeyOutputThroughput)
			t.P99TPOTms = number(m, runner.KeyP99TPOT)
			t.P99TTFTms = number(m, runner.KeyP99TTFT)
			t.MeanTPOTms = number(m, runner.KeyMeanTPOT)
			t.MeanTTFTms = number(m, runner.KeyMeanTTFT)
		}
	}
	// goptuna's state decides; our record fills in the rest (a record can lag only while a trial runs).
	rec.State = t.State
	t.Finished = rec.Finished()
	t.Outcome = outcome(t.State, rec)
	return t
}

func number(m map[string]any, key string) *float64 {
	f, ok := m[key].(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

// Trial returns trial number n, or nil.
func (v *View) Trial(n int) *Trial {
	for i := range v.Trials {
		if v.Trials[i].Number == n {
			return &v.Trials[i]
		}
	}
	return nil
}

// NeedsStudyName reports whether a command that reads this study must name it: the file holds other studies too.
func (v *View) NeedsStudyName() bool { return len(v.Study.OtherStudies) > 0 }

// shellWord quotes s for a shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Limits are the study's SLA limits on P99 TPOT and P99 TTFT in ms (0 when the record has none).
func (s Study) Limits() (tpotMs, ttftMs float64) {
	var l struct {
		TPOT float64 `json:"max_p99_tpot_ms"`
		TTFT float64 `json:"max_p99_ttft_ms"`
	}
	_ = json.Unmarshal(s.SLA, &l)
	return l.TPOT, l.TTFT
}
