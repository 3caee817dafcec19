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
	trials := fs.Int("trials", 40, "finished trials per study, counting the baseline and the known-good points")
	samplers := fs.String("samplers", "tpe,random,grid", "comma-separated samplers: "+strings.Join(tuner.Samplers, ", "))
	startup := fs.Int("startup-trials", 0, "TPE startup trials (0: the tuner's default)")
	confirm := fs.Int("confirm", tuner.DefaultConfirm, "trials at the end of each study that re-measure its best configs, as autotune --confirm")
	workers := fs.Int("workers", 0, "studies run at once (0: one per CPU)")
	scenario := fs.String("scenario", "t4", "platform: "+strings.Join(Scenarios, ", "))
	optPath := fs.String("optimum", "", "optimum file (JSON); default: the committed searchq/testdata/optimum-<scenario>.json")
	recompute := fs.Bool("recompute-optimum", false, "search the space for the optimum again (about a minute on 2 cores) and write it to --optimum (default: searchq/testdata/optimum-<scenario>.json, from the module root)")
	onlyOpt := fs.Bool("optimum-only", false, "with --recompute-optimum: stop after the optimum")
	runs := fs.Bool("runs", false, "also print one line per run")
	jsonOut := fs.String("json", "", "write every run's summary to this JSON file")
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
		if !slices.Contains(tuner.Samplers, s) {
			fmt.Fprintf(stderr, "searchq: --samplers: unknown sampler %q (want %s)\n", s, strings.Join(tuner.Samplers, ", "))
			return 2
		}
		names = append(names, s)
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
		StartupTrials: *startup, Confirm: *confirm, Workers: *workers, Progress: stderr}}
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
	fmt.Fprintf(stdout, "SIMULATED: %d seeds x {%s} x %d trials (--confirm %d) against autotune's simulator of vLLM 0.15.1 on a Tesla T4, scenario %s (not measurements)\n\n",
		*seeds, strings.Join(names, ", "), *trials, *confirm, *scenario)
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
}

func writeRuns(path string, results []RunResult, optimum float64) error {
	out := struct {
		Simulated bool         `json:"simulated"`
		Optimum   float64      `json:"optimum"`
		Runs      []runSummary `json:"runs"`
	}{Simulated: true, Optimum: optimum}
	for _, r := range results {
		s := runSummary{Sampler: r.Sampler, Seed: r.Seed, Fraction: r.Fraction, ReachedAt: r.ReachedAt,
			Counted: r.Counted, Duplicates: r.Duplicates, Stopped: r.Stopped, BestNumber: -1}
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
