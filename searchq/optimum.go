package searchq

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/autotune/autotune/sampler"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/space"
)

// Optimum is the best noise-free feasible throughput of the space on the simulator, and how it was found.
type Optimum struct {
	Value     float64           `json:"output_throughput"` // tok/s, sim.Predict with seed 0
	P99TPOTms float64           `json:"p99_tpot_ms"`
	P99TTFTms float64           `json:"p99_ttft_ms"`
	Params    map[string]string `json:"params"`
	Args      []string          `json:"args"`

	Method    string     `json:"method"`
	Stages    []Stage    `json:"stages"`
	Collapsed []Collapse `json:"collapsed"`
	// Sensitivity is, per parameter, the largest relative change of the noise-free score that changing only that
	// parameter made around the base points, split by whether speculative decoding was on (suffix/ngram).
	Sensitivity []Effect `json:"sensitivity"`
	// Expected is the same config judged by its mean over noisy reruns, and the best physical setting's mean
	// over configs that differ only in parameters the cost model ignores (see RESULTS.md).
	Expected Expected `json:"expected"`

	SpaceFingerprint string `json:"space_fingerprint"`
	Date             string `json:"date"`
	Evaluated        int    `json:"evaluated"` // distinct command lines simulated
	Elapsed          string `json:"elapsed"`
}

// Stage is one step of the search for the optimum.
type Stage struct {
	Name     string   `json:"name"`
	Configs  int      `json:"configs"`
	Feasible int      `json:"feasible"`
	Best     float64  `json:"best"`
	BestArgs []string `json:"best_args"`
}

// Collapse records a parameter held at fewer values than its domain during enumeration, and why.
type Collapse struct {
	Param string   `json:"param"`
	Kept  []string `json:"kept"`
	Why   string   `json:"why"`
}

// Effect is one parameter's largest one-at-a-time effect.
type Effect struct {
	Param         string  `json:"param"`
	NoSpec        float64 `json:"no_spec"`        // max |Δscore|/score around bases without speculation
	Spec          float64 `json:"spec"`           // the same around speculative bases
	NoSpecFeasOff bool    `json:"no_spec_breaks"` // some value made a feasible base infeasible
	SpecFeasOff   bool    `json:"spec_breaks"`
}

// Expected compares the seed-0 optimum with expected (mean over reruns) throughput.
type Expected struct {
	Seeds        int     `json:"seeds"`
	OptimumMean  float64 `json:"optimum_mean"` // mean over Seeds noisy reruns of the seed-0 optimum
	OptimumSD    float64 `json:"optimum_sd"`
	RerollSD     float64 `json:"reroll_sd"`      // relative SD of seed-0 values across configs the cost model cannot tell apart
	BestGroup    float64 `json:"best_group"`     // best mean seed-0 value of a group of such configs
	BestGroupKey string  `json:"best_group_key"` // that group's physically relevant parameters
	GroupSize    int     `json:"group_size"`
}

// OptimumOptions configure FindOptimum.
type OptimumOptions struct {
	Workers  int
	Random   int   // random points of the cross-check
	Seed     int64 // of the random points
	Progress io.Writer
}

// FindOptimum searches the space for its best noise-free feasible config: one-at-a-time sensitivity around base
// points, exhaustive enumeration of the sub-spaces that hold the optimum candidates, then a cross-check with
// random points and local search over the whole space.
func FindOptimum(ctx context.Context, ev *Evaluator, sp *space.Space, o OptimumOptions) (Optimum, error) {
	began := time.Now()
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	if o.Random <= 0 {
		o.Random = 3000
	}
	opt := Optimum{SpaceFingerprint: sp.Fingerprint(), Date: time.Now().UTC().Format("2006-01-02")}
	names, levels := Levels(sp)

	// 1. Sensitivity.
	fmt.Fprintln(progress, "optimum: one-at-a-time sensitivity around base points")
	eff, err := sensitivity(ev, sp, names, levels, o.Workers)
	if err != nil {
		return opt, err
	}
	opt.Sensitivity = eff

	var best space.Config
	bestVal := 0.0
	var all []space.Config
	var allE []Eval
	consider := func(stage *Stage, cs []space.Config, es []Eval) {
		stage.Configs += len(cs)
		for i, e := range es {
			if e.Feasible {
				stage.Feasible++
			}
			if e.Score() > stage.Best {
				stage.Best, stage.BestArgs = e.Score(), cs[i].Args
			}
			if e.Score() > bestVal {
				bestVal, best = e.Score(), cs[i]
			}
		}
	}
	run := func(name string, cs []space.Config) ([]Eval, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		es := ev.EvalAll(cs, o.Workers)
		all, allE = append(all, cs...), append(allE, es...)
		st := Stage{Name: name}
		consider(&st, cs, es)
		opt.Stages = append(opt.Stages, st)
		fmt.Fprintf(progress, "optimum: %s: %d configs, best %.0f tok/s (%s)\n", name, len(cs), st.Best, time.Since(t0).Round(time.Second))
		return es, nil
	}

	// 2. Exhaustive enumeration of the sub-spaces that matter.
	opt.Collapsed = collapsed(slices.Contains(levels["speculative"], "suffix"))
	suffix := map[string][]string{
		"speculative": {"suffix"}, "quantization": {space.DefaultChoice, "fp8"},
		"max_num_seqs": levels["max_num_seqs"], "max_num_batched_tokens": levels["max_num_batched_tokens"],
		"max_model_len": levels["max_model_len"], "gpu_memory_utilization": levels["gpu_memory_utilization"],
		"block_size": levels["block_size"], "prefix_caching": levels["prefix_caching"],
		"stream_interval": levels["stream_interval"],
	}
	if slices.Contains(levels["speculative"], "suffix") {
		cs, err := product(sp, suffix)
		if err != nil {
			return opt, err
		}
		es, err := run("enumerate suffix decoding (every value of every parameter that applies, minus the collapsed ones)", cs)
		if err != nil {
			return opt, err
		}
		opt.Expected = groups(cs, es, []string{"gpu_memory_utilization", "block_size"})
	}

	nospec := map[string][]string{
		"speculative": {space.DefaultChoice}, "quantization": {space.DefaultChoice, "fp8"},
		"max_num_seqs": levels["max_num_seqs"], "max_num_batched_tokens": levels["max_num_batched_tokens"],
		"cudagraph_capture": levels["cudagraph_capture"], "stream_interval": levels["stream_interval"],
	}
	cs, err := product(sp, nospec)
	if err != nil {
		return opt, err
	}
	if _, err := run("enumerate no speculation (quantization x seqs x token budget x capture sizes x stream interval)", cs); err != nil {
		return opt, err
	}

	ngram := map[string][]string{
		"speculative": {"ngram"}, "quantization": {space.DefaultChoice, "fp8"},
		"num_speculative_tokens": levels["num_speculative_tokens"], "prompt_lookup_min": levels["prompt_lookup_min"],
		"prompt_lookup_max": levels["prompt_lookup_max"], "max_num_batched_tokens": {space.DefaultChoice, space.ContestWinner(ev.workload)["max_num_batched_tokens"]},
		"stream_interval": {space.DefaultChoice, "16"},
	}
	if cs, err = product(sp, ngram); err != nil {
		return opt, err
	}
	if _, err := run("enumerate ngram speculation (k x lookup bounds x quantization x token budget x stream interval)", cs); err != nil {
		return opt, err
	}

	// 3. Cross-check: random points of the whole space, then local search from the best points found.
	u := sampler.NewUniform(o.Seed)
	var rnd []space.Config
	for i := 0; i < o.Random; i++ {
		c, err := sp.Sample(u.Suggester())
		if err != nil {
			return opt, fmt.Errorf("random point: %w", err)
		}
		rnd = append(rnd, c)
	}
	res, err := run(fmt.Sprintf("cross-check: %d uniform random points of the whole space", o.Random), rnd)
	if err != nil {
		return opt, err
	}
	enumBest := bestVal
	starts := topK(all[:len(all)-len(rnd)], allE[:len(all)-len(rnd)], 4)
	starts = append(starts, topK(rnd, res, 4)...)
	st := Stage{Name: "cross-check: local search (best improvement, one parameter at a time, every value) from the 4 best enumerated and the 4 best random points"}
	for _, s := range starts {
		c, e, n, feasible, err := localSearch(ctx, ev, sp, names, levels, s, o.Workers)
		if err != nil {
			return opt, err
		}
		st.Configs += n
		st.Feasible += feasible
		if e.Score() > st.Best {
			st.Best, st.BestArgs = e.Score(), c.Args
		}
		if e.Score() > bestVal {
			bestVal, best = e.Score(), c
		}
	}
	opt.Stages = append(opt.Stages, st)
	fmt.Fprintf(progress, "optimum: %s: %d configs, best %.0f tok/s\n", st.Name, st.Configs, st.Best)

	e := ev.Config(best)
	opt.Value, opt.P99TPOTms, opt.P99TTFTms = e.Score(), e.P99TPOTms, e.P99TTFTms
	opt.Params, opt.Args = best.Params, best.Args
	opt.Expected.Seeds = 32
	opt.Expected.OptimumMean, opt.Expected.OptimumSD = noisyMean(ev, best, opt.Expected.Seeds)
	how := "exhaustive enumeration"
	if bestVal > enumBest {
		how = "the cross-check (it beat the enumeration)"
	}
	opt.Method = fmt.Sprintf("best of %s; %d distinct command lines simulated with sim.Predict seed 0", how, ev.Size())
	opt.Evaluated = ev.Size()
	opt.Elapsed = time.Since(began).Round(time.Second).String()
	return opt, nil
}

// collapsed lists what the enumeration leaves out; the sensitivity table and the cross-check are the evidence.
func collapsed(suffix bool) []Collapse {
	small := Collapse{"gpu_memory_utilization, block_size, max_model_len, prefix_caching", []string{"all, with suffix decoding"}, "enumerated fully where the optimum is (suffix); held at the default without speculation, where one-at-a-time they move the score by <= 0.2%"}
	if !suffix {
		small = Collapse{"gpu_memory_utilization, block_size, max_model_len, prefix_caching", []string{space.DefaultChoice}, "one-at-a-time they move the score by <= 0.2% without speculation; the local search of the cross-check varies them from the best points"}
	}
	return []Collapse{
		{"attention_backend", []string{space.DefaultChoice}, "TRITON_ATTN and FLEX_ATTENTION cost more in every term of the cost model (KV read x2.75/x4, prefill attention, fixed cost); one-at-a-time they lose 17-45% everywhere, 15-40x the seed-0 re-roll spread"},
		{"quantization", []string{space.DefaultChoice, "fp8"}, "bitsandbytes is 1.58x slower per step in the cost model and loses >= 15% everywhere"},
		{"optimization", []string{space.DefaultChoice}, "eager misses the TTFT SLA everywhere (first-step JIT 1.6 s + slower prefill); O1 is identical to the default with speculation (same engine) and loses 7-9% without"},
		{"async_scheduling", []string{space.DefaultChoice}, "off adds CPU time to every step; loses 5-10% without speculation, does not apply with ngram/suffix"},
		{"cudagraph_capture", []string{space.DefaultChoice}, "with speculation it does not apply; enumerated fully without"},
		small,
		{"num_speculative_tokens, prompt_lookup_min, prompt_lookup_max", []string{"all, with ngram"}, "apply only to ngram, whose best config stays below vLLM's defaults at the simulator's ngram acceptance of 0.10"},
	}
}

// product builds every config of the cartesian product of dims (other parameters at their default), without
// duplicates (repairs can map two assignments to the same command line).
func product(sp *space.Space, dims map[string][]string) ([]space.Config, error) {
	keys := sortedKeys(dims)
	var out []space.Config
	seen := map[string]bool{}
	idx := make([]int, len(keys))
	for {
		m := map[string]string{}
		for i, k := range keys {
			m[k] = dims[k][idx[i]]
		}
		c, _, err := Build(sp, m)
		if err != nil {
			return nil, err
		}
		if !seen[c.Key()] {
			seen[c.Key()] = true
			out = append(out, c)
		}
		i := len(keys) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(dims[keys[i]]) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return out, nil
		}
	}
}

// sensitivity changes one parameter at a time around base points with and without speculation.
func sensitivity(ev *Evaluator, sp *space.Space, names []string, levels map[string][]string, workers int) ([]Effect, error) {
	contest := space.ContestWinner(ev.workload)
	bases := []map[string]string{
		{}, contest,
		with(contest, map[string]string{"quantization": "fp8", "stream_interval": "16"}),
		with(contest, map[string]string{"attention_backend": "TRITON_ATTN", "async_scheduling": "off", "optimization": "O1"}),
		{"speculative": "suffix"},
		with(contest, map[string]string{"speculative": "suffix"}),
		{"speculative": "suffix", "quantization": "fp8", "max_num_batched_tokens": "4096", "stream_interval": "8", "max_num_seqs": "128"},
		{"speculative": "ngram", "num_speculative_tokens": "4", "prompt_lookup_min": "1", "prompt_lookup_max": "3"},
		with(contest, map[string]string{"speculative": "ngram", "num_speculative_tokens": "2", "prompt_lookup_min": "3", "prompt_lookup_max": "5", "stream_interval": "16"}),
	}
	type probe struct {
		base  int
		param string
	}
	var cs []space.Config
	var probes []probe
	for bi, b := range bases {
		c, _, err := Build(sp, b)
		if err != nil {
			continue // not a point of this space (suffix decoding without arctic-inference)
		}
		cs, probes = append(cs, c), append(probes, probe{bi, ""})
		for _, n := range names {
			for _, v := range levels[n] {
				c, drawn, err := Build(sp, with(b, map[string]string{n: v}))
				if err != nil {
					return nil, err
				}
				if !slices.Contains(drawn, n) {
					continue // does not apply at this base
				}
				cs, probes = append(cs, c), append(probes, probe{bi, n})
			}
		}
	}
	es := ev.EvalAll(cs, workers)
	baseEval := map[int]Eval{}
	for i, p := range probes {
		if p.param == "" {
			baseEval[p.base] = es[i]
		}
	}
	effects := map[string]*Effect{}
	for _, n := range names {
		effects[n] = &Effect{Param: n}
	}
	for i, p := range probes {
		if p.param == "" {
			continue
		}
		b := baseEval[p.base]
		if !b.Feasible {
			continue
		}
		spec := bases[p.base]["speculative"] != ""
		rel := math.Abs(es[i].Score()-b.Score()) / b.Score()
		breaks := !es[i].Feasible
		e := effects[p.param]
		if spec {
			e.Spec = math.Max(e.Spec, rel)
			e.SpecFeasOff = e.SpecFeasOff || breaks
		} else {
			e.NoSpec = math.Max(e.NoSpec, rel)
			e.NoSpecFeasOff = e.NoSpecFeasOff || breaks
		}
	}
	var out []Effect
	for _, n := range names {
		out = append(out, *effects[n])
	}
	return out, nil
}

// groups estimates the physical value of each setting of the suffix enumeration: configs that differ only in
// the reroll parameters (which the cost model does not use while the KV cache is not a limit) draw different
// speculative acceptances at seed 0, so their mean is the setting's expected value.
func groups(cs []space.Config, es []Eval, reroll []string) Expected {
	type agg struct {
		sum float64
		n   int
	}
	by := map[string]*agg{}
	var rel []float64
	for i, c := range cs {
		var parts []string
		for _, k := range sortedKeys(c.Params) {
			if !slices.Contains(reroll, k) {
				parts = append(parts, k+"="+c.Params[k])
			}
		}
		key := strings.Join(parts, " ")
		if by[key] == nil {
			by[key] = &agg{}
		}
		by[key].sum += es[i].Score()
		by[key].n++
	}
	var x Expected
	means := map[string]float64{}
	for k, a := range by {
		means[k] = a.sum / float64(a.n)
		if means[k] > x.BestGroup {
			x.BestGroup, x.BestGroupKey, x.GroupSize = means[k], k, a.n
		}
	}
	// The spread within groups that are feasible throughout.
	feasibleMembers := map[string][]float64{}
	for i, c := range cs {
		var parts []string
		for _, k := range sortedKeys(c.Params) {
			if !slices.Contains(reroll, k) {
				parts = append(parts, k+"="+c.Params[k])
			}
		}
		feasibleMembers[strings.Join(parts, " ")] = append(feasibleMembers[strings.Join(parts, " ")], es[i].Score())
	}
	for k, xs := range feasibleMembers {
		ok := true
		for _, v := range xs {
			ok = ok && v > 0
		}
		if !ok || len(xs) < 2 {
			continue
		}
		m := means[k]
		for _, v := range xs {
			rel = append(rel, (v-m)/m)
		}
	}
	if len(rel) > 1 {
		var ss float64
		for _, v := range rel {
			ss += v * v
		}
		// Members deviate from their own group's mean: correct for the degrees of freedom that mean used.
		n := float64(x.GroupSize)
		x.RerollSD = math.Sqrt(ss / float64(len(rel)) * n / math.Max(1, n-1))
	}
	return x
}

// noisyMean is the mean and standard deviation of a config's throughput over n noisy reruns.
func noisyMean(ev *Evaluator, c space.Config, n int) (float64, float64) {
	var xs []float64
	for s := 1; s <= n; s++ {
		out := sim.Predict(ev.argv(c.Model, c.Args), sim.WorkloadOf(ev.workload), NoiseSeed(-1, s))
		xs = append(xs, out.OutputThroughput)
	}
	var m, v float64
	for _, x := range xs {
		m += x
	}
	m /= float64(n)
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, math.Sqrt(v / float64(n-1))
}

// localSearch moves one parameter at a time to the value that helps most, until no move helps. It returns the
// best point, its result, and how many configs it evaluated and how many of them were feasible.
func localSearch(ctx context.Context, ev *Evaluator, sp *space.Space, names []string, levels map[string][]string, start space.Config, workers int) (space.Config, Eval, int, int, error) {
	cur, curE := start, ev.Config(start)
	n, feasible := 0, 0
	for {
		if err := ctx.Err(); err != nil {
			return cur, curE, n, feasible, err
		}
		var cs []space.Config
		for _, p := range names {
			for _, v := range levels[p] {
				if cur.Params[p] == v {
					continue
				}
				c, _, err := Build(sp, with(cur.Params, map[string]string{p: v}))
				if err != nil {
					continue // e.g. an ngram knob moved while ngram is off: not a point of the space
				}
				cs = append(cs, c)
			}
		}
		es := ev.EvalAll(cs, workers)
		n += len(cs)
		bi := -1
		for i, e := range es {
			if e.Feasible {
				feasible++
			}
			if e.Score() > curE.Score() && (bi < 0 || e.Score() > es[bi].Score()) {
				bi = i
			}
		}
		if bi < 0 {
			return cur, curE, n, feasible, nil
		}
		cur, curE = cs[bi], es[bi]
	}
}

func topK(cs []space.Config, es []Eval, k int) []space.Config {
	idx := make([]int, len(cs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return es[idx[a]].Score() > es[idx[b]].Score() })
	var out []space.Config
	for _, i := range idx[:min(k, len(idx))] {
		out = append(out, cs[i])
	}
	return out
}

func with(base, over map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range over {
		m[k] = v
	}
	return m
}

// SaveOptimum writes the optimum as indented JSON.
func SaveOptimum(path string, o Optimum) error {
	data, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return fmt.Errorf("encode optimum: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write optimum: %w", err)
	}
	return nil
}

// cached holds the optimum of every scenario as committed, so that the experiment runs from any directory.
//
//go:embed testdata/optimum-*.json
var cached embed.FS

// CachedOptimum returns the committed optimum of a scenario (testdata/optimum-<scenario>.json, compiled in) and
// checks that it was found for this space.
func CachedOptimum(scenario string, sp *space.Space) (Optimum, error) {
	name := "testdata/optimum-" + scenario + ".json"
	data, err := cached.ReadFile(name)
	if err != nil {
		return Optimum{}, fmt.Errorf("no cached optimum for scenario %q: compute it with --recompute-optimum", scenario)
	}
	return parseOptimum("searchq/"+name, data, sp)
}

// Holds checks that the simulator still gives the optimum's value for its command line: the cache holds a
// simulated number, which a change to the simulator would silently make stale.
func (o Optimum) Holds(ev *Evaluator, source string) error {
	if got := ev.Args("", o.Args).Score(); math.Abs(got-o.Value) > 1e-6*o.Value {
		return fmt.Errorf("%s: the simulator now gives %.1f tok/s for the cached optimum, not %.1f: recompute it (--recompute-optimum)",
			source, got, o.Value)
	}
	return nil
}

// LoadOptimum reads an optimum written by SaveOptimum and checks that it was found for this space.
func LoadOptimum(path string, sp *space.Space) (Optimum, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Optimum{}, fmt.Errorf("read optimum: %w", err)
	}
	return parseOptimum(path, data, sp)
}

func parseOptimum(path string, data []byte, sp *space.Space) (Optimum, error) {
	var o Optimum
	if err := json.Unmarshal(data, &o); err != nil {
		return o, fmt.Errorf("%s: %w", path, err)
	}
	if o.SpaceFingerprint != sp.Fingerprint() {
		return o, fmt.Errorf("%s was found for search space %s, the space is now %s: recompute it (--recompute-optimum)",
			path, o.SpaceFingerprint, sp.Fingerprint())
	}
	if !(o.Value > 0) {
		return o, fmt.Errorf("%s: no optimum value", path)
	}
	return o, nil
}
