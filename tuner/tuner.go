package tuner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sampler"
	"github.com/autotune/autotune/space"
	"github.com/autotune/autotune/store"
)

// Runner runs one trial. *runner.Runner satisfies it; tests pass fakes.
type Runner interface {
	Run(ctx context.Context, t runner.Trial) runner.Result
}

// Space is what the tuner needs of a search space. *space.Space satisfies it.
type Space interface {
	Sample(s space.Suggester) (space.Config, error)
	Baseline() space.Config
	KnownGood() []space.Config
	Encode(params map[string]string) (map[string]float64, error)
	Fingerprint() string
}

// trialStore is what the tuner reads and writes of the sampler's record of a study (goptuna's trials), each
// operation named for what it does. *store.DB satisfies it; goptuna's storage API stays inside store.
type trialStore interface {
	NewStudy(name string) (int, error)
	GoptunaTrials(studyID int) ([]goptuna.FrozenTrial, error)
	TrialParams(trialID int) (map[string]float64, error)
	Enqueue(studyID int, q store.Queued) error
	SetIntermediateValue(trialID, step int, value float64) error
	FailTrial(trialID int) error
}

// DefaultTrials is the study length autotune runs unless --trials says otherwise, and the one searchq measures
// the search at.
const DefaultTrials = 40

// Options configure a study run.
type Options struct {
	StudyName     string // default report.DefaultStudy
	Trials        int    // target number of finished trials, counting earlier runs
	Sampler       string // tpe, random or grid
	Seed          int64
	StartupTrials int // observations before TPE models (sampler.DefaultStartupTrials when 0; see sampler's phased)
	// Confirm is how many of the last trials re-measure the best configs (at most one trial in 8 of Trials);
	// 0 means none. Callers that want the default pass DefaultConfirm.
	Confirm int
	// Local is how many trials before the confirmation phase move one lever of the incumbent (TPE only; see
	// local.go), LocalEvery how they are spread (every LocalEvery-th trial of the window); 0 means none. Callers
	// that want the defaults pass DefaultLocal and DefaultLocalEvery.
	Local, LocalEvery int
	// Prune watches every benchmark and stops it once its outcome is settled (prune.go).
	Prune       bool
	SLA         SLA
	Workload    runner.Workload
	WorkDir     string // trial folders go to WorkDir/trial-NNNN
	Simulated   bool
	VLLMVersion string
	GPU         string
	SpaceJSON   string // the space in force, recorded with the study
	TimeBudget  time.Duration
	Version     string // autotune's version, recorded with the study

	// Owner is this process; several workers of one process (one per GPU) share it.
	Owner store.Owner
	// WorkerLabel says what this worker runs on ("GPU 2"), for the other workers' messages.
	WorkerLabel string
	// ProcessGone tells whether a process on this host is gone (its PID is free or names another process now).
	// A worker on this host whose process is gone is dead at once; one on another host only after
	// HeartbeatTimeout. nil: only the heartbeat counts.
	ProcessGone func(store.Owner) bool
	// HeartbeatEvery is how often a worker says it is alive (default 20 s); HeartbeatTimeout how long another
	// host's worker may stay silent before its running trial is failed and queued again (default 2 min).
	HeartbeatEvery, HeartbeatTimeout time.Duration
	// Takeover names hosts whose workers are gone now (a reset VM): their trials are taken over at once.
	Takeover []string
	// StopStale stops the server of a trial left running by a dead worker of this host, if it is still there.
	StopStale func(ctx context.Context, p runner.Process) (bool, error)

	// Preflight, when set, runs before every trial; an error stops the study (e.g. the disk is full).
	Preflight func() error

	// PollEvery is how long a worker waits before it looks again when nothing can start now (every candidate
	// runs elsewhere, or the other workers' trials will reach the target); 0 means 2 s.
	PollEvery time.Duration

	Progress io.Writer // one line per trial; nil discards
	Phases   PhaseMode // how a running trial's phase is shown on Progress
	// AfterTrial, when set, runs after every trial that ran has been recorded (`run --report` rewrites its page).
	AfterTrial func()
	Now        func() time.Time
}

// Tuner runs one study.
type Tuner struct {
	db     *store.DB  // autotune's records of the study, its trials and its workers
	trials trialStore // goptuna's trials: what the sampler reads
	runner Runner
	space  Space
	opts   Options

	studyID  int
	sampler  sampler.Sampler // the study's sampler
	explorer sampler.Sampler // random draws to get unstuck from duplicates
	started  time.Time
	workerID atomic.Int64 // this worker's registration; it changes if another worker took this one for dead
	warned   map[int]bool // silent workers already reported
	// finishedAtStart is the study's finished count when this run began, for the ETA.
	finishedAtStart int
	// benchDurations are this run's benchmark times, for the benchmark's progress.
	benchDurations []time.Duration
}

// Errors the command line maps to exit codes.
var (
	// ErrIncompatible: the stored study was made with a different workload, SLA, space or mode.
	ErrIncompatible = errors.New("incompatible study")
	// ErrHarness: trials keep failing for reasons that are not the configs' (port taken, GPU busy, ...).
	ErrHarness = errors.New("harness keeps failing")
	// ErrPlatformUnusable: the installed vLLM cannot run on this machine at all (no kernel image for the GPU, a
	// driver too old, vLLM not importable); every config would fail the same way.
	ErrPlatformUnusable = errors.New("vLLM cannot run on this machine")
	// ErrBaselineFailed: trial 0, vLLM's own defaults, failed; the study stops with the diagnosis instead of
	// sampling configs around a server that does not start.
	ErrBaselineFailed = errors.New("the baseline (vLLM's defaults) failed")
)

// New returns a tuner over db, running trials through r, drawing configs from sp.
func New(db *store.DB, r Runner, sp Space, opts Options) *Tuner {
	if opts.StudyName == "" {
		opts.StudyName = report.DefaultStudy
	}
	if opts.Sampler == "" {
		opts.Sampler = sampler.TPE
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollEvery <= 0 {
		opts.PollEvery = 2 * time.Second
	}
	if opts.HeartbeatEvery <= 0 {
		opts.HeartbeatEvery = DefaultHeartbeatEvery
	}
	if opts.HeartbeatTimeout <= 0 {
		opts.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	return &Tuner{db: db, trials: db, runner: r, space: sp, opts: opts}
}

// studyRecord is the record this command would create; Open compares it with what is stored.
func (t *Tuner) studyRecord() store.Study {
	w, _ := json.Marshal(t.opts.Workload)
	s, _ := json.Marshal(t.opts.SLA)
	return store.Study{
		Name: t.opts.StudyName, CreatedAt: t.opts.Now(), Model: t.opts.Workload.Model, WorkloadJSON: string(w),
		SLAJSON: string(s), Sampler: t.opts.Sampler, Seed: t.opts.Seed, Simulated: t.opts.Simulated,
		SpaceFingerprint: t.space.Fingerprint(), SpaceJSON: t.opts.SpaceJSON, VLLMVersion: t.opts.VLLMVersion,
		GPU: t.opts.GPU, AutotuneVersion: t.opts.Version,
	}
}

// check compares the command's study with the stored one, if any, without writing anything, and returns the
// stored one.
func (t *Tuner) check() (store.Study, bool, error) {
	stored, err := t.db.StudyByName(t.opts.StudyName)
	if errors.Is(err, store.ErrNoStudy) {
		return store.Study{}, false, nil
	}
	if err != nil {
		return store.Study{}, false, err
	}
	if diffs := diffStudies(stored, t.studyRecord()); len(diffs) > 0 {
		return stored, true, &IncompatibleError{Study: t.opts.StudyName, DB: t.db.Path, Stored: stored, Diffs: diffs}
	}
	return stored, true, nil
}

// open loads or creates the study (goptuna's and autotune's record of it), registers this worker, and builds the
// sampler. Several workers may open a new study at once: one creates it, the others load it.
func (t *Tuner) open() error {
	created := false
	for attempt := 0; ; attempt++ {
		stored, exists, err := t.check()
		if err != nil {
			return err
		}
		if exists {
			t.studyID = stored.ID
			break
		}
		id, err := t.trials.NewStudy(t.opts.StudyName)
		if err == nil {
			record := t.studyRecord()
			record.ID = id
			if err := t.db.CreateStudy(record); err != nil {
				return err
			}
			t.studyID, created = id, true
			break
		}
		// Another worker is creating it: its record follows goptuna's study in a moment.
		if attempt >= 50 {
			return fmt.Errorf("create study %q: %w", t.opts.StudyName, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	w, err := t.db.Register(t.studyID, t.opts.Owner, t.opts.WorkerLabel)
	if err != nil {
		return err
	}
	t.workerID.Store(int64(w.ID))
	// Mix the seed with the study's progress, so that a resumed study does not replay its first random draws,
	// and with the worker, so that workers that start together do not draw the same configs. The first worker
	// of a new database (ID 1) draws exactly what --seed says.
	trials, err := t.trials.GoptunaTrials(t.studyID)
	if err != nil {
		return fmt.Errorf("read study: %w", err)
	}
	progress := len(trials)
	if created {
		progress = 0
	}
	seed := t.opts.Seed + int64(progress)*1_000_003 + int64(w.ID-1)*7_919
	s, err := sampler.New(t.opts.Sampler, seed, t.opts.StartupTrials)
	if err != nil {
		return fmt.Errorf("study %q: %w", t.opts.StudyName, err)
	}
	t.sampler = s
	t.explorer = sampler.NewUniform(seed + 1)
	if created {
		if err := t.enqueueStart(); err != nil {
			return err
		}
	}
	return nil
}

// enqueueStart enqueues the baseline and the space's known-good points.
func (t *Tuner) enqueueStart() error {
	// The baseline is enqueued at the space's default values when the space can express them, so that it is
	// also a point TPE learns from; it runs with no tuned flags either way.
	internal, err := t.space.Encode(t.space.Baseline().Params)
	if err != nil {
		internal = nil
	}
	if err := t.enqueue(internal, report.BaselineLabel); err != nil {
		return err
	}
	for _, c := range t.space.KnownGood() {
		internal, err := t.space.Encode(c.Params)
		if err != nil {
			return fmt.Errorf("known-good point %q: %w", c.Label, err)
		}
		if err := t.enqueue(internal, c.Label); err != nil {
			return err
		}
	}
	return nil
}

// enqueue adds a waiting trial with fixed internal params and a label.
func (t *Tuner) enqueue(internal map[string]float64, label string) error {
	return t.trials.Enqueue(t.studyID, store.Queued{Label: label, Params: internal})
}

// trialDir is where trial n keeps its logs and benchmark JSON.
func (t *Tuner) trialDir(n int) string {
	return filepath.Join(t.opts.WorkDir, fmt.Sprintf("trial-%04d", n))
}

// Summary is what a run did.
type Summary struct {
	StudyID  int
	Finished int // finished trials in the study, counting earlier runs
	Stopped  string
}
