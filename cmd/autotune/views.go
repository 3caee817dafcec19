package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/store"
	"github.com/autotune/autotune/tuner"
)

// studyView is the study as reports show it.
type studyView struct {
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
}

// trialView is one trial as reports show it. The JSON names are a stable interface (DESIGN.md).
type trialView struct {
	Number           int               `json:"number"`
	State            string            `json:"state"`
	Label            string            `json:"label,omitempty"`
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
	Objective        *float64          `json:"objective"`
	DuplicateOf      *int              `json:"duplicate_of,omitempty"`
	// Measurements lists every measurement of the config when it ran more than once (the confirmation phase);
	// then OutputThroughput and MeanTPOTms are their means and the P99 latencies their worst.
	Measurements []measurementView `json:"measurements,omitempty"`
	StartupS     float64           `json:"startup_s"`
	BenchmarkS   float64           `json:"benchmark_s"`
	TeardownS    float64           `json:"teardown_s"`

	rec     store.Trial
	metrics map[string]any
}

// loadedStudy is a study read for a report.
type loadedStudy struct {
	db     *store.DB
	study  store.Study
	view   studyView
	trials []trialView
}

// openExisting opens a database that must already exist: reports never create one.
func openExisting(path string) (*store.DB, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, usagef("--db %s: no such file; run `autotune --trials N` first (or name the database with --db)", path)
	}
	db, err := store.OpenReadOnly(path)
	if err != nil {
		return nil, fmt.Errorf("--db %w", err) // store's error starts with the path
	}
	return db, nil
}

// loadStudy reads the study called name (or the only study in the file) with all its trials.
func loadStudy(path, name string) (*loadedStudy, error) {
	db, err := openExisting(path)
	if err != nil {
		return nil, err
	}
	st, err := pickStudy(db, name)
	if err != nil {
		db.Close()
		return nil, err
	}
	ls := &loadedStudy{db: db, study: st}
	gts, err := db.Storage.GetAllTrials(st.ID)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read study: %w", err)
	}
	recs, err := db.Trials(st.ID)
	if err != nil {
		db.Close()
		return nil, err
	}
	byID := map[int]store.Trial{}
	for _, r := range recs {
		byID[r.TrialID] = r
	}
	for _, ft := range gts {
		v := newTrialView(ft, byID[ft.ID])
		if v.State == "complete" && v.DuplicateOf == nil {
			ls.view.Finished++
		}
		ls.trials = append(ls.trials, v)
	}
	sort.Slice(ls.trials, func(i, j int) bool { return ls.trials[i].Number < ls.trials[j].Number })
	ls.view = studyView{
		Name: st.Name, DB: path, Simulated: st.Simulated, Model: st.Model, Workload: json.RawMessage(st.WorkloadJSON),
		SLA: json.RawMessage(st.SLAJSON), Sampler: st.Sampler, Seed: st.Seed, VLLMVersion: st.VLLMVersion, GPU: st.GPU,
		Space: st.SpaceFingerprint, CreatedAt: st.CreatedAt, Finished: ls.view.Finished,
	}
	return ls, nil
}

func (ls *loadedStudy) Close() { ls.db.Close() }

func pickStudy(db *store.DB, name string) (store.Study, error) {
	if name != "" {
		st, err := db.StudyByName(name)
		if errors.Is(err, store.ErrNoStudy) {
			return st, fmt.Errorf("--study %q: %w in %s", name, store.ErrNoStudy, db.Path)
		}
		return st, err
	}
	all, err := db.Studies()
	if err != nil {
		return store.Study{}, err
	}
	switch len(all) {
	case 0:
		return store.Study{}, fmt.Errorf("%s holds %w yet; run `autotune --trials N` first", db.Path, store.ErrNoStudy)
	case 1:
		return all[0], nil
	}
	for _, s := range all {
		if s.Name == "default" {
			return s, nil
		}
	}
	var names []string
	for _, s := range all {
		names = append(names, s.Name)
	}
	return store.Study{}, usagef("%s holds several studies (%s); choose one with --study", db.Path, strings.Join(names, ", "))
}

var stateNames = map[goptuna.TrialState]string{
	goptuna.TrialStateRunning: "running", goptuna.TrialStateComplete: "complete", goptuna.TrialStatePruned: "pruned",
	goptuna.TrialStateFail: "failed", goptuna.TrialStateWaiting: "waiting",
}

func newTrialView(ft goptuna.FrozenTrial, rec store.Trial) trialView {
	v := trialView{
		Number: ft.Number, State: stateNames[ft.State], Label: rec.Label, Feasible: rec.Feasible,
		Failure: rec.Failure, Violation: rec.Violation, Message: rec.Message, Args: rec.Args, Params: rec.Params,
		DuplicateOf: rec.DuplicateOf, StartupS: rec.Startup.Seconds(), BenchmarkS: rec.Benchmark.Seconds(),
		TeardownS: rec.Teardown.Seconds(), rec: rec,
	}
	if v.Label == "" {
		v.Label = ft.SystemAttrs[tuner.LabelAttr]
	}
	if v.Args == nil {
		v.Args = []string{}
	}
	if v.Params == nil {
		v.Params = map[string]string{}
	}
	if ft.State == goptuna.TrialStateComplete {
		val := ft.Value
		v.Objective = &val
	}
	if rec.BenchJSON != "" {
		var m map[string]any
		if json.Unmarshal([]byte(rec.BenchJSON), &m) == nil {
			v.metrics = m
			v.OutputThroughput = number(m, "output_throughput")
			v.P99TPOTms = number(m, "p99_tpot_ms")
			v.P99TTFTms = number(m, "p99_ttft_ms")
			v.MeanTPOTms = number(m, "mean_tpot_ms")
			v.MeanTTFTms = number(m, "mean_ttft_ms")
		}
	}
	return v
}

func number(m map[string]any, key string) *float64 {
	f, ok := m[key].(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

// verdict is a short word on a trial for tables; a confirmation run says which trial it repeats.
func (v trialView) verdict() string {
	if tuner.IsRepeat(v.Label) && v.State == "complete" {
		return v.outcome() + ", " + v.Label
	}
	return v.outcome()
}

func (v trialView) outcome() string {
	switch {
	case v.State == "waiting" || v.State == "running":
		return v.State
	case v.DuplicateOf != nil:
		return fmt.Sprintf("same as #%d", *v.DuplicateOf)
	case v.Feasible:
		return "feasible"
	case v.State == "failed":
		return "not counted: " + v.Failure
	case v.Violation != "" && v.OutputThroughput != nil:
		return "infeasible: " + v.Violation
	case v.Failure != "":
		return v.Failure
	}
	return v.State
}

// flagsText is the trial's flags for people, quoted so that they paste into a shell.
func (v trialView) flagsText() string {
	if v.Label == "baseline" {
		return "(vLLM defaults)"
	}
	if len(v.Args) == 0 {
		return "(no flags)"
	}
	return shellJoin(v.Args)
}

// bestAndBaseline finds the best feasible config (tuner.Best: the highest mean throughput over its
// measurements, feasible on every one) and the baseline (trial 0's config). When the best was measured more
// than once, its view is the first measurement's with the mean throughput and mean TPOT, the worst P99
// latencies of all of them, and Measurements lists each one.
func (ls *loadedStudy) bestAndBaseline() (best, baseline *trialView) {
	var recs []store.Trial
	byNumber := map[int]*trialView{}
	for i := range ls.trials {
		t := &ls.trials[i]
		if t.State != "complete" || t.DuplicateOf != nil {
			continue
		}
		if t.Label == "baseline" && t.OutputThroughput != nil && baseline == nil {
			baseline = t
		}
		if t.OutputThroughput != nil {
			recs = append(recs, t.rec)
			byNumber[t.Number] = t
		}
	}
	c, ok := tuner.Best(recs)
	if !ok {
		return nil, baseline
	}
	first := *byNumber[c.Trials[0].Number]
	best = &first
	if len(c.Trials) == 1 {
		return best, baseline
	}
	// A feasible trial's objective is its throughput, so the candidate's mean is the mean throughput.
	mean, meanTPOT := c.Mean, 0.0
	n := float64(len(c.Trials))
	for _, tr := range c.Trials {
		v := byNumber[tr.Number]
		best.Measurements = append(best.Measurements, measurementView{Number: v.Number, OutputThroughput: *v.OutputThroughput,
			P99TPOTms: v.P99TPOTms, P99TTFTms: v.P99TTFTms})
		best.P99TPOTms = maxPtr(best.P99TPOTms, v.P99TPOTms)
		best.P99TTFTms = maxPtr(best.P99TTFTms, v.P99TTFTms)
		if v.MeanTPOTms != nil && meanTPOT >= 0 {
			meanTPOT += *v.MeanTPOTms / n
		} else {
			meanTPOT = -1 // not known for every run
		}
	}
	best.OutputThroughput = &mean
	best.MeanTPOTms = nil
	if meanTPOT >= 0 {
		best.MeanTPOTms = &meanTPOT
	}
	return best, baseline
}

// measurementView is one measurement of a config measured more than once.
type measurementView struct {
	Number           int      `json:"number"`
	OutputThroughput float64  `json:"output_throughput"`
	P99TPOTms        *float64 `json:"p99_tpot_ms"`
	P99TTFTms        *float64 `json:"p99_ttft_ms"`
}

func maxPtr(a, b *float64) *float64 {
	if a == nil || (b != nil && *b > *a) {
		return b
	}
	return a
}

// numbers are the trial numbers behind a view, formatted: its own, or every measurement's.
func (v trialView) numbers(format string) []string {
	if len(v.Measurements) < 2 {
		return []string{fmt.Sprintf(format, v.Number)}
	}
	var ns []string
	for _, m := range v.Measurements {
		ns = append(ns, fmt.Sprintf(format, m.Number))
	}
	return ns
}

// trialsText names the trials behind a view in prose: "trial 12", or "trials 12 and 38".
func (v trialView) trialsText() string {
	ns := v.numbers("%d")
	if len(ns) == 1 {
		return "trial " + ns[0]
	}
	return fmt.Sprintf("trials %s and %s", strings.Join(ns[:len(ns)-1], ", "), ns[len(ns)-1])
}

// measuredText says which trials a view's numbers come from: "#12", or "#12, #38: mean".
func (v trialView) measuredText() string {
	ns := v.numbers("#%d")
	if len(ns) == 1 {
		return ns[0]
	}
	return strings.Join(ns, ", ") + ": mean"
}

func fmtNum(p *float64, format string) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf(format, *p)
}

// simulatedNote is printed wherever a simulated study's numbers appear.
const simulatedNote = "SIMULATED: these numbers come from autotune's simulator of vLLM 0.15.1 on a Tesla T4, not from a GPU."
