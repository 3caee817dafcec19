package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/autotune/autotune/internal/diskfree"
	readmodel "github.com/autotune/autotune/report"
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sampler"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/space"
	"github.com/autotune/autotune/store"
	"github.com/autotune/autotune/tuner"
)

// machineFlags are the flags that say how to reach vLLM and the GPU and what is served; `run` and `space`
// share the ones that shape the search space, and only `run` has the ones that reach the server and benchmark.
type machineFlags struct {
	vllm, nvidiaSMI, python string
	simulate                bool
	simSpeed                float64
	host                    string
	port                    int
	model, tokenizer        string
	concurrency             int
	numPrompts              int
	inputLen, outputLen     int
	requestRate             string
	spaceFile               string

	forRun bool // the server and benchmark flags are registered (the run command)
}

// defaultSimSpeed is how many times faster than real time --simulate runs the simulator (--sim-speed).
const defaultSimSpeed = 200

// register adds the flags of the space command to fs, and with forRun those that only a study uses (where the
// server listens, the rest of the benchmark workload, the simulator's speed).
func (m *machineFlags) register(fs *pflag.FlagSet, forRun bool) {
	m.forRun = forRun
	w := runner.DefaultWorkload() // the flags' defaults are the runner's, stated there once
	// Defaults of the flags that are not registered; the probes and space still read them.
	m.simSpeed, m.host, m.port, m.numPrompts, m.requestRate = defaultSimSpeed, runner.DefaultHost, runner.DefaultPort, w.NumPrompts, w.RequestRate
	fs.StringVar(&m.vllm, "vllm", "vllm", "the vllm executable, optionally with leading arguments")
	fs.StringVar(&m.nvidiaSMI, "nvidia-smi", "nvidia-smi", "the nvidia-smi executable")
	fs.StringVar(&m.python, "python", "", "the python that runs vLLM, for package probes (default: next to --vllm)")
	fs.BoolVar(&m.simulate, "simulate", false, "run against autotune's simulated vLLM "+sim.VLLMVersion+" on a "+sim.T4().Name+" instead of a GPU")
	if forRun {
		fs.Float64Var(&m.simSpeed, "sim-speed", defaultSimSpeed, "with --simulate: how many times faster than real time the simulator runs")
		fs.StringVar(&m.host, "host", runner.DefaultHost, "address the vLLM server listens on")
		fs.IntVar(&m.port, "port", runner.DefaultPort, "port the vLLM server listens on")
	}
	fs.StringVar(&m.model, "model", w.Model, "model to serve and benchmark")
	if forRun {
		fs.StringVar(&m.tokenizer, "tokenizer", "", "benchmark tokenizer (default: the model)")
	}
	fs.IntVar(&m.concurrency, "max-concurrency", w.MaxConcurrency, "benchmark: concurrent requests")
	if forRun {
		fs.IntVar(&m.numPrompts, "num-prompts", w.NumPrompts, "benchmark: number of prompts")
	}
	fs.IntVar(&m.inputLen, "random-input-len", w.InputLen, "benchmark: prompt length in tokens")
	fs.IntVar(&m.outputLen, "random-output-len", w.OutputLen, "benchmark: output length in tokens")
	if forRun {
		fs.StringVar(&m.requestRate, "request-rate", w.RequestRate, "benchmark: request rate (inf sends all at once, limited by --max-concurrency)")
	}
	fs.StringVar(&m.spaceFile, "space", "", "search space file (YAML or JSON) that changes the default space")
}

func (m *machineFlags) validate() error {
	switch {
	case strings.TrimSpace(m.vllm) == "":
		return usagef("--vllm: empty")
	case m.simSpeed <= 0:
		return usagef("--sim-speed %g: must be > 0", m.simSpeed)
	case m.port < 1 || m.port > 65535:
		return usagef("--port %d: must be 1..65535", m.port)
	case m.model == "":
		return usagef("--model: empty")
	case m.simulate && sim.CheckModel(m.model) != nil:
		return usagef("--model %s: the simulator models only %s; other models need a GPU with vLLM (run without --simulate)",
			m.model, sim.Modelled)
	case m.concurrency < 1:
		return usagef("--max-concurrency %d: must be >= 1", m.concurrency)
	case m.numPrompts < 1:
		return usagef("--num-prompts %d: must be >= 1", m.numPrompts)
	case m.inputLen < 1:
		return usagef("--random-input-len %d: must be >= 1", m.inputLen)
	case m.outputLen < 1:
		return usagef("--random-output-len %d: must be >= 1", m.outputLen)
	}
	if m.requestRate != "inf" {
		if r, err := strconv.ParseFloat(m.requestRate, 64); err != nil || r <= 0 {
			return usagef("--request-rate %q: must be inf or a positive number", m.requestRate)
		}
	}
	return nil
}

// modelMaxLen is the served model's own maximum length, which the space is pruned by: the simulated model's
// under --simulate, else what vLLM derives from the model's config.json in the Hugging Face cache; 0 (unknown,
// nothing pruned by it) when the model has not been downloaded yet.
func (m *machineFlags) modelMaxLen(stderr io.Writer) int {
	if m.simulate {
		return sim.ModelMaxLen
	}
	n, path, err := runner.ModelMaxLen(m.model, os.Environ())
	if err != nil {
		fmt.Fprintf(stderr, "autotune: --model %s: max_model_len unknown (%v); the space is not pruned by it\n", m.model, err)
		return 0
	}
	fmt.Fprintf(stderr, "autotune: --model %s: max_model_len %d (derived as vLLM does from %s)\n", m.model, n, path)
	return n
}

// workload is the benchmark the flags ask for, with the served model's maximum length (see modelMaxLen).
func (m *machineFlags) workload(stderr io.Writer) runner.Workload {
	w := runner.DefaultWorkload()
	w.Model, w.Tokenizer = m.model, m.tokenizer
	if w.Tokenizer == "" {
		w.Tokenizer = m.model
	}
	w.MaxConcurrency, w.NumPrompts, w.InputLen, w.OutputLen = m.concurrency, m.numPrompts, m.inputLen, m.outputLen
	w.RequestRate = m.requestRate
	w.ModelMaxLen = m.modelMaxLen(stderr)
	return w
}

// runnerOptions builds the runner's options; with --simulate, this very binary plays vllm, nvidia-smi and python.
func (m *machineFlags) runnerOptions(workDir string, seed int64) (runner.Options, error) {
	o := runner.Options{
		VLLM: strings.Fields(m.vllm), NvidiaSMI: strings.Fields(m.nvidiaSMI), Host: m.host, Port: m.port,
		Env: os.Environ(),
	}
	if m.python != "" {
		o.Python = strings.Fields(m.python)
	}
	if m.simulate {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("--simulate: find autotune's own executable: %w", err)
		}
		o.VLLM = []string{exe, "sim"}
		o.NvidiaSMI = []string{exe, "sim", "nvidia-smi"}
		o.Python = []string{exe, "sim", "python"}
		o.Env = append(o.Env,
			sim.EnvSpeed+"="+strconv.FormatFloat(m.simSpeed, 'g', -1, 64),
			sim.EnvState+"="+filepath.Join(workDir, "sim-state"),
			sim.EnvSeed+"="+strconv.FormatInt(seed, 10))
	}
	return o, nil
}

// platform probes the machine and builds the search space in force.
func (m *machineFlags) platform(ctx context.Context, r *runner.Runner) (space.Platform, runner.Probe, error) {
	probe, err := r.Probe(ctx)
	if err != nil {
		hint := ""
		if !m.simulate {
			hint = " (no GPU or no vLLM here? `autotune --simulate` runs against the built-in simulator)"
		}
		return space.Platform{}, probe, fmt.Errorf("probe the machine: %w%s", err, hint)
	}
	p := space.Platform{VLLMVersion: probe.VLLMVersion, ServeFlags: probe.ServeFlags, Packages: probe.Packages}
	if len(probe.GPUs) > 0 {
		g := probe.GPUs[0]
		p.GPUName, p.ComputeCap, p.MemoryMiB = g.Name, g.ComputeCap, g.MemoryTotalMiB
	}
	return p, probe, nil
}

func (m *machineFlags) space(p space.Platform, w runner.Workload) (*space.Space, error) {
	if m.spaceFile != "" {
		sp, err := space.Load(m.spaceFile, p, w)
		if err != nil {
			return nil, usagef("--space: %w", err)
		}
		return sp, nil
	}
	return space.Default(p, w)
}

func runStudy(ctx context.Context, s *session, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", stderr)
	trials := fs.Int("trials", tuner.DefaultTrials, "finished trials the study should have, counting earlier runs")
	dbPath := fs.String("db", defaultDB, "study database: an SQLite file, or postgres://user:password@host/database for a study that workers on several machines share; rerunning with the same --db resumes")
	workDir := fs.String("workdir", "", "where trial logs and benchmark JSON go (default: next to --db, named like it with .trials: tuning.db -> tuning.trials; autotune.trials with a PostgreSQL --db)")
	studyName := fs.String("study", readmodel.DefaultStudy, "study name inside --db")
	samplerName := fs.String("sampler", sampler.TPE, "search algorithm: "+strings.Join(sampler.Names, ", "))
	seed := fs.Int64("seed", 1, "random seed of the sampler (stored with the study)")
	startup := fs.Int("startup-trials", 0, fmt.Sprintf("TPE: observations before it models the objective: finished trials (starting points included), duplicates, and other workers' running trials (default %d)", sampler.DefaultStartupTrials))
	local := fs.Int("local", tuner.DefaultLocal, "TPE: late in the study, this many trials run the best config so far with one flag changed (the trials just before the confirmation trials); 0: never")
	prune := fs.Bool("prune", tuner.DefaultPrune, "watch each benchmark's /metrics and stop it once its outcome is settled (P99 TTFT already lost, or far below the best so far); --prune=false runs every benchmark to its end")
	confirm := fs.Int("confirm", tuner.DefaultConfirm, "re-measure the best configs in this many of the last trials (at most 1 in 8 of --trials), so that the pick is not one lucky run; 0: never")
	tpot := fs.Float64("max-p99-tpot-ms", tuner.DefaultSLA().MaxP99TPOTms, "SLA: P99 time per output token must stay below this")
	ttft := fs.Float64("max-p99-ttft-ms", tuner.DefaultSLA().MaxP99TTFTms, "SLA: P99 time to first token must stay below this")
	startupTimeout := fs.Duration("startup-timeout", 10*time.Minute, "give up on a server that is not ready after this long")
	benchTimeout := fs.Duration("bench-timeout", 20*time.Minute, "give up on a benchmark that runs longer than this")
	stopGrace := fs.Duration("stop-grace", 30*time.Second, "time between SIGTERM and SIGKILL when stopping a server")
	budget := fs.Duration("time-budget", 0, "stop starting trials that cannot finish within this time (e.g. 3h30m)")
	reportPath := fs.String("report", "", "rewrite the study's HTML report (as `autotune report --html`) to `FILE` after every trial")
	heartbeatTimeout := fs.Duration("heartbeat-timeout", tuner.DefaultHeartbeatTimeout, "a worker on another host that sends no heartbeat for this long is taken for dead: its running trial is failed and runs again")
	gpusFlag := fs.String("gpus", "", "run one worker per GPU in this process: 0,1,2,3 or all; each gets CUDA_VISIBLE_DEVICES, its own port (--port, --port+1, ...) and memory checks of its own GPU")
	takeover := fs.StringSlice("takeover", nil, "HOST: the workers of this study on HOST are gone (a reset VM); take their running trials over now instead of after --heartbeat-timeout")
	var m machineFlags
	m.register(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("run: unexpected argument %q", fs.Arg(0))
	}
	if err := m.validate(); err != nil {
		return err
	}
	switch {
	case *trials < 1:
		return usagef("--trials %d: must be >= 1", *trials)
	case *tpot <= 0:
		return usagef("--max-p99-tpot-ms %g: must be > 0", *tpot)
	case *ttft <= 0:
		return usagef("--max-p99-ttft-ms %g: must be > 0", *ttft)
	case *startupTimeout <= 0:
		return usagef("--startup-timeout %s: must be > 0", *startupTimeout)
	case *benchTimeout <= 0:
		return usagef("--bench-timeout %s: must be > 0", *benchTimeout)
	case *budget < 0:
		return usagef("--time-budget %s: must be >= 0", *budget)
	case *startup < 0:
		return usagef("--startup-trials %d: must be >= 0", *startup)
	case *confirm < 0:
		return usagef("--confirm %d: must be >= 0", *confirm)
	case *local < 0:
		return usagef("--local %d: must be >= 0", *local)
	case *heartbeatTimeout < 2*tuner.DefaultHeartbeatEvery:
		return usagef("--heartbeat-timeout %s: must be at least %s (two heartbeats)", *heartbeatTimeout, 2*tuner.DefaultHeartbeatEvery)
	}
	gpuList, allGPUs, err := parseGPUs(*gpusFlag)
	if err != nil {
		return err
	}
	for _, h := range *takeover {
		if strings.TrimSpace(h) == "" {
			return usagef("--takeover: empty host name")
		}
	}
	if !slices.Contains(sampler.Names, *samplerName) {
		return usagef("--sampler %q: must be one of %s", *samplerName, strings.Join(sampler.Names, ", "))
	}

	if err := runner.Supported(); err != nil {
		return err // before anything is created: a study cannot run on this system
	}
	pg := store.IsPostgres(*dbPath)
	shownDB := store.Redact(*dbPath) // never print a password
	if *workDir == "" {
		*workDir = strings.TrimSuffix(*dbPath, filepath.Ext(*dbPath)) + ".trials"
		if pg {
			*workDir = "autotune.trials"
		}
	}
	// An existing database is opened (and a bad one refused) before the slow probes; a new one is created only
	// once the probes and the space have succeeded (below). A PostgreSQL database is always opened first: its
	// URL, the server and its contents are checked before anything else, and nothing is written until the study
	// starts.
	var db *store.DB
	if pg {
		var err error
		if db, err = store.Open(*dbPath); err != nil {
			return fmt.Errorf("--db %w", err) // store's error starts with the URL, without its password
		}
		defer db.Close()
	} else if _, err := os.Lstat(*dbPath); err == nil {
		if db, err = store.Open(*dbPath); err != nil {
			return fmt.Errorf("--db %w", err) // store's error starts with the path
		}
		defer db.Close()
	}
	ropts, err := m.runnerOptions(*workDir, *seed)
	if err != nil {
		return err
	}
	ropts.StartupTimeout, ropts.BenchTimeout, ropts.StopGrace = *startupTimeout, *benchTimeout, *stopGrace
	if m.simulate && len(gpuList) > 0 && os.Getenv(sim.EnvGPUs) == "" {
		// The simulated machine has as many GPUs as --gpus needs (AUTOTUNE_SIM_GPUS sets it for --gpus all).
		ropts.Env = append(ropts.Env, sim.EnvGPUs+"="+strconv.Itoa(slices.Max(gpuList)+1))
	}
	if m.simulate {
		// Simulated time runs --sim-speed times faster: scale the defaults the user did not set.
		scale := func(name string, d *time.Duration) {
			if !fs.Changed(name) {
				*d = time.Duration(float64(*d) / m.simSpeed)
				if *d < 2*time.Second {
					*d = 2 * time.Second
				}
			}
		}
		scale("startup-timeout", &ropts.StartupTimeout)
		scale("bench-timeout", &ropts.BenchTimeout)
		scale("stop-grace", &ropts.StopGrace)
		// The pruning watcher reads /metrics every 2 s of the simulated T4's time, but not more often than every
		// 50 ms of wall time: the simulator replays each scrape from every request's timeline (a few ms of CPU).
		ropts.ScrapeEvery = max(50*time.Millisecond, time.Duration(float64(2*time.Second)/m.simSpeed))
		fmt.Fprintf(stderr, "autotune: --simulate: running against the built-in simulator of vLLM %s on a %s; no number it reports is a measurement\n", sim.VLLMVersion, sim.T4().Name)
	}
	r := runner.New(ropts)
	s.add(r)
	fmt.Fprintln(stderr, "autotune: probing the GPU and vLLM (nvidia-smi, vllm --version, vllm serve --help=all)")
	plat, probe, err := m.platform(ctx, r)
	if err != nil {
		return err
	}
	if gpuList, err = pickGPUs(gpuList, allGPUs, probe.GPUs, &plat); err != nil {
		return err
	}
	workload := m.workload(stderr)
	sp, err := m.space(plat, workload)
	if err != nil {
		return err
	}
	// Only now, with the machine probed and the space built, is anything created: a run that fails before this
	// point leaves no database or trial folder behind without having to delete one. Deleting would be unsafe: a
	// file this run found missing may be another autotune's new study by now (an earlier version decided "new"
	// from a stat, and on an early failure removed the file under the other run).
	if db == nil {
		if db, err = store.Open(*dbPath); err != nil {
			return fmt.Errorf("--db %w", err) // store's error starts with the path
		}
		defer db.Close()
	}
	trialDir := studyTrialDir(*workDir, *studyName)
	if err := os.MkdirAll(trialDir, 0o755); err != nil {
		return usagef("--workdir %s: %v", *workDir, err)
	}
	gpu := plat.GPUName
	if gpu != "" {
		gpu = fmt.Sprintf("%s (compute %.1f, %d MiB)", plat.GPUName, plat.ComputeCap, plat.MemoryMiB)
	}
	if m.simulate {
		gpu = "simulated " + gpu
	}
	me := selfOwner()
	phases := phaseMode(stderr)
	if len(gpuList) > 1 {
		// One tuner per GPU, each in its own goroutine, all writing progress and warnings to stderr.
		stderr = &lockedWriter{w: stderr}
	}
	opts := tuner.Options{
		StudyName: *studyName, Trials: *trials, Sampler: *samplerName, Seed: *seed, StartupTrials: *startup,
		Confirm: *confirm, Local: *local, LocalEvery: tuner.DefaultLocalEvery, Prune: *prune,
		SLA: tuner.SLA{MaxP99TPOTms: *tpot, MaxP99TTFTms: *ttft}, Workload: workload, WorkDir: trialDir,
		Simulated: m.simulate, VLLMVersion: probe.VLLMVersion, GPU: gpu, SpaceJSON: sp.JSON(), TimeBudget: *budget,
		Version: version, Owner: me, ProcessGone: processGone, HeartbeatTimeout: *heartbeatTimeout, Takeover: *takeover,
		StopStale: r.StopStale, Progress: stderr, Phases: phases,
		Preflight: func() error {
			dirs := map[string]string{"--workdir": *workDir}
			if !pg {
				dirs["--db"] = filepath.Dir(*dbPath)
			}
			return checkDisk(dirs)
		},
	}
	if *reportPath != "" {
		opts.AfterTrial = reportAfterTrial(*reportPath, db, *studyName, stderr)
	}
	fmt.Fprintf(stderr, "autotune: study %q in %s: %d trials, sampler %s, vLLM %s on %s\n",
		*studyName, shownDB, *trials, *samplerName, orUnknown(probe.VLLMVersion), orUnknown(gpu))
	if len(gpuList) > 0 {
		fmt.Fprintf(stderr, "autotune: %d workers, one per GPU (%s), on ports %d to %d\n", len(gpuList),
			strings.Trim(strings.Join(strings.Fields(fmt.Sprint(gpuList)), ","), "[]"), ropts.Port, ropts.Port+len(gpuList)-1)
	}
	if len(gpuList) > 1 {
		// Several workers write progress at once (stderr is locked above): no live line that they would overwrite.
		if opts.Phases == tuner.PhasesLive {
			opts.Phases = tuner.PhasesLines
		}
		if after := opts.AfterTrial; after != nil {
			var mu sync.Mutex // one report rewrite at a time
			opts.AfterTrial = func() { mu.Lock(); defer mu.Unlock(); after() }
		}
	}
	sum, runErr := runWorkers(ctx, s, gpuList, ropts, r, func(rk tuner.Runner, label string, stopStale func(context.Context, runner.Process) (bool, error)) *tuner.Tuner {
		o := opts
		o.WorkerLabel, o.StopStale = label, stopStale
		return tuner.New(db, rk, sp, o)
	})
	var incompatible *tuner.IncompatibleError
	if errors.As(runErr, &incompatible) {
		return explainIncompatible(incompatible, args)
	}
	interrupted := errors.Is(runErr, context.Canceled) || ctx.Err() != nil
	if runErr != nil && !interrupted {
		if errors.Is(runErr, tuner.ErrPlatformUnusable) || errors.Is(runErr, tuner.ErrBaselineFailed) {
			fmt.Fprintln(stderr, "autotune: the study stopped: no config is worth trying until this is fixed")
		}
		return db.ExplainFull(runErr)
	}
	if sum.Stopped != "" {
		fmt.Fprintf(stderr, "autotune: stopped early: %s\n", sum.Stopped)
	}
	if sum.Finished < *trials {
		fmt.Fprintf(stderr, "autotune: the study has %d of %d finished trials; run the same command again to continue\n",
			sum.Finished, *trials)
	}
	db.Close()
	sumErr := summarize(*dbPath, *studyName, stdout, stderr)
	if m.simulate {
		if ls, err := loadStudy(*dbPath, *studyName); err == nil {
			fmt.Fprintf(stderr, "autotune: %s (--sim-speed %g)\n", studyCost(ls, m.simSpeed), m.simSpeed)
		}
	}
	if *reportPath != "" {
		// The last page, without the reload that keeps it current while the study runs.
		ls, err := loadStudy(*dbPath, *studyName)
		if err == nil {
			err = writeReport(*reportPath, ls, 0)
		}
		if err != nil {
			fmt.Fprintf(stderr, "autotune: --report %s: %v\n", *reportPath, err)
		} else {
			fmt.Fprintf(stderr, "autotune: the report is in %s\n", *reportPath)
		}
	}
	if interrupted {
		return errInterrupted
	}
	// A finished study with no feasible trial is a failure for scripts (exit 1); one that can still continue
	// (budget, stopped early) says so above and is not.
	if sumErr != nil && (!errors.Is(sumErr, errNoFeasible) || sum.Finished >= *trials) {
		return sumErr
	}
	return nil
}

// studyTrialDir is where a study's trial folders go: workDir itself for the default study (as before studies
// had folders of their own, so that its earlier trials' logs stay beside the new ones), workDir/study-NAME for
// the others, so that two studies in one --db never write the same trial-NNNN. The name is path-escaped: a
// study called "../x" stays inside workDir.
func studyTrialDir(workDir, study string) string {
	if study == readmodel.DefaultStudy {
		return workDir
	}
	return filepath.Join(workDir, "study-"+url.PathEscape(study))
}

// phaseMode shows a running trial's phase in place on a terminal, and as plain lines elsewhere (a log file, a
// notebook's cell output).
func phaseMode(stderr io.Writer) tuner.PhaseMode {
	if isTerminal(stderr) {
		return tuner.PhasesLive
	}
	return tuner.PhasesLines
}

// summarize prints the best trial so far against the baseline.
func summarize(dbPath, study string, stdout, stderr io.Writer) error {
	ls, err := loadStudy(dbPath, study)
	if err != nil {
		return err
	}
	best, baseline := ls.bestAndBaseline()
	if best == nil {
		fmt.Fprintf(stderr, "autotune: no trial has met the SLA (%s) yet\n", slaText(ls.view))
		return errNoFeasible
	}
	writeBestTable(stdout, ls, best, baseline)
	fmt.Fprintf(stderr, "autotune: export it with: %s\n", ls.hint("best", "--export", "flags.sh"))
	return nil
}

// minFreeDisk is the free space a trial needs: vLLM's server log, the benchmark log and JSON, and the database
// update. A real server log is a few MiB; the margin keeps a full disk from breaking a trial half-way.
const minFreeDisk = 64 << 20

// checkDisk fails when a folder autotune writes to is on a nearly full disk, naming the flag and the folder.
func checkDisk(dirs map[string]string) error {
	for flag, dir := range dirs {
		free, known := diskfree.Bytes(dir)
		if !known {
			continue // not knowing is not a reason to stop
		}
		if free < minFreeDisk {
			return fmt.Errorf("%s %s: only %d KiB free on its disk, and a trial needs about %d MiB for logs and results; free some space, then run the same command again",
				flag, dir, free>>10, minFreeDisk>>20)
		}
	}
	return nil
}
