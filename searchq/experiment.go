package searchq

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/space"
	"github.com/autotune/autotune/store"
	"github.com/autotune/autotune/tuner"
)

// Threshold is the fraction of the optimum a run must reach to count as "found it".
const Threshold = 0.95

// Options configure an experiment.
type Options struct {
	Seeds         []int64  // experiment seeds: the sampler's seed and the source of each trial's noise
	Trials        int      // finished trials per study, counting the baseline and the known-good points
	Samplers      []string // tuner sampler names
	StartupTrials int      // TPE startup trials; 0 means the tuner's default
	Confirm       int      // trials at the end that re-measure the best configs (tuner.Options.Confirm)
	Local         int      // one-lever moves around the incumbent before the confirmation (tuner.Options.Local)
	LocalEvery    int      // tuner.Options.LocalEvery
	Prune         bool     // tuner.Options.Prune: stop settled benchmarks early
	Workers       int      // studies run at once; 0 means one per CPU
	// StudyWorkers is how many autotune workers share each study (as --gpus does); 0 or 1 means one. With more,
	// each trial also sleeps its simulated GPU time divided by Pace, so that the workers' trials overlap as they
	// would on the simulated clock, and Makespan is the busiest worker's simulated time.
	StudyWorkers int
	Pace         float64 // simulated seconds per real second with StudyWorkers > 1; 0 means 500
	Progress     io.Writer
}

// TrialResult is one trial of a study as the experiment saw it.
type TrialResult struct {
	Number    int      `json:"number"`
	Counted   int      `json:"counted"` // 1-based index among the trials that count toward the budget; 0 for duplicates
	Label     string   `json:"label,omitempty"`
	Args      []string `json:"args"`
	Measured  float64  `json:"measured"` // the objective the sampler was told (noisy)
	Feasible  bool     `json:"feasible"` // by the noisy measurement
	Duplicate bool     `json:"duplicate,omitempty"`
	GPU       float64  `json:"gpu_seconds"` // simulated GPU time of this trial (0 for a reused duplicate)
	Pruned    bool     `json:"pruned,omitempty"`
	True      Eval     `json:"true"` // noise-free
}

// RunResult is one study: a sampler, a seed, and what it found.
type RunResult struct {
	Sampler string        `json:"sampler"`
	Seed    int64         `json:"seed"`
	Trials  []TrialResult `json:"trials"`
	// GPUSeconds is the simulated GPU time of the whole study (every trial that started a server: start-up,
	// benchmark, teardown; see TrialCost), GPUTo95 the same up to the trial at ReachedAt (0 when never reached).
	GPUSeconds float64 `json:"gpu_seconds"`
	GPUTo95    float64 `json:"gpu_seconds_to_95"`
	Pruned     int     `json:"pruned"` // trials stopped early by the pruning rule
	// Makespan is the study's length on the simulated clock: the simulated GPU time of its busiest worker (with
	// one worker, GPUSeconds).
	Makespan float64 `json:"makespan_seconds"`
	// Best is the index in Trials of the pick, what a user would export: the first measurement of report.Best,
	// the config with the highest mean measured throughput, feasible on every measurement; -1 when none was.
	Best int `json:"best"`
	// Fraction is the noise-free feasible throughput of Best over the optimum (0 without a feasible trial).
	Fraction float64 `json:"fraction"`
	// Found is the best noise-free fraction among all the trials: what the search evaluated, before the noise of
	// the measurement chose among them.
	Found float64 `json:"found"`
	// ReachedAt is the first counted trial after which the running best pick's noise-free value was at least
	// Threshold of the optimum; 0 when it never was.
	ReachedAt  int           `json:"reached_at"`
	Counted    int           `json:"counted"`
	Duplicates int           `json:"duplicates"`
	Stopped    string        `json:"stopped,omitempty"`
	Elapsed    time.Duration `json:"elapsed_ns"`
}

// Experiment runs studies against the simulator and scores them against an optimum.
type Experiment struct {
	Space   *space.Space
	Optimum float64 // noise-free feasible throughput of the best config of the space
	Eval    *Evaluator
	Opts    Options
	// Land and Packages are the simulated machine (nil Land: sim.Predict's calibrated T4 with arctic-inference);
	// GPU names it in the study record.
	Land     *sim.Landscape
	Packages map[string]bool
	GPU      string
}

// Run runs every (sampler, seed) study, Opts.Workers at a time, and returns their results ordered by sampler (in
// Opts.Samplers order) then seed.
func (x *Experiment) Run(ctx context.Context) ([]RunResult, error) {
	type job struct {
		i       int
		sampler string
		seed    int64
	}
	var jobs []job
	for _, s := range x.Opts.Samplers {
		for _, seed := range x.Opts.Seeds {
			jobs = append(jobs, job{len(jobs), s, seed})
		}
	}
	workers := x.Opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	progress := x.Opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	results := make([]RunResult, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				r, err := x.RunOne(ctx, j.sampler, j.seed)
				results[j.i], errs[j.i] = r, err
				mu.Lock()
				done++
				if err != nil {
					fmt.Fprintf(progress, "[%d/%d] %s seed %d: %v\n", done, len(jobs), j.sampler, j.seed, err)
				} else {
					fmt.Fprintf(progress, "[%d/%d] %s seed %d: best %.1f%% of optimum, 95%% at trial %s, %d duplicates, %s\n",
						done, len(jobs), j.sampler, j.seed, 100*r.Fraction, reached(r.ReachedAt), r.Duplicates, r.Elapsed.Round(time.Millisecond))
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("%s seed %d: %w", jobs[i].sampler, jobs[i].seed, err)
		}
	}
	return results, nil
}

func reached(n int) string {
	if n == 0 {
		return "never"
	}
	return fmt.Sprint(n)
}

// RunOne runs one study with a fresh database and scores it.
func (x *Experiment) RunOne(ctx context.Context, sampler string, seed int64) (RunResult, error) {
	began := time.Now()
	// The study lives in memory: nothing of it is read after it is scored, and a file (even on /dev/shm) costs
	// a journal and a sync per commit.
	db, err := store.OpenMemory()
	if err != nil {
		return RunResult{}, fmt.Errorf("open store: %w", err)
	}
	defer db.Close()
	sp := x.Space
	// The study runs with the workload and SLA its results are judged by.
	sr := &SimRunner{Seed: seed, Land: x.Land, Packages: x.Packages}
	gpu := x.GPU
	if gpu == "" {
		gpu = sim.T4().Name
	}
	t := tuner.New(db, sr, sp, tuner.Options{
		Trials: x.Opts.Trials, Sampler: sampler, Seed: seed, StartupTrials: x.Opts.StartupTrials, Confirm: x.Opts.Confirm,
		Local: x.Opts.Local, LocalEvery: x.Opts.LocalEvery, Prune: x.Opts.Prune,
		SLA: x.Eval.sla, Workload: x.Eval.workload, WorkDir: simWorkDir, Simulated: true,
		VLLMVersion: sim.VLLMVersion, GPU: gpu, SpaceJSON: sp.JSON(),
		Owner: store.Owner{Host: "searchq", PID: os.Getpid(), Start: 1},
		Now:   fixedClock(),
	})
	var sum tuner.Summary
	var makespan float64
	if x.Opts.StudyWorkers > 1 {
		sum, makespan, err = x.runWorkers(ctx, db, sr, sampler, seed, gpu)
	} else {
		sum, err = t.Run(ctx)
	}
	if err != nil {
		return RunResult{}, fmt.Errorf("study: %w", err)
	}
	v, err := report.Load(report.FromStore(db), db.Path, "")
	if err != nil {
		return RunResult{}, fmt.Errorf("read the study: %w", err)
	}
	recs := make([]store.Trial, len(v.Trials))
	for i, t := range v.Trials {
		recs[i] = t.Record
		recs[i].State = t.State
	}
	r := x.score(sampler, seed, recs, sr)
	r.Makespan = r.GPUSeconds
	if x.Opts.StudyWorkers > 1 {
		r.Makespan = makespan
	}
	r.Stopped = sum.Stopped
	r.Elapsed = time.Since(began)
	return r, nil
}

// fixedClock is a clock that advances one second per call, so that nothing in a study depends on wall time.
func fixedClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

// score turns a study's records into a RunResult.
func (x *Experiment) score(sampler string, seed int64, recs []store.Trial, sr *SimRunner) RunResult {
	sort.Slice(recs, func(i, j int) bool { return recs[i].Number < recs[j].Number })
	r := RunResult{Sampler: sampler, Seed: seed, Best: -1}
	r.GPUSeconds = gpuUpTo(recs, sr, math.MaxInt)
	index := map[int]int{} // trial number -> index in r.Trials
	var done []store.Trial
	for _, rec := range recs {
		pruned := rec.State == store.StatePruned
		if (rec.State != store.StateComplete && !pruned) || rec.Objective == nil {
			continue
		}
		tr := TrialResult{Number: rec.Number, Label: rec.Label, Args: rec.Args, Measured: *rec.Objective,
			Feasible: rec.Feasible, Duplicate: rec.DuplicateOf != nil, True: x.Eval.Args(rec.Model, rec.Args), Pruned: pruned}
		if tr.Duplicate {
			r.Duplicates++
		} else {
			r.Counted++
			tr.Counted = r.Counted
		}
		if c, ok := sr.Cost(rec.Number); ok {
			tr.GPU = c.Seconds()
		}
		index[tr.Number] = len(r.Trials)
		r.Trials = append(r.Trials, tr)
		r.Found = math.Max(r.Found, x.fraction(tr))
		if tr.Duplicate {
			continue
		}
		if pruned {
			r.Pruned++
		}
		done = append(done, rec)
		if c, ok := report.Best(done); ok {
			r.Best = index[c.Trials[0].Number]
		} else {
			r.Best = -1
		}
		if r.ReachedAt == 0 && r.Best >= 0 && x.fraction(r.Trials[r.Best]) >= Threshold {
			r.ReachedAt = tr.Counted
			r.GPUTo95 = gpuUpTo(recs, sr, rec.Number) // failed and pruned trials up to here included
		}
	}
	if r.Best >= 0 {
		r.Fraction = x.fraction(r.Trials[r.Best])
	}
	return r
}

func (x *Experiment) fraction(t TrialResult) float64 {
	if x.Optimum <= 0 {
		return 0
	}
	return t.True.Score() / x.Optimum
}

// gpuUpTo is the simulated GPU time of every trial numbered up to n.
func gpuUpTo(recs []store.Trial, sr *SimRunner, n int) float64 {
	sum := 0.0
	for _, rec := range recs {
		if rec.Number > n {
			break
		}
		if c, ok := sr.Cost(rec.Number); ok {
			sum += c.Seconds()
		}
	}
	return sum
}

// simWorkDir is the trial folder the records name: the simulated runner writes no files.
const simWorkDir = "searchq-simulated-trials"
