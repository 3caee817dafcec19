package searchq

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/autotune/autotune/sampler"
	"github.com/autotune/autotune/space"
)

// MemberOptimum is the best noise-free feasible throughput found on one member of the ensemble.
type MemberOptimum struct {
	Member      string   `json:"member"`
	Fingerprint string   `json:"fingerprint"` // Member.Fingerprint: values, kind and space it was found for
	Value       float64  `json:"output_throughput"`
	Args        []string `json:"args"`
	Evaluated   int      `json:"evaluated"`
	Elapsed     string   `json:"elapsed"`
}

// FastRandom is how many uniform random points FastOptimum draws.
const FastRandom = 200

// FastOptimum finds a member's optimum at about a twentieth of FindOptimum's cost, so that 30+ members stay
// tractable on 2 cores: the baseline and known-good points, a product of the levers that FindOptimum's
// sensitivity analysis found to matter (speculation, fp8 weights, the token budget, the stream interval, the
// capture sizes), FastRandom uniform random points, then best-improvement local search (one parameter at a time,
// every value) from the 2 best points, the best point of every speculative method and the 2 best of the product.
// RESULTS.md compares it with FindOptimum on the calibrated scenarios.
func FastOptimum(ctx context.Context, ev *Evaluator, sp *space.Space, seed int64, workers int) (space.Config, Eval, int, error) {
	names, levels := Levels(sp)
	pool := append([]space.Config{sp.Baseline()}, sp.KnownGood()...)
	contest := space.ContestWinner(ev.workload)
	dims := map[string][]string{"speculative": levels["speculative"], "quantization": {space.DefaultChoice, "fp8"},
		"max_num_batched_tokens": {space.DefaultChoice, contest["max_num_batched_tokens"]}, "stream_interval": {space.DefaultChoice, "16"}}
	if _, ok := levels["cudagraph_capture"]; ok {
		dims["cudagraph_capture"] = []string{space.DefaultChoice, contest["cudagraph_capture"]}
	}
	for k := range dims {
		if _, ok := levels[k]; !ok {
			delete(dims, k)
		}
	}
	cs, err := product(sp, dims)
	if err != nil {
		return space.Config{}, Eval{}, 0, err
	}
	pool = append(pool, cs...)
	u := sampler.NewUniform(seed)
	for i := 0; i < FastRandom; i++ {
		c, err := sp.Sample(u.Suggester())
		if err != nil {
			return space.Config{}, Eval{}, 0, fmt.Errorf("random point: %w", err)
		}
		pool = append(pool, c)
	}
	if err := ctx.Err(); err != nil {
		return space.Config{}, Eval{}, 0, err
	}
	es := ev.EvalAll(pool, workers)
	n := len(pool)
	// Starts: the 2 best points, the best of every speculative method, and the 2 best of the product, so that
	// one method's local optimum does not hide another's.
	var starts []space.Config
	seen := map[string]bool{}
	add := func(cs []space.Config, k int, keep func(space.Config) bool) {
		for _, c := range cs {
			if k == 0 {
				return
			}
			if feasible := ev.Config(c).Feasible; feasible && keep(c) && !seen[c.Key()] {
				seen[c.Key()] = true
				starts = append(starts, c)
				k--
			}
		}
	}
	ranked := topK(pool, es, len(pool))
	all := func(space.Config) bool { return true }
	add(ranked, 2, all)
	for _, v := range levels["speculative"] {
		add(ranked, 1, func(c space.Config) bool { return c.Params["speculative"] == v })
	}
	add(topK(cs, ev.EvalAll(cs, workers), len(cs)), 2, all)
	var best space.Config
	var bestE Eval
	for _, s := range starts {
		c, e, k, _, err := localSearch(ctx, ev, sp, names, levels, s, workers)
		n += k
		if err != nil {
			return best, bestE, n, err
		}
		if e.Score() > bestE.Score() {
			best, bestE = c, e
		}
	}
	return best, bestE, n, nil
}

// EnsembleOptima is the cache of the members' optima (testdata/optimum-ensemble.json, compiled in).
type EnsembleOptima struct {
	Simulated bool            `json:"simulated"`
	Method    string          `json:"method"`
	Members   []MemberOptimum `json:"members"`
}

// EnsembleOptimaPath is where the cache lives, relative to the module root.
const EnsembleOptimaPath = "searchq/testdata/optimum-ensemble.json"

// LoadEnsembleOptima reads the cache from path, or the compiled-in copy when path is "".
func LoadEnsembleOptima(path string) (EnsembleOptima, error) {
	var data []byte
	var err error
	if path == "" {
		data, err = cached.ReadFile("testdata/optimum-ensemble.json")
		if err != nil {
			return EnsembleOptima{}, nil // none committed yet
		}
	} else if data, err = os.ReadFile(path); err != nil {
		if os.IsNotExist(err) {
			return EnsembleOptima{}, nil
		}
		return EnsembleOptima{}, fmt.Errorf("read ensemble optima: %w", err)
	}
	var o EnsembleOptima
	if err := json.Unmarshal(data, &o); err != nil {
		return o, fmt.Errorf("%s: %w", path, err)
	}
	return o, nil
}

// Save writes the cache as indented JSON.
func (o EnsembleOptima) Save(path string) error {
	data, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return fmt.Errorf("encode ensemble optima: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write ensemble optima: %w", err)
	}
	return nil
}

// Lookup returns the cached optimum of a member if it was found for the member's current fingerprint and the
// simulator still gives its value.
func (o EnsembleOptima) Lookup(m Member, sp *space.Space, ev *Evaluator) (MemberOptimum, bool) {
	fp := m.Fingerprint(sp)
	for _, mo := range o.Members {
		if mo.Member != m.Name() || mo.Fingerprint != fp {
			continue
		}
		if got := ev.Args("", mo.Args).Score(); math.Abs(got-mo.Value) > 1e-6*mo.Value {
			return mo, false
		}
		return mo, true
	}
	return MemberOptimum{}, false
}

// Put records a member's optimum, replacing an older one.
func (o *EnsembleOptima) Put(mo MemberOptimum) {
	for i := range o.Members {
		if o.Members[i].Member == mo.Member {
			o.Members[i] = mo
			return
		}
	}
	o.Members = append(o.Members, mo)
}

// MemberOptimumOf returns a member's optimum from the cache, or finds it with FastOptimum and records it.
func MemberOptimumOf(ctx context.Context, cache *EnsembleOptima, m Member, sp *space.Space, ev *Evaluator, workers int) (MemberOptimum, bool, error) {
	if mo, ok := cache.Lookup(m, sp, ev); ok {
		return mo, false, nil
	}
	began := time.Now()
	c, e, n, err := FastOptimum(ctx, ev, sp, int64(m.Index)+1, workers)
	if err != nil {
		return MemberOptimum{}, false, fmt.Errorf("%s: optimum: %w", m.Name(), err)
	}
	if !(e.Score() > 0) {
		return MemberOptimum{}, false, fmt.Errorf("%s: no feasible config found", m.Name())
	}
	mo := MemberOptimum{Member: m.Name(), Fingerprint: m.Fingerprint(sp), Value: e.Score(), Args: c.Args, Evaluated: n,
		Elapsed: time.Since(began).Round(time.Second).String()}
	cache.Put(mo)
	return mo, true, nil
}
