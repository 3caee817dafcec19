package tuner

import (
	"fmt"
	"math"
	"sort"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/sampler"
	"github.com/autotune/autotune/space"
	"github.com/autotune/autotune/store"
)

// maxDraws is how many proposals one trial may draw in memory before it settles for a measured config: the
// sampler's own draws first (exploreAfterDuplicates of them), then uniform ones. A draw costs no database
// write, so a proposal that repeats a measured or running config is drawn again instead of being recorded.
const maxDraws = 24

// proposal is a config drawn in memory, with the internal values goptuna stores for it.
type proposal struct {
	cfg  space.Config
	draw *sampler.Draw
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

// history reads the study once for a proposal: its trials as stored, and the history the samplers see, with
// running trials shown as complete at the worst value seen so far (the constant liar), so that TPE steers other
// workers away from configs that are being measured instead of proposing them again.
func (t *Tuner) history() ([]goptuna.FrozenTrial, sampler.History, error) {
	trials, err := t.trials.GoptunaTrials(t.studyID)
	if err != nil {
		return nil, sampler.History{}, fmt.Errorf("read study: %w", err)
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
	return trials, sampler.History{Trials: shown}, nil
}

// choose picks the next trial's config without writing anything: the first queued trial whose config is not
// running elsewhere, else a fresh proposal that is neither measured nor running.
func (t *Tuner) choose(useExplorer bool) (choice, error) {
	trials, h, err := t.history()
	if err != nil {
		return choice{}, err
	}
	measured, err := t.db.Measured(t.studyID)
	if err != nil {
		return choice{}, err
	}
	running, err := t.db.Running(t.studyID)
	if err != nil {
		return choice{}, err
	}

	type queued struct {
		ft goptuna.FrozenTrial
		q  store.Queued
	}
	var waiting []queued
	for _, ft := range trials {
		if ft.State == goptuna.TrialStateWaiting {
			q, err := store.QueuedOf(ft)
			if err != nil {
				return choice{}, err
			}
			waiting = append(waiting, queued{ft, q})
		}
	}
	// Retries of interrupted or failed trials (and the baseline) go first, so that a resumed study runs the
	// config it lost before anything else; then the rest in the order they were queued.
	first := func(w queued) bool { return w.q.Label == report.BaselineLabel || report.IsRetry(w.q.Label) }
	sort.SliceStable(waiting, func(i, j int) bool {
		if first(waiting[i]) != first(waiting[j]) {
			return first(waiting[i])
		}
		return waiting[i].ft.ID < waiting[j].ft.ID
	})
	busy := false
	for _, w := range waiting {
		ft, label := w.ft, w.q.Label
		p, err := t.draw(t.sampler, h, ft, w.q.Params, label)
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

	stub := goptuna.FrozenTrial{ID: -1, StudyID: t.studyID, Number: len(trials), State: goptuna.TrialStateRunning,
		InternalParams: map[string]float64{}, Params: map[string]interface{}{}, Distributions: map[string]interface{}{},
		UserAttrs: map[string]string{}, SystemAttrs: map[string]string{}, IntermediateValues: map[int]float64{}}
	var last *proposal
	for i := 0; i < maxDraws; i++ {
		s := t.sampler
		if useExplorer || i >= exploreAfterDuplicates {
			s = t.explorer
		}
		p, err := t.draw(s, h, stub, nil, "")
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

// draw samples one config from s, taking the values in fixed (an enqueued trial's) where they fit.
func (t *Tuner) draw(s sampler.Sampler, h sampler.History, ft goptuna.FrozenTrial, fixed map[string]float64, label string) (proposal, error) {
	d := sampler.NewDraw(s, h, ft, fixed)
	if label == report.BaselineLabel {
		// The baseline runs vLLM's defaults exactly; its params (the space's default values, when the space
		// can express them) are registered so that TPE learns from it.
		cfg := t.space.Baseline()
		if len(fixed) > 0 {
			if sampled, err := t.space.Sample(d); err == nil {
				cfg.Params = sampled.Params
			}
		}
		cfg.Label = label
		return proposal{cfg: cfg, draw: d}, nil
	}
	cfg, err := t.space.Sample(d)
	if err != nil {
		return proposal{}, err
	}
	if label != "" {
		cfg.Label = label
	}
	return proposal{cfg: cfg, draw: d}, nil
}

// params lists the proposal's values as goptuna stores them, in the order they were drawn.
func (p proposal) params() []store.Param {
	out := make([]store.Param, len(p.draw.Names))
	for i, name := range p.draw.Names {
		out[i] = store.Param{Name: name, Value: p.draw.Values[name], Distribution: p.draw.Dists[name]}
	}
	return out
}
