package searchq

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/space"
)

// Scenarios are the platforms an experiment can run on, by name: "t4" is the simulated Tesla T4 as
// runner.Probe reports it on `autotune --simulate` (vLLM 0.15.1, the simulator's whole `vllm serve` flag set with
// leading "--" as Probe parses them out of --help=all, arctic-inference installed); "t4-no-arctic" is the same
// machine without arctic-inference, so without suffix decoding and its known-good point: a harder search whose
// optimum needs several flags right at once.
var Scenarios = []string{"t4", "t4-no-arctic"}

// Platform returns the platform of a scenario.
func Platform(scenario string) (space.Platform, error) {
	flags := map[string]bool{}
	for _, f := range sim.ServeFlagNames() {
		flags[f] = true
	}
	t4 := sim.T4()
	p := space.Platform{GPUName: t4.Name, ComputeCap: float64(t4.Capability) / 10, MemoryMiB: t4.MemoryMiB,
		VLLMVersion: sim.VLLMVersion, ServeFlags: flags, Packages: map[string]bool{runner.ArcticInference: true}}
	switch scenario {
	case "t4", "":
	case "t4-no-arctic":
		p.Packages[runner.ArcticInference] = false
	case "l4", "l4-no-arctic": // the ensemble's second GPU (sim.L4)
		g := sim.L4()
		p.GPUName, p.ComputeCap, p.MemoryMiB = g.Name, float64(g.Capability)/10, g.MemoryMiB
		p.Packages[runner.ArcticInference] = scenario == "l4"
	default:
		return p, fmt.Errorf("unknown scenario %q (want one of %s)", scenario, strings.Join(Kinds, ", "))
	}
	return p, nil
}

// Space is the default search space of a scenario for the scored workload.
func Space(scenario string) (*space.Space, error) {
	p, err := Platform(scenario)
	if err != nil {
		return nil, err
	}
	sp, err := space.Default(p, runner.DefaultWorkload())
	if err != nil {
		return nil, fmt.Errorf("space for %s: %w", scenario, err)
	}
	return sp, nil
}

// SimRunner is a tuner.Runner that answers each trial with sim.Predict in process, instead of starting a server
// and a benchmark. Each trial sees its own run-to-run noise, drawn from (Seed, trial number), as a rerun of a real
// study would; the same (Seed, trial number, config) always gives the same result.
type SimRunner struct {
	Seed     int64
	Land     *sim.Landscape  // nil: sim.Predict's calibrated T4 with arctic-inference
	Packages map[string]bool // optional packages installed, with Land

	mu       sync.Mutex
	compiled map[string]bool   // compile-cache keys started before: later starts are warm
	cost     map[int]TrialCost // per trial number
}

// TrialCost is the simulated GPU time of one trial: the server holds the GPU from its start to the end of its
// teardown. A start with a compile key not seen before in the study pays the cold compile (vLLM's compile cache,
// vllm.md §12); a refused start costs the time to its exit.
type TrialCost struct {
	Startup, Benchmark, Teardown float64 // seconds
}

// Seconds is the trial's whole GPU time.
func (c TrialCost) Seconds() float64 { return c.Startup + c.Benchmark + c.Teardown }

// TeardownSeconds is what the simulated T4 is charged from SIGTERM to the port and GPU memory being released.
// No measurement exists; vLLM aborts in-flight requests and exits (--shutdown-timeout 0), and the CUDA context
// teardown takes a few seconds [D assumption].
const TeardownSeconds = 5.0

// Cost is the simulated GPU time of trial number n, and whether that trial ran.
func (r *SimRunner) Cost(n int) (TrialCost, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.cost[n]
	return c, ok
}

func (r *SimRunner) charge(n int, out sim.Outcome, stoppedAt float64) TrialCost {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cost == nil {
		r.cost, r.compiled = map[int]TrialCost{}, map[string]bool{}
	}
	var c TrialCost
	switch {
	case out.Failure != nil:
		c.Startup = out.FailSeconds
	default:
		key := out.Engine.CompileKey()
		c.Startup = out.StartupSeconds
		if !r.compiled[key] {
			c.Startup = out.StartupColdSeconds
			r.compiled[key] = true
		}
		c.Benchmark, c.Teardown = out.BenchmarkSeconds, TeardownSeconds
		if stoppedAt >= 0 {
			c.Benchmark = stoppedAt
		}
	}
	r.cost[n] = c
	return c
}

// Run implements tuner.Runner.
func (r *SimRunner) Run(ctx context.Context, t runner.Trial) runner.Result {
	if err := ctx.Err(); err != nil {
		return runner.Result{Class: runner.Interrupted, Message: err.Error()}
	}
	model := t.Model
	if model == "" {
		model = t.Workload.Model
	}
	argv := append([]string{model}, t.Args...)
	out := predict(r.Land, r.Packages, argv, sim.WorkloadOf(t.Workload), NoiseSeed(r.Seed, t.Number))
	var res runner.Result
	stoppedAt := -1.0
	if t.Prune != nil && out.Failure == nil {
		res.Watch, stoppedAt = Watch(*t.Prune, out, ScrapeEvery)
	}
	c := r.charge(t.Number, out, stoppedAt)
	if stoppedAt >= 0 {
		v := res.Watch[len(res.Watch)-1]
		res.Class, res.Message = runner.Pruned, v.Reason
	} else {
		watch := res.Watch
		res = Result(out, t.Workload.NumPrompts)
		res.Watch = watch
	}
	res.Startup, res.Benchmark, res.Teardown = seconds(c.Startup), seconds(c.Benchmark), seconds(c.Teardown)
	return res
}

// ScrapeEvery is how often (simulated seconds) the watcher reads /metrics during a benchmark, as runner does.
const ScrapeEvery = 2.0

// Watch replays a simulated benchmark's /metrics every `every` seconds, as the server would serve it (the text
// vLLM's names and histograms, parsed by runner.ParseMetrics), and judges each scrape by the rule. It returns the
// verdicts and the time the benchmark would be stopped, or -1 when it runs to its end.
func Watch(rule runner.PruneRule, out sim.Outcome, every float64) ([]runner.Verdict, float64) {
	var verdicts []runner.Verdict
	scrapes := []runner.Scrape{{}}
	for at := every; at < out.BenchmarkSeconds; at += every {
		text := sim.LiveAt(out.Requests, at).Exposition(out.Engine.ServedName)
		m, err := runner.ParseMetrics([]byte(text))
		if err != nil {
			return verdicts, -1 // the real watcher does not prune on a scrape it cannot read
		}
		scrapes = append(scrapes, runner.Scrape{Elapsed: at, Metrics: m})
		v := rule.Judge(scrapes)
		verdicts = append(verdicts, v)
		if v.Prune {
			return verdicts, at
		}
	}
	return verdicts, -1
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// NoiseSeed is the simulator seed of trial number n in the run with experiment seed seed: never 0, which would
// switch the noise off.
func NoiseSeed(seed int64, n int) int64 {
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(seed))
	binary.LittleEndian.PutUint64(b[8:], uint64(n))
	h.Write(b[:])
	s := int64(h.Sum64() & math.MaxInt64)
	if s == 0 {
		s = 1
	}
	return s
}

// Result turns a simulated outcome into what the real runner would report: a config-fault class for a start vLLM
// refuses, else the benchmark's numbers, judged by runner.CheckBench as Run judges a real one.
func Result(out sim.Outcome, numPrompts int) runner.Result {
	if f := out.Failure; f != nil {
		return runner.Result{Class: Classify(f), Message: firstLine(f.Text())}
	}
	m := out.Metrics
	lat := map[string]float64{}
	for _, kv := range m.Stats {
		if v, ok := kv.Value.(float64); ok {
			lat[kv.Key] = v
		}
	}
	b := &runner.Bench{
		NumPrompts: numPrompts, Duration: m.Duration, Completed: m.Completed, Failed: m.Failed,
		TotalInputTokens: m.TotalInput, TotalOutputTokens: m.TotalOutput, RequestThroughput: m.RequestThroughput,
		OutputThroughput: m.OutputThroughput, TotalTokenThroughput: m.TotalTokenThroughput,
		MaxOutputTokensPerS: m.MaxOutputTokensPerS, MaxConcurrentRequests: float64(m.MaxConcurrentRequests),
		RequestRate: "inf", Latency: lat,
	}
	res := runner.Result{Bench: b}
	res.Class, res.Message = runner.CheckBench(b)
	if res.Class != runner.OK && len(m.Errors) > 0 {
		res.Message += ": " + firstLine(m.Errors[0])
	}
	return res
}

// Classify is the class the real runner would give the log of a start the simulator refused: the simulator
// prints the same exception lines as vLLM, so runner.ClassifyStartup reads them. Every class it can return
// for a refused start is a config fault, which is all the tuner acts on.
func Classify(f *sim.Failure) runner.Class {
	c, _ := runner.ClassifyStartup([]byte(f.Text()), f.ExitCode)
	return c
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
