package tuner

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/space"
	"github.com/autotune/autotune/store"
)

// maxDraws is how many proposals one trial may draw in memory before it settles for a measured config: the
// sampler's own draws first (exploreAfterDuplicates of them), then uniform ones. A draw costs no database
// write, so a proposal that repeats a measured or running config is drawn again instead of being recorded.
const maxDraws = 24

// proposal is a config drawn in memory, with the internal values goptuna stores for it.
type proposal struct {
	cfg    space.Config
	names  []string // in the order they were drawn
	values map[string]float64
	dists  map[string]interface{}
}

// choice is what the next trial runs: a queued trial (waitingID > 0) or a new proposal, possibly a duplicate
// of a measured config when every draw was one.
type choice struct {
	waitingID int
	label     string
	prop      proposal
	dup       *store.Measurement
	// busy is set when nothing can run now: every queued config and every draw is running on another worker.
	busy bool
}

// view is the study as the sampler sees it for one proposal: read once, with running trials shown as complete
// at the worst value seen so far (the constant liar), so that TPE steers other workers away from configs that
// are being measured instead of proposing them again.
type view struct {
	goptuna.Storage
	trials []goptuna.FrozenTrial
}

// GetAllTrials implements goptuna.Storage.
func (v view) GetAllTrials(int) ([]goptuna.FrozenTrial, error) { return v.trials, nil }

// snapshot reads the study once for a proposal and makes the study's samplers see the constant-liar view until
// restore is called. Each worker has its own goptuna.Study, so no one else sees the view.
func (t *Tuner) snapshot() (trials []goptuna.FrozenTrial, restore func(), err error) {
	trials, err = t.study.GetTrials()
	if err != nil {
		return nil, nil, fmt.Errorf("read study: %w", err)
	}
	worst, any := math.Inf(1), false
	for _, ft := range trials {
		if ft.State == goptuna.TrialStateComplete {
			worst, any = math.Min(worst, ft.Value), true
		}
	}
	shown := make([]goptuna.FrozenTrial, len(trials))
	for i, ft := range trials {
		if any && ft.State == goptuna.TrialStateRunning && len(ft.InternalParams) > 0 {
			ft.State, ft.Value = goptuna.TrialStateComplete, worst
		}
		shown[i] = ft
	}
	t.study.Storage = view{Storage: t.db.Storage, trials: shown}
	return trials, func() { t.study.Storage = t.db.Storage }, nil
}

// choose picks the next trial's config without writing anything: the first queued trial whose config is not
// running elsewhere, else a fresh proposal that is neither measured nor running.
func (t *Tuner) choose(useExplorer bool) (choice, error) {
	trials, restore, err := t.snapshot()
	if err != nil {
		return choice{}, err
	}
	defer restore()
	study := t.study
	measured, err := t.db.Measured(t.study.ID)
	if err != nil {
		return choice{}, err
	}
	running, err := t.db.Running(t.study.ID)
	if err != nil {
		return choice{}, err
	}

	var waiting []goptuna.FrozenTrial
	for _, ft := range trials {
		if ft.State == goptuna.TrialStateWaiting {
			waiting = append(waiting, ft)
		}
	}
	// Retries of interrupted or failed trials (and the baseline) go first, so that a resumed study runs the
	// config it lost before anything else; then the rest in the order they were queued.
	first := func(ft goptuna.FrozenTrial) bool {
		l := ft.SystemAttrs[report.LabelAttr]
		return l == "baseline" || report.IsRetry(l)
	}
	sort.SliceStable(waiting, func(i, j int) bool {
		if first(waiting[i]) != first(waiting[j]) {
			return first(waiting[i])
		}
		return waiting[i].ID < waiting[j].ID
	})
	busy := false
	for _, ft := range waiting {
		fixed := map[string]float64{}
		if js := ft.SystemAttrs["fixed_params"]; js != "" {
			if err := json.Unmarshal([]byte(js), &fixed); err != nil {
				return choice{}, fmt.Errorf("queued trial %d: %w", ft.Number, err)
			}
		}
		label := ft.SystemAttrs[report.LabelAttr]
		p, err := t.draw(study, t.sampler, ft, fixed, label)
		if err != nil {
			return choice{}, fmt.Errorf("queued trial %d: %w", ft.Number, err)
		}
		if _, ok := running[p.cfg.Key()]; ok {
			busy = true // leave it queued: the same flags are being measured right now
			continue
		}
		c := choice{waitingID: ft.ID, label: label, prop: p}
		if m, ok := measured[p.cfg.Key()]; ok && !report.IsRepeat(label) {
			c.dup = &m
		}
		return c, nil
	}

	stub := goptuna.FrozenTrial{ID: -1, StudyID: t.study.ID, Number: len(trials), State: goptuna.TrialStateRunning,
		InternalParams: map[string]float64{}, Params: map[string]interface{}{}, Distributions: map[string]interface{}{},
		UserAttrs: map[string]string{}, SystemAttrs: map[string]string{}, IntermediateValues: map[int]float64{}}
	var last *proposal
	for i := 0; i < maxDraws; i++ {
		sampler := t.sampler
		if useExplorer || i >= exploreAfterDuplicates {
			sampler = t.explorer
		}
		p, err := t.draw(study, sampler, stub, nil, "")
		if err != nil {
			return choice{}, fmt.Errorf("sample a config: %w", err)
		}
		key := p.cfg.Key()
		if _, ok := running[key]; ok {
			busy = true
			continue
		}
		if _, ok := measured[key]; ok {
			last = &p
			continue
		}
		return choice{prop: p}, nil
	}
	if last != nil {
		m := measured[last.cfg.Key()]
		return choice{prop: *last, dup: &m}, nil
	}
	return choice{busy: busy}, nil
}

// draw samples one config from sampler, taking the values in fixed (an enqueued trial's) where they fit.
func (t *Tuner) draw(study *goptuna.Study, sampler goptuna.Sampler, ft goptuna.FrozenTrial, fixed map[string]float64, label string) (proposal, error) {
	// Every draw gets an ID of its own: the samplers keep the study's trials per trial ID (trialCache), and a
	// draw must see the study as it is now, not as an earlier draw of the same queued trial saw it.
	t.draws++
	ft.ID = -t.draws
	s := &memSuggester{study: study, sampler: sampler, trial: ft, fixed: fixed,
		p: proposal{values: map[string]float64{}, dists: map[string]interface{}{}}}
	if label == "baseline" {
		// The baseline runs vLLM's defaults exactly; its params (the space's default values, when the space
		// can express them) are registered so that TPE learns from it.
		cfg := t.space.Baseline()
		if len(fixed) > 0 {
			if sampled, err := t.space.Sample(s); err == nil {
				cfg.Params = sampled.Params
			}
		}
		cfg.Label = label
		s.p.cfg = cfg
		return s.p, nil
	}
	cfg, err := t.space.Sample(s)
	if err != nil {
		return proposal{}, err
	}
	if label != "" {
		cfg.Label = label
	}
	s.p.cfg = cfg
	return s.p, nil
}

// memSuggester implements space.Suggester on a sampler directly, in memory: nothing reaches the storage until
// the config is chosen.
type memSuggester struct {
	study   *goptuna.Study
	sampler goptuna.Sampler
	trial   goptuna.FrozenTrial
	fixed   map[string]float64
	p       proposal
}

func (m *memSuggester) suggest(name string, dist interface{}) (float64, error) {
	if _, dup := m.p.values[name]; dup {
		return 0, fmt.Errorf("parameter %q drawn twice", name)
	}
	v, ok := m.fixed[name]
	if !ok || !distContains(dist, v) {
		var err error
		if v, err = m.sampler.Sample(m.study, m.trial, name, dist); err != nil {
			return 0, err
		}
	}
	m.p.names = append(m.p.names, name)
	m.p.values[name] = v
	m.p.dists[name] = dist
	return v, nil
}

func distContains(dist interface{}, v float64) bool {
	switch d := dist.(type) {
	case goptuna.UniformDistribution:
		return d.Contains(v)
	case goptuna.LogUniformDistribution:
		return d.Contains(v)
	case goptuna.DiscreteUniformDistribution:
		return d.Contains(v)
	case goptuna.IntUniformDistribution:
		return d.Contains(v)
	case goptuna.StepIntUniformDistribution:
		return d.Contains(v)
	case goptuna.CategoricalDistribution:
		return d.Contains(v)
	}
	return false
}

var errLowHigh = errors.New("'low' must be smaller than or equal to the 'high'")

func (m *memSuggester) SuggestCategorical(name string, choices []string) (string, error) {
	if len(choices) == 0 {
		return "", errors.New("'choices' must contains one or more elements")
	}
	v, err := m.suggest(name, goptuna.CategoricalDistribution{Choices: choices})
	if err != nil {
		return "", err
	}
	return choices[int(v)], nil
}

func (m *memSuggester) SuggestInt(name string, low, high int) (int, error) {
	if low > high {
		return 0, errLowHigh
	}
	d := goptuna.IntUniformDistribution{Low: low, High: high}
	v, err := m.suggest(name, d)
	if err != nil {
		return 0, err
	}
	return d.ToExternalRepr(v).(int), nil
}

func (m *memSuggester) SuggestStepInt(name string, low, high, step int) (int, error) {
	if low > high {
		return 0, errLowHigh
	}
	if step <= 0 {
		return 0, errors.New("'step' must be larger than 0")
	}
	d := goptuna.StepIntUniformDistribution{Low: low, High: high, Step: step}
	v, err := m.suggest(name, d)
	if err != nil {
		return 0, err
	}
	return d.ToExternalRepr(v).(int), nil
}

func (m *memSuggester) SuggestFloat(name string, low, high float64) (float64, error) {
	if low > high {
		return 0, errLowHigh
	}
	return m.suggest(name, goptuna.UniformDistribution{Low: low, High: high})
}

func (m *memSuggester) SuggestDiscreteFloat(name string, low, high, q float64) (float64, error) {
	if low > high {
		return 0, errLowHigh
	}
	d := goptuna.DiscreteUniformDistribution{Low: low, High: high, Q: q}
	v, err := m.suggest(name, d)
	if err != nil {
		return 0, err
	}
	return d.ToExternalRepr(v).(float64), nil
}

func (m *memSuggester) SuggestLogFloat(name string, low, high float64) (float64, error) {
	if low > high {
		return 0, errLowHigh
	}
	return m.suggest(name, goptuna.LogUniformDistribution{Low: low, High: high})
}

// params lists the proposal's values as goptuna stores them, in the order they were drawn.
func (p proposal) params() []store.Param {
	out := make([]store.Param, len(p.names))
	for i, name := range p.names {
		out[i] = store.Param{Name: name, Value: p.values[name], Distribution: p.dists[name]}
	}
	return out
}
