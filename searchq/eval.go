package searchq

import (
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"sync"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/space"
	"github.com/autotune/autotune/tuner"
)

// Eval is the noise-free simulated result of one config (sim.Predict with seed 0), judged by the tuner's own
// objective under the SLA.
type Eval struct {
	Throughput float64 `json:"output_throughput"` // tok/s, 0 when the start was refused
	P99TPOTms  float64 `json:"p99_tpot_ms"`
	P99TTFTms  float64 `json:"p99_ttft_ms"`
	Feasible   bool    `json:"feasible"`
	Objective  float64 `json:"objective"`         // what the tuner would tell the sampler
	Class      string  `json:"failure,omitempty"` // runner failure class, "" on success
}

// Score is the feasible throughput: 0 when the config misses the SLA or does not start.
func (e Eval) Score() float64 {
	if !e.Feasible {
		return 0
	}
	return e.Throughput
}

// Evaluator computes noise-free results, once per command line, and is safe for concurrent use.
type Evaluator struct {
	workload runner.Workload
	sla      tuner.SLA
	land     *sim.Landscape  // nil: sim.Predict's calibrated T4
	packages map[string]bool // the installed optional packages, with land

	mu    sync.Mutex
	cache map[string]Eval
}

// NewEvaluator returns an evaluator for the workload and SLA a study scores with.
func NewEvaluator(w runner.Workload, sla tuner.SLA) *Evaluator {
	return &Evaluator{workload: w, sla: sla, cache: map[string]Eval{}}
}

// NewEvaluatorOn is NewEvaluator on another landscape of the simulator, with these optional packages installed.
func NewEvaluatorOn(w runner.Workload, sla tuner.SLA, land *sim.Landscape, packages map[string]bool) *Evaluator {
	ev := NewEvaluator(w, sla)
	ev.land, ev.packages = land, packages
	return ev
}

// predict is sim.Predict, or sim.PredictOn when a landscape is given.
func predict(land *sim.Landscape, packages map[string]bool, argv []string, w sim.Workload, seed int64) sim.Outcome {
	if land == nil {
		return sim.Predict(argv, w, seed)
	}
	return sim.PredictOn(land, packages, argv, w, seed)
}

// Args evaluates `vllm serve <model> <args>` without noise.
func (ev *Evaluator) Args(model string, args []string) Eval {
	argv := ev.argv(model, args)
	key := fmt.Sprintf("%q", argv)
	ev.mu.Lock()
	e, ok := ev.cache[key]
	ev.mu.Unlock()
	if ok {
		return e
	}
	e = ev.predict(argv)
	ev.mu.Lock()
	ev.cache[key] = e
	ev.mu.Unlock()
	return e
}

// argv is `vllm serve`'s arguments for a config: its model (the workload's when it has none) and its flags.
func (ev *Evaluator) argv(model string, args []string) []string {
	if model == "" {
		model = ev.workload.Model
	}
	return append([]string{model}, args...)
}

// Config evaluates one point of the space without noise.
func (ev *Evaluator) Config(c space.Config) Eval { return ev.Args(c.Model, c.Args) }

func (ev *Evaluator) predict(argv []string) Eval {
	out := predict(ev.land, ev.packages, argv, sim.WorkloadOf(ev.workload), 0)
	res := Result(out, ev.workload.NumPrompts)
	s := tuner.Evaluate(res, ev.sla)
	e := Eval{Feasible: s.Feasible, Objective: s.Value, Class: string(res.Class)}
	if res.Bench != nil {
		e.Throughput = res.Bench.OutputThroughput
		e.P99TPOTms, e.P99TTFTms = res.Bench.P99TPOT(), res.Bench.P99TTFT()
	}
	return e
}

// Size is how many distinct command lines have been evaluated.
func (ev *Evaluator) Size() int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return len(ev.cache)
}

// EvalAll evaluates configs on up to workers goroutines (0: one per CPU) and returns their results in order.
func (ev *Evaluator) EvalAll(configs []space.Config, workers int) []Eval {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([]Eval, len(configs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = ev.Config(configs[i])
			}
		}()
	}
	for i := range configs {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// fixed is a space.Suggester that answers from a map of rendered values; a parameter the map lacks gets its
// "default" choice (or its domain's low end). It records which parameters were drawn.
type fixed struct {
	values map[string]string
	drawn  []string
}

func (f *fixed) SuggestCategorical(name string, choices []string) (string, error) {
	f.drawn = append(f.drawn, name)
	if v, ok := f.values[name]; ok {
		for _, c := range choices {
			if c == v {
				return v, nil
			}
		}
		return "", fmt.Errorf("%s: %q is not one of %v", name, v, choices)
	}
	for _, c := range choices {
		if c == space.DefaultChoice {
			return c, nil
		}
	}
	return choices[0], nil
}

func (f *fixed) SuggestInt(name string, low, high int) (int, error) {
	f.drawn = append(f.drawn, name)
	v, ok := f.values[name]
	if !ok {
		return low, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < low || n > high {
		return 0, fmt.Errorf("%s: %q is not an integer in [%d, %d]", name, v, low, high)
	}
	return n, nil
}

func (f *fixed) SuggestStepInt(name string, low, high, _ int) (int, error) {
	return f.SuggestInt(name, low, high)
}

func (f *fixed) SuggestFloat(name string, low, high float64) (float64, error) {
	f.drawn = append(f.drawn, name)
	v, ok := f.values[name]
	if !ok {
		return low, nil
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || x < low || x > high {
		return 0, fmt.Errorf("%s: %q is not a number in [%v, %v]", name, v, low, high)
	}
	return x, nil
}

func (f *fixed) SuggestDiscreteFloat(name string, low, high, _ float64) (float64, error) {
	return f.SuggestFloat(name, low, high)
}

func (f *fixed) SuggestLogFloat(name string, low, high float64) (float64, error) {
	return f.SuggestFloat(name, low, high)
}

// Build returns the point of sp with the given parameter values (absent ones at their default), after the
// space's own repairs, and the names of the parameters that applied.
func Build(sp *space.Space, params map[string]string) (space.Config, []string, error) {
	f := &fixed{values: params}
	c, err := sp.Sample(f)
	if err != nil {
		return space.Config{}, nil, fmt.Errorf("build %v: %w", params, err)
	}
	return c, f.drawn, nil
}

// Levels lists the values of every parameter of sp, in sampling order: the choices of a categorical one, every
// integer of an integer range.
func Levels(sp *space.Space) ([]string, map[string][]string) {
	var names []string
	levels := map[string][]string{}
	for _, p := range sp.Describe().Params {
		if p.Fixed != "" {
			continue
		}
		names = append(names, p.Name)
		switch {
		case len(p.Choices) > 0:
			levels[p.Name] = append([]string(nil), p.Choices...)
		default:
			for v := int(p.Low); v <= int(p.High); v++ {
				levels[p.Name] = append(levels[p.Name], strconv.Itoa(v))
			}
		}
	}
	return names, levels
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
