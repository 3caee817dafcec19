package sampler

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/c-bata/goptuna"
	"github.com/c-bata/goptuna/tpe"
)

// TestUniformSamplerCoversBounds guards the two goptuna RandomSampler defects Uniform exists for.
func TestUniformSamplerCoversBounds(t *testing.T) {
	dists := map[string]interface{}{
		"int":  goptuna.IntUniformDistribution{Low: 1, High: 3},
		"step": goptuna.StepIntUniformDistribution{Low: 0, High: 8, Step: 4},
		"cat":  goptuna.CategoricalDistribution{Choices: []string{"a", "b", "c"}},
		"disc": goptuna.DiscreteUniformDistribution{Low: 0.5, High: 0.9, Q: 0.2},
	}
	want := map[string][]float64{"int": {1, 2, 3}, "step": {0, 4, 8}, "cat": {0, 1, 2}, "disc": {0.5, 0.7, 0.9}}
	for name, d := range dists {
		seen := map[float64]bool{}
		u := NewUniform(1)
		for i := 0; i < 200; i++ {
			v, err := u.Sample(History{}, goptuna.FrozenTrial{}, name, d)
			if err != nil {
				t.Fatal(err)
			}
			seen[float64(int(v*10+0.5))/10] = true
		}
		for _, w := range want[name] {
			if !seen[w] {
				t.Errorf("%s: never drew %v (drew %v)", name, w, seen)
			}
		}
		if len(seen) != len(want[name]) {
			t.Errorf("%s: drew values off the domain: %v", name, seen)
		}
	}
}

func TestUniformSamplerIsReproducible(t *testing.T) {
	d := goptuna.CategoricalDistribution{Choices: []string{"a", "b", "c", "d", "e"}}
	draw := func() []float64 {
		u := NewUniform(42)
		var out []float64
		for i := 0; i < 20; i++ {
			v, _ := u.Sample(History{}, goptuna.FrozenTrial{}, "x", d)
			out = append(out, v)
		}
		return out
	}
	a, b := draw(), draw()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different draws: %v vs %v", a, b)
		}
	}
}

func TestGridSamplerStaysOnGrid(t *testing.T) {
	g := &grid{seed: 3}
	d := goptuna.UniformDistribution{Low: 0, High: 1}
	levels := map[float64]bool{0: true, 0.25: true, 0.5: true, 0.75: true, 1: true}
	seen := map[float64]bool{}
	for n := 0; n < 100; n++ {
		v, err := g.Sample(History{}, goptuna.FrozenTrial{Number: n}, "u", d)
		if err != nil {
			t.Fatal(err)
		}
		if !levels[v] {
			t.Fatalf("trial %d: %v is not a grid level", n, v)
		}
		seen[v] = true
	}
	if len(seen) != len(levels) {
		t.Errorf("100 trials visited %d of %d levels", len(seen), len(levels))
	}
}

// historyOf returns the trials of an in-memory study whose completed trials set a categorical "x" and a small
// integer "k" as listed, with the given values (the study maximises).
func historyOf(t *testing.T, xs []int, ks []int, values []float64) History {
	t.Helper()
	st, err := goptuna.CreateStudy("history", goptuna.StudyOptionDirection(goptuna.StudyDirectionMaximize),
		goptuna.StudyOptionLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := range values {
		if err := st.EnqueueTrial(map[string]float64{"x": float64(xs[i]), "k": float64(ks[i])}); err != nil {
			t.Fatal(err)
		}
	}
	err = st.Optimize(func(tr goptuna.Trial) (float64, error) {
		n, err := tr.Number()
		if err != nil {
			return 0, err
		}
		if _, err := tr.SuggestCategorical("x", []string{"a", "b", "c", "d"}); err != nil {
			return 0, err
		}
		if _, err := tr.SuggestInt("k", 1, 5); err != nil {
			return 0, err
		}
		return values[n], nil
	}, len(values))
	if err != nil {
		t.Fatal(err)
	}
	trials, err := st.GetTrials()
	if err != nil {
		t.Fatal(err)
	}
	return History{Trials: trials}
}

// tpeSampler models categorical and small integer parameters from the history: it proposes what the best
// trials had far more often than anything else, still proposes the other choices now and then (goptuna's
// argmax over every choice never would), and stays on the domain.
func TestTPESamplerFollowsTheBestTrials(t *testing.T) {
	// Twenty trials: "c" with k=4 scores 100, everything else 1.
	var xs, ks []int
	var values []float64
	for i := 0; i < 20; i++ {
		x, k, v := i%4, 1+i%5, 1.0
		if i%4 == 2 && i%5 == 3 {
			v = 100
		}
		if i%7 == 0 { // a few more good ones so that the best 10% are all c/4
			x, k, v = 2, 4, 100
		}
		xs, ks, values = append(xs, x), append(ks, k), append(values, v)
	}
	h := historyOf(t, xs, ks, values)
	s := &tpeSampler{rng: rand.New(rand.NewSource(1)), candidates: tpeCandidates}
	xCount, kCount := map[float64]int{}, map[float64]int{}
	const draws = 2000
	for i := 0; i < draws; i++ {
		x, err := s.Sample(h, goptuna.FrozenTrial{}, "x", goptuna.CategoricalDistribution{Choices: []string{"a", "b", "c", "d"}})
		if err != nil {
			t.Fatal(err)
		}
		k, err := s.Sample(h, goptuna.FrozenTrial{}, "k", goptuna.IntUniformDistribution{Low: 1, High: 5})
		if err != nil {
			t.Fatal(err)
		}
		xCount[x]++
		kCount[k]++
	}
	if xCount[2] < draws/2 || kCount[4] < draws/2 {
		t.Errorf("the best trials' values were not proposed most: x %v, k %v", xCount, kCount)
	}
	if len(xCount) != 4 || len(kCount) != 5 {
		t.Errorf("some values were never proposed again: x %v, k %v", xCount, kCount)
	}
	for k := range kCount {
		if k != math.Trunc(k) || k < 1 || k > 5 {
			t.Errorf("k = %v is off its domain", k)
		}
	}
}

// Same seed, same history, same proposals: goptuna's own TPE draws categorical candidates from the global
// math/rand, which would make a seeded study irreproducible.
func TestTPESamplerIsReproducible(t *testing.T) {
	h := historyOf(t, []int{0, 1, 2, 3, 0, 1, 2, 3}, []int{1, 2, 3, 4, 5, 1, 2, 3}, []float64{1, 2, 3, 4, 5, 6, 7, 8})
	draw := func() []float64 {
		s := &tpeSampler{rng: rand.New(rand.NewSource(7)), candidates: tpeCandidates}
		var out []float64
		for i := 0; i < 50; i++ {
			v, err := s.Sample(h, goptuna.FrozenTrial{}, "x", goptuna.CategoricalDistribution{Choices: []string{"a", "b", "c", "d"}})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	a, b := draw(), draw()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different proposals: %v vs %v", a, b)
		}
	}
}

// A wide integer range is not modelled as categorical: it goes to goptuna's numeric TPE.
func TestTPESamplerHandsWideRangesOn(t *testing.T) {
	h := historyOf(t, []int{0}, []int{1}, []float64{1})
	numeric := &recordingSampler{}
	s := &tpeSampler{rng: rand.New(rand.NewSource(1)), candidates: tpeCandidates, numeric: numeric}
	if _, err := s.Sample(h, goptuna.FrozenTrial{}, "wide", goptuna.IntUniformDistribution{Low: 1, High: 1 + MaxCategoricalInts}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sample(h, goptuna.FrozenTrial{}, "f", goptuna.UniformDistribution{Low: 0, High: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sample(h, goptuna.FrozenTrial{}, "narrow", goptuna.IntUniformDistribution{Low: 1, High: MaxCategoricalInts}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(numeric.names, ","); got != "wide,f" {
		t.Errorf("numeric sampler got %q, want wide,f", got)
	}
}

type recordingSampler struct{ names []string }

func (r *recordingSampler) Sample(_ History, _ goptuna.FrozenTrial, name string, _ interface{}) (float64, error) {
	r.names = append(r.names, name)
	return 0, nil
}

// constSampler answers every parameter with its value.
type constSampler float64

func (c constSampler) Sample(History, goptuna.FrozenTrial, string, interface{}) (float64, error) {
	return float64(c), nil
}

// The phased sampler hands over to TPE once TPE has enough observations: complete and pruned trials with a
// value count (duplicates and the constant liar's running trials look complete and count too: see phased),
// running, failed and waiting ones do not.
func TestPhasedSamplerHandsOverAfterStartup(t *testing.T) {
	p := &phased{startup: constSampler(1), tpe: constSampler(2), after: 2}
	dist := goptuna.CategoricalDistribution{Choices: []string{"a", "b", "c"}}
	complete := goptuna.FrozenTrial{State: goptuna.TrialStateComplete, Value: 3}
	pruned := goptuna.FrozenTrial{State: goptuna.TrialStatePruned, IntermediateValues: map[int]float64{0: 2}}
	others := []goptuna.FrozenTrial{{State: goptuna.TrialStateRunning}, {State: goptuna.TrialStateFail},
		{State: goptuna.TrialStateWaiting}, {State: goptuna.TrialStatePruned}}
	for _, c := range []struct {
		trials []goptuna.FrozenTrial
		want   float64
	}{
		{nil, 1},
		{others, 1},
		{append([]goptuna.FrozenTrial{complete}, others...), 1},
		{append([]goptuna.FrozenTrial{complete, pruned}, others...), 2},
		{[]goptuna.FrozenTrial{complete, complete, complete}, 2},
	} {
		got, err := p.Sample(History{Trials: c.trials}, goptuna.FrozenTrial{}, "x", dist)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%d trials (%v): sampler %v, want %v", len(c.trials), states(c.trials), got, c.want)
		}
	}
}

func states(ts []goptuna.FrozenTrial) []goptuna.TrialState {
	var out []goptuna.TrialState
	for _, t := range ts {
		out = append(out, t.State)
	}
	return out
}

// An unknown sampler is named, with the known ones; the CLI flag is cmd's to name (tuner also serves searchq).
func TestUnknownSamplerError(t *testing.T) {
	_, err := New("bayes", 1, 0)
	if err == nil || !strings.Contains(err.Error(), `"bayes"`) || !strings.Contains(err.Error(), "tpe, random, grid") || strings.Contains(err.Error(), "--") {
		t.Errorf("New(bayes): %v, want the name and the known samplers, and no CLI flag", err)
	}
}

// goptuna's numeric TPE, which the TPE sampler hands wide ranges to, reads the history it is given and
// maximises: after trials whose value grows with f, it proposes high f far more often than low f.
func TestGoptunaTPEReadsTheGivenHistory(t *testing.T) {
	s, err := newGoptunaSampler(tpe.NewSampler(tpe.SamplerOptionSeed(1), tpe.SamplerOptionNumberOfStartupTrials(0)))
	if err != nil {
		t.Fatal(err)
	}
	dist := goptuna.UniformDistribution{Low: 0, High: 1}
	var h History
	for i := 0; i < 30; i++ {
		f := float64(i) / 29
		h.Trials = append(h.Trials, goptuna.FrozenTrial{ID: i, Number: i, State: goptuna.TrialStateComplete, Value: 100 * f,
			InternalParams: map[string]float64{"f": f}, Distributions: map[string]interface{}{"f": dist}})
	}
	high := 0
	const draws = 200
	for i := 0; i < draws; i++ {
		v, err := s.Sample(h, goptuna.FrozenTrial{Number: 30}, "f", dist)
		if err != nil {
			t.Fatal(err)
		}
		if v < 0 || v > 1 {
			t.Fatalf("f = %v is off its domain", v)
		}
		if v > 0.5 {
			high++
		}
	}
	if high < draws*3/4 {
		t.Errorf("%d of %d proposals above f=0.5 after trials that grow with f, want most (is the study maximising?)", high, draws)
	}
}

// A Draw takes a queued trial's values where they are on the parameter's domain, draws the others, records
// every value with its distribution in order, and refuses a parameter drawn twice.
func TestDrawTakesFixedValuesOnTheirDomain(t *testing.T) {
	d := NewDraw(constSampler(1), History{}, goptuna.FrozenTrial{}, map[string]float64{"x": 2, "k": 99})
	x, err := d.SuggestCategorical("x", []string{"a", "b", "c"})
	if err != nil || x != "c" {
		t.Errorf("x = %q, %v; want c, the fixed value", x, err)
	}
	k, err := d.SuggestInt("k", 1, 5)
	if err != nil || k != 1 {
		t.Errorf("k = %d, %v; want 1 from the sampler (the fixed 99 is off the domain)", k, err)
	}
	if _, err := d.SuggestInt("k", 1, 5); err == nil {
		t.Error("a parameter drawn twice was accepted")
	}
	if strings.Join(d.Names, ",") != "x,k" || d.Values["x"] != 2 || d.Values["k"] != 1 ||
		d.Dists["k"] != (goptuna.IntUniformDistribution{Low: 1, High: 5}) {
		t.Errorf("recorded %v %v %v", d.Names, d.Values, d.Dists)
	}
}
