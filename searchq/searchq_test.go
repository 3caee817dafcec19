package searchq

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/space"
	"github.com/autotune/autotune/store"
	"github.com/autotune/autotune/tuner"
)

// The harness runs a real study end to end against the simulator, its scores are fractions of the cached
// optimum, and the same (sampler, seed) gives the same study.
func TestHarnessDeterministic(t *testing.T) {
	sp, err := Space("t4")
	if err != nil {
		t.Fatal(err)
	}
	opt, err := LoadOptimum("testdata/optimum-t4.json", sp)
	if err != nil {
		t.Fatal(err)
	}
	ev := NewEvaluator(runner.DefaultWorkload(), tuner.DefaultSLA())
	x := &Experiment{Space: sp, Optimum: opt.Value, Eval: ev, Opts: Options{Trials: 12}}
	for _, s := range []string{"tpe", "random", "grid"} {
		a, err := x.RunOne(context.Background(), s, 1)
		if err != nil {
			t.Fatal(err)
		}
		b, err := x.RunOne(context.Background(), s, 1)
		if err != nil {
			t.Fatal(err)
		}
		if a.Counted != 12 {
			t.Errorf("%s: %d counted trials, want 12", s, a.Counted)
		}
		if a.Fraction < 0 || a.Fraction > 1.05 {
			t.Errorf("%s: fraction %v outside [0, 1.05]", s, a.Fraction)
		}
		if a.Best < 0 {
			t.Fatalf("%s: no feasible trial (the baseline is feasible)", s)
		}
		if a.Trials[0].Label != "baseline" || len(a.Trials[0].Args) != 0 {
			t.Errorf("%s: trial 0 is %q %v, want the baseline", s, a.Trials[0].Label, a.Trials[0].Args)
		}
		// ReachedAt is the first counted trial after which the running pick was at the threshold.
		want := 0
		for i := range a.Trials {
			prefix := x.score(s, 1, records(a.Trials[:i+1]), &SimRunner{})
			if prefix.Best >= 0 && prefix.Fraction >= Threshold && !a.Trials[i].Duplicate {
				want = a.Trials[i].Counted
				break
			}
		}
		if a.ReachedAt != want {
			t.Errorf("%s: reached at %d, want %d", s, a.ReachedAt, want)
		}
		a.Elapsed, b.Elapsed = 0, 0
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: two runs with seed 1 differ:\n%+v\n%+v", s, a, b)
		}
	}
}

// Each trial sees its own noise, and the noise-free value is seed 0's.
func TestSimRunnerNoise(t *testing.T) {
	w := runner.DefaultWorkload()
	r := &SimRunner{Seed: 3}
	tr := runner.Trial{Number: 5, Workload: w, Args: []string{"--max-num-seqs", "50"}}
	a := r.Run(context.Background(), tr)
	b := r.Run(context.Background(), tr)
	if a.Class != runner.OK || a.Bench == nil || a.Bench.Completed != 200 {
		t.Fatalf("result %+v", a)
	}
	if a.Bench.OutputThroughput != b.Bench.OutputThroughput {
		t.Errorf("same trial, different results: %v, %v", a.Bench.OutputThroughput, b.Bench.OutputThroughput)
	}
	tr.Number = 6
	c := r.Run(context.Background(), tr)
	if c.Bench.OutputThroughput == a.Bench.OutputThroughput {
		t.Errorf("trials 5 and 6 drew the same noise")
	}
	e := NewEvaluator(w, tuner.DefaultSLA()).Args("", tr.Args)
	if rel := math.Abs(a.Bench.OutputThroughput-e.Throughput) / e.Throughput; rel > 0.15 || rel == 0 {
		t.Errorf("noisy %v vs noise-free %v", a.Bench.OutputThroughput, e.Throughput)
	}
	for _, k := range []string{"p99_tpot_ms", "p99_ttft_ms", "mean_tpot_ms", "mean_ttft_ms"} {
		if !(a.Bench.Latency[k] > 0) {
			t.Errorf("latency %s missing: %v", k, a.Bench.Latency)
		}
	}
}

// Refused starts become config faults, which the tuner scores as crashes.
func TestClassify(t *testing.T) {
	w := runner.DefaultWorkload()
	cases := []struct {
		args []string
		want runner.Class
	}{
		{[]string{"--no-such-flag"}, runner.InvalidFlag},
		{[]string{"--dtype", "bfloat16"}, runner.UnsupportedOnGPU},
		{[]string{"--max-num-seqs", "256", "--max-num-batched-tokens", "128"}, runner.ConfigRefused},
	}
	for _, c := range cases {
		res := (&SimRunner{Seed: 1}).Run(context.Background(), runner.Trial{Workload: w, Args: c.args})
		if res.Class != c.want {
			t.Errorf("%q: class %q (%s), want %q", c.args, res.Class, res.Message, c.want)
		}
		if !res.Class.ConfigFault() {
			t.Errorf("%q: %q is not a config fault", c.args, res.Class)
		}
		if s := tuner.Evaluate(res, tuner.DefaultSLA()); s.Value != tuner.CrashValue {
			t.Errorf("%q: scored %v, want the crash value", c.args, s.Value)
		}
	}
}

// Predict is safe to call from several goroutines (the optimum search relies on it): run with -race.
func TestPredictConcurrent(t *testing.T) {
	sp, err := Space("t4")
	if err != nil {
		t.Fatal(err)
	}
	var want []float64
	var args [][]string
	for _, p := range []map[string]string{{}, {"speculative": "suffix"}, {"quantization": "fp8", "stream_interval": "8"}} {
		c, _, err := Build(sp, p)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, append([]string{"Qwen/Qwen2.5-0.5B"}, c.Args...))
		want = append(want, sim.Predict(args[len(args)-1], sim.DefaultWorkload(), 0).OutputThroughput)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range args {
				if got := sim.Predict(args[i], sim.DefaultWorkload(), 0).OutputThroughput; got != want[i] {
					errs <- strings.Join(args[i], " ")
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent Predict differs for %s", e)
	}
}

// Build reproduces sampled points, and the enumeration helpers agree with the space.
func TestBuildAndProduct(t *testing.T) {
	sp, err := Space("t4")
	if err != nil {
		t.Fatal(err)
	}
	for _, kg := range sp.KnownGood() {
		c, _, err := Build(sp, kg.Params)
		if err != nil {
			t.Fatal(err)
		}
		if c.Key() != kg.Key() {
			t.Errorf("Build(%v) = %q, want %q", kg.Params, c.Args, kg.Args)
		}
	}
	cs, err := product(sp, map[string][]string{"speculative": {"suffix"}, "stream_interval": {"default", "8"}, "block_size": {"default", "32", "64"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 6 {
		t.Errorf("product: %d configs, want 6", len(cs))
	}
}

func TestSummaryQuantiles(t *testing.T) {
	rs := []RunResult{
		{Sampler: "a", Fraction: 0.90, ReachedAt: 0},
		{Sampler: "a", Fraction: 0.96, ReachedAt: 10},
		{Sampler: "a", Fraction: 0.97, ReachedAt: 20},
		{Sampler: "a", Fraction: 0.99, ReachedAt: 0},
	}
	s := Summarize(rs)[0]
	if s.Median != 0.965 || s.Min != 0.90 || s.Max != 0.99 || s.Never != 2 || s.AtThreshold != 3 {
		t.Errorf("summary %+v", s)
	}
	if s.ReachedMedian != math.Inf(1) { // 10, 20, never, never: the median lies between 20 and never
		t.Errorf("median trials %v, want +Inf", s.ReachedMedian)
	}
}

// The cached optima still hold: each was found for today's default space, the simulator still gives its value,
// and no known-good starting point beats it. A change to the simulator or the space that moves the optimum
// fails here rather than skewing every fraction in RESULTS.md.
func TestCachedOptimaHold(t *testing.T) {
	ev := NewEvaluator(runner.DefaultWorkload(), tuner.DefaultSLA())
	for _, sc := range Scenarios {
		sp, err := Space(sc)
		if err != nil {
			t.Fatal(err)
		}
		opt, err := CachedOptimum(sc, sp)
		if err != nil {
			t.Fatalf("%s: %v", sc, err)
		}
		if err := opt.Holds(ev, sc); err != nil {
			t.Error(err)
		}
		for _, kg := range sp.KnownGood() {
			if v := ev.Args(kg.Model, kg.Args).Score(); v > opt.Value {
				t.Errorf("%s: known-good point %q (%.0f tok/s) beats the cached optimum %.0f", sc, kg.Label, v, opt.Value)
			}
		}
	}
}

func TestLoadOptimumRefusesAnotherSpace(t *testing.T) {
	sp, err := Space("t4-no-arctic")
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadOptimum(filepath.Join("testdata", "optimum-t4.json"), sp)
	if err == nil || !strings.Contains(err.Error(), "recompute") {
		t.Errorf("loading the t4 optimum for the t4-no-arctic space: %v, want a fingerprint mismatch", err)
	}
}

func TestMainUsage(t *testing.T) {
	cases := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"--samplers", "tpe,annealing"}, `--samplers: unknown sampler "annealing"`},
		{[]string{"--scenario", "a100"}, `unknown scenario "a100"`},
		{[]string{"--seeds", "0"}, "--seeds and --trials must be >= 1"},
		{[]string{"--trials", "x"}, "--trials"},
	}
	for _, c := range cases {
		var out, errOut strings.Builder
		if code := Main(context.Background(), c.args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2", c.args, code)
		}
		if !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%q: stderr %q, want it to contain %q", c.args, errOut.String(), c.want)
		}
		if out.Len() != 0 {
			t.Errorf("%q: wrote %q to stdout", c.args, out.String())
		}
	}
}

// A small experiment end to end: the table goes to stdout, labelled simulated, with one row per sampler.
func TestMainSmall(t *testing.T) {
	var out, errOut strings.Builder
	jsonPath := filepath.Join(t.TempDir(), "runs.json")
	code := Main(context.Background(), []string{"--seeds", "2", "--trials", "6", "--samplers", "random,grid", "--json", jsonPath}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	s := out.String()
	if !strings.HasPrefix(s, "SIMULATED:") {
		t.Errorf("stdout does not start with the SIMULATED label: %q", s)
	}
	for _, row := range []string{"| random | 2 |", "| grid | 2 |"} {
		if !strings.Contains(s, row) {
			t.Errorf("stdout lacks a row starting %q:\n%s", row, s)
		}
	}
	if strings.Contains(s, "| tpe |") {
		t.Errorf("tpe ran although not asked for:\n%s", s)
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var runs struct {
		Simulated bool         `json:"simulated"`
		Runs      []runSummary `json:"runs"`
	}
	if err := json.Unmarshal(data, &runs); err != nil {
		t.Fatalf("--json: %v", err)
	}
	if !runs.Simulated || len(runs.Runs) != 4 || runs.Runs[0].Sampler != "random" || runs.Runs[0].Counted != 6 || runs.Runs[0].BestNumber < 0 || runs.Runs[0].Fraction <= 0 {
		t.Errorf("--json holds %+v, want 4 simulated runs of 6 counted trials with their picks", runs)
	}
}

// records turns scored trials back into the store records score reads.
func records(ts []TrialResult) []store.Trial {
	var out []store.Trial
	for _, tr := range ts {
		v := tr.Measured
		rec := store.Trial{Number: tr.Number, Label: tr.Label, Args: tr.Args, ConfigKey: fmt.Sprint(tr.Args),
			State: store.StateComplete, Objective: &v, Feasible: tr.Feasible}
		if tr.Duplicate {
			n := -1
			rec.DuplicateOf = &n
		}
		out = append(out, rec)
	}
	return out
}

// The pick is what `autotune best` would export: the best mean over a config's measurements, not its luckiest run.
func TestScorePicksByMean(t *testing.T) {
	sp, err := Space("t4")
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := Build(sp, map[string]string{"speculative": "suffix"})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Build(sp, map[string]string{"speculative": "suffix", "stream_interval": "16"})
	if err != nil {
		t.Fatal(err)
	}
	rec := func(n int, c space.Config, v float64) store.Trial {
		return store.Trial{Number: n, ConfigKey: c.Key(), Args: c.Args, State: store.StateComplete, Objective: &v, Feasible: true}
	}
	x := &Experiment{Space: sp, Optimum: 7689, Eval: NewEvaluator(runner.DefaultWorkload(), tuner.DefaultSLA())}
	r := x.score("tpe", 1, []store.Trial{rec(0, a, 7600), rec(1, b, 7500), rec(2, a, 7000), rec(3, b, 7450)}, &SimRunner{})
	if r.Best < 0 || r.Trials[r.Best].Number != 1 {
		t.Fatalf("pick is index %d of %+v, want trial 1 (b: mean 7475 beats a: 7300, though a ran 7600 once)", r.Best, r.Trials)
	}
	if want := x.Eval.Config(b).Score() / 7689; r.Fraction != want {
		t.Errorf("fraction %v, want b's noise-free %v", r.Fraction, want)
	}
}

// Failed requests are judged as the real runner judges them (runner.CheckBench): a max-model-len below
// input+output makes vLLM reject every request.
func TestFailedRequestsAreRequestsFailed(t *testing.T) {
	w := runner.DefaultWorkload()
	res := (&SimRunner{Seed: 1}).Run(context.Background(), runner.Trial{Workload: w, Args: []string{"--max-model-len", "1000"}})
	if res.Class != runner.RequestsFailed || !strings.Contains(res.Message, "requests failed") {
		t.Errorf("class %q (%s), want requests_failed", res.Class, res.Message)
	}
}
