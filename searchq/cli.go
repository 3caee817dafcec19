package searchq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sampler"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/tuner"
)

// OptimumPath is where the cached optimum of a scenario lives, relative to the module root.
func OptimumPath(scenario string) string {
	return filepath.Join("searchq", "testdata", "optimum-"+scenario+".json")
}

// Main is the searchq command: it runs the experiment and prints a markdown table on stdout, progress on
// stderr. It returns the exit code: 0 done, 1 failed, 2 bad usage, 130 interrupted.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("searchq", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	seeds := fs.Int("seeds", 10, "seeds per sampler (1..N, offset by --first-seed)")
	first := fs.Int64("first-seed", 1, "first seed")
	trials := fs.Int("trials", tuner.DefaultTrials, "finished trials per study, counting the baseline and the known-good points")
	samplers := fs.String("samplers", strings.Join(sampler.Names, ","), "comma-separated samplers: "+strings.Join(sampler.Names, ", "))
	startup := fs.Int("startup-trials", 0, "TPE startup trials (0: the tuner's default)")
	confirm := fs.Int("confirm", tuner.DefaultConfirm, "trials at the end of each study that re-measure its best configs, as autotune --confirm")
	local := fs.Int("local", tuner.DefaultLocal, "TPE: one-lever moves around the incumbent before the confirmation trials, as autotune --local")
	localEvery := fs.Int("local-every", tuner.DefaultLocalEvery, "TPE: every N-th trial of the local window is a local move")
	prune := fs.Bool("prune", tuner.DefaultPrune, "stop benchmarks whose outcome is settled (tuner.Options.Prune), as autotune --prune")
	workers := fs.Int("workers", 0, "studies run at once (0: one per CPU)")
	studyWorkers := fs.Int("study-workers", 1, "autotune workers sharing each study (as --gpus); with more than one, trials also take their simulated time / --pace in real time")
	pace := fs.Float64("pace", 500, "with --study-workers > 1: simulated seconds per real second")
	scenario := fs.String("scenario", "t4", "platform: "+strings.Join(Scenarios, ", "))
	optPath := fs.String("optimum", "", "optimum file (JSON); default: the committed searchq/testdata/optimum-<scenario>.json")
	recompute := fs.Bool("recompute-optimum", false, "search the space for the optimum again (about a minute on 2 cores) and write it to --optimum (default: searchq/testdata/optimum-<scenario>.json, from the module root)")
	onlyOpt := fs.Bool("optimum-only", false, "with --recompute-optimum or --ensemble: stop after the optimum (the members' optima)")
	runs := fs.Bool("runs", false, "also print one line per run")
	jsonOut := fs.String("json", "", "write every run's summary to this JSON file")
	ensemble := fs.Int("ensemble", 0, "run on an ensemble of this many simulated landscapes (searchq.Ranges) instead of --scenario")
	ensembleSeed := fs.Int64("ensemble-seed", 1, "seed of the ensemble's draws")
	set := fs.String("set", "all", "with --ensemble: members to run: train, test (the held-out last quarter) or all")
	optimaPath := fs.String("optima", "", "with --ensemble: cache of the members' optima (default: the committed "+EnsembleOptimaPath+"; new ones are written there when run from the module root)")
	ranges := fs.Bool("ranges", false, "print the ensemble's ranges as a markdown table and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "searchq:", err)
		return 2
	}
	if fs.NArg() > 0 || *seeds < 1 || *trials < 1 {
		fmt.Fprintln(stderr, "searchq: --seeds and --trials must be >= 1, and no positional arguments")
		return 2
	}
	if *confirm < 0 {
		fmt.Fprintf(stderr, "searchq: --confirm %d: must be >= 0\n", *confirm)
		return 2
	}
	var names []string
	for _, s := range strings.Split(*samplers, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(sampler.Names, s) {
			fmt.Fprintf(stderr, "searchq: --samplers: unknown sampler %q (want %s)\n", s, strings.Join(sampler.Names, ", "))
			return 2
		}
		names = append(names, s)
	}

	if *ranges {
		RangesMarkdown(stdout)
		return 0
	}
	if *ensemble > 0 {
		return mainEnsemble(ctx, ensembleArgs{members: *ensemble, seed: *ensembleSeed, set: *set, optima: *optimaPath,
			opts:  Options{Trials: *trials, Samplers: names, StartupTrials: *startup, Confirm: *confirm, Workers: *workers, Local: *local, LocalEvery: *localEvery, Prune: *prune},
			seeds: *seeds, first: *first, runs: *runs, json: *jsonOut, optimaOnly: *onlyOpt}, stdout, stderr)
	}
	sp, err := Space(*scenario)
	if err != nil {
		fmt.Fprintln(stderr, "searchq:", err)
		return 2
	}
	ev := NewEvaluator(runner.DefaultWorkload(), tuner.DefaultSLA())
	var opt Optimum
	if *recompute && *optPath == "" {
		*optPath = OptimumPath(*scenario)
	}
	if *recompute {
		opt, err = FindOptimum(ctx, ev, sp, OptimumOptions{Workers: *workers, Seed: 1, Progress: stderr})
		if err == nil {
			err = SaveOptimum(*optPath, opt)
		}
		if err == nil {
			fmt.Fprintf(stderr, "searchq: optimum %.0f tok/s written to %s (%s)\n", opt.Value, *optPath, opt.Elapsed)
		}
	} else {
		what := *optPath
		if what == "" {
			what = OptimumPath(*scenario)
			opt, err = CachedOptimum(*scenario, sp)
		} else {
			opt, err = LoadOptimum(*optPath, sp)
		}
		if err == nil {
			err = opt.Holds(ev, what)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "searchq:", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	if *onlyOpt {
		return 0
	}

	var ss []int64
	for i := 0; i < *seeds; i++ {
		ss = append(ss, *first+int64(i))
	}
	x := &Experiment{Space: sp, Optimum: opt.Value, Eval: ev, Opts: Options{Seeds: ss, Trials: *trials, Samplers: names,
		StartupTrials: *startup, Confirm: *confirm, Workers: *workers, Progress: stderr,
		Local: *local, LocalEvery: *localEvery, Prune: *prune, StudyWorkers: *studyWorkers, Pace: *pace}}
	began := time.Now()
	results, err := x.Run(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "searchq:", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	elapsed := time.Since(began)
	fmt.Fprintf(stdout, "SIMULATED: %d seeds x {%s} x %d trials (--confirm %d) against autotune's simulator of vLLM %s on a %s, scenario %s (not measurements)\n\n",
		*seeds, strings.Join(names, ", "), *trials, *confirm, sim.VLLMVersion, sim.T4().Name, *scenario)
	Markdown(stdout, Summarize(results), opt.Value, *trials)
	if *runs {
		fmt.Fprintln(stdout)
		RunsMarkdown(stdout, results)
	}
	fmt.Fprintf(stderr, "searchq: %d studies in %s\n", len(results), elapsed.Round(time.Second))
	if *jsonOut != "" {
		if err := writeRuns(*jsonOut, results, opt.Value); err != nil {
			fmt.Fprintln(stderr, "searchq:", err)
			return 1
		}
	}
	return 0
}

// runSummary is what --json keeps of a run.
type runSummary struct {
	Sampler    string   `json:"sampler"`
	Seed       int64    `json:"seed"`
	Fraction   float64  `json:"fraction"`
	ReachedAt  int      `json:"reached_at"`
	Measured   float64  `json:"best_measured"`
	NoiseFree  float64  `json:"best_noise_free"`
	BestNumber int      `json:"best_trial"`
	BestArgs   []string `json:"best_args"`
	Counted    int      `json:"counted"`
	Duplicates int      `json:"duplicates"`
	Stopped    string   `json:"stopped,omitempty"`
	// GPUSeconds is the study's simulated GPU time; Makespan its length on the simulated clock (the busiest
	// worker's GPU time with --study-workers).
	GPUSeconds float64 `json:"gpu_seconds"`
	Makespan   float64 `json:"makespan_seconds"`
}

func writeRuns(path string, results []RunResult, optimum float64) error {
	out := struct {
		Simulated bool         `json:"simulated"`
		Optimum   float64      `json:"optimum"`
		Runs      []runSummary `json:"runs"`
	}{Simulated: true, Optimum: optimum}
	for _, r := range results {
		s := runSummary{Sampler: r.Sampler, Seed: r.Seed, Fraction: r.Fraction, ReachedAt: r.ReachedAt,
			Counted: r.Counted, Duplicates: r.Duplicates, Stopped: r.Stopped, BestNumber: -1, GPUSeconds: r.GPUSeconds,
			Makespan: r.Makespan}
		if r.Best >= 0 {
			b := r.Trials[r.Best]
			s.Measured, s.NoiseFree, s.BestNumber, s.BestArgs = b.Measured, b.True.Score(), b.Number, b.Args
		}
		out.Runs = append(out.Runs, s)
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("encode runs: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write runs: %w", err)
	}
	return nil
}

type ensembleArgs struct {
	members     int
	seed        int64
	set, optima string
	opts        Options
	seeds       int
	first       int64
	runs        bool
	json        string
	optimaOnly  bool
}

// mainEnsemble is searchq --ensemble.
func mainEnsemble(ctx context.Context, a ensembleArgs, stdout, stderr io.Writer) int {
	if a.set != "train" && a.set != "test" && a.set != "all" {
		fmt.Fprintf(stderr, "searchq: --set %q: want train, test or all\n", a.set)
		return 2
	}
	cache, err := LoadEnsembleOptima(a.optima)
	if err != nil {
		fmt.Fprintln(stderr, "searchq:", err)
		return 1
	}
	var ms []Member
	for _, m := range Members(a.members, a.seed) {
		if a.set == "all" || (a.set == "test") == m.HeldOut {
			ms = append(ms, m)
		}
	}
	for i := 0; i < a.seeds; i++ {
		a.opts.Seeds = append(a.opts.Seeds, a.first+int64(i))
	}
	a.opts.Progress = stderr
	began := time.Now()
	before := len(cache.Members)
	results, err := RunEnsemble(ctx, EnsembleOptions{Members: ms, Opts: a.opts, Cache: &cache, OptimaOnly: a.optimaOnly})
	if len(cache.Members) > before || a.optima != "" {
		cache.Simulated, cache.Method = true, "FastOptimum: product of the main levers, random points, local search"
		path := a.optima
		if path == "" {
			path = EnsembleOptimaPath
		}
		if _, statErr := os.Stat(filepath.Dir(path)); statErr == nil {
			if err := cache.Save(path); err != nil {
				fmt.Fprintln(stderr, "searchq:", err)
			} else {
				fmt.Fprintf(stderr, "searchq: %d member optima in %s\n", len(cache.Members), path)
			}
		} else {
			fmt.Fprintf(stderr, "searchq: new member optima not saved: %s does not exist here (run from the module root or pass --optima)\n", filepath.Dir(path))
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "searchq:", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	if a.optimaOnly {
		return 0
	}
	fmt.Fprintf(stdout, "SIMULATED: %d landscapes (ensemble seed %d, --set %s) x %d seeds x {%s} x %d trials (--confirm %d), against perturbed simulators of vLLM 0.15.1 on a T4 and an L4 (not measurements)\n\n",
		len(ms), a.seed, a.set, a.seeds, strings.Join(a.opts.Samplers, ", "), a.opts.Trials, a.opts.Confirm)
	EnsembleMarkdown(stdout, SummarizeEnsemble(results), a.opts.Trials)
	if a.runs {
		fmt.Fprintln(stdout)
		MembersMarkdown(stdout, results)
	}
	fmt.Fprintf(stderr, "searchq: %d members in %s\n", len(ms), time.Since(began).Round(time.Second))
	if a.json != "" {
		var all []RunResult
		for _, mr := range results {
			all = append(all, mr.Runs...)
		}
		if err := writeRuns(a.json, all, 0); err != nil {
			fmt.Fprintln(stderr, "searchq:", err)
			return 1
		}
	}
	return 0
}
