package searchq

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/tuner"
)

// EnsembleOptions configure RunEnsemble.
type EnsembleOptions struct {
	Members []Member
	Opts    Options // seeds, trials, samplers, workers, ... of every member's experiment
	// Cache holds the members' optima; members missing from it (or stale) are computed and added.
	Cache *EnsembleOptima
	// OptimaOnly stops after the members' optima.
	OptimaOnly bool
}

// MemberResult is one member's optimum and the studies run on it.
type MemberResult struct {
	Member  Member
	Optimum MemberOptimum
	Runs    []RunResult
	// Beaten is the best noise-free value any study evaluated above the cached optimum (0 when none did): the
	// optimum search is then shown to be a lower bound, and the fractions of that member are over 1 at most by
	// Beaten/Optimum.Value.
	Beaten float64
}

// RunEnsemble runs the experiment on every member: its optimum (from the cache or FastOptimum), then every
// (sampler, seed) study on its own landscape and space.
func RunEnsemble(ctx context.Context, o EnsembleOptions) ([]MemberResult, error) {
	progress := o.Opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	var out []MemberResult
	for _, m := range o.Members {
		sp, err := m.Space()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name(), err)
		}
		land, pk := m.Landscape(), PackagesOf(m.Kind)
		ev := NewEvaluatorOn(runner.DefaultWorkload(), tuner.DefaultSLA(), land, pk)
		t0 := time.Now()
		mo, fresh, err := MemberOptimumOf(ctx, o.Cache, m, sp, ev, o.Opts.Workers)
		if err != nil {
			return nil, err
		}
		if fresh {
			fmt.Fprintf(progress, "ensemble: %s optimum %.0f tok/s (%d configs, %s)\n", m.Name(), mo.Value, mo.Evaluated, time.Since(t0).Round(time.Second))
		}
		if o.OptimaOnly {
			out = append(out, MemberResult{Member: m, Optimum: mo})
			continue
		}
		opts := o.Opts
		opts.Progress = io.Discard
		x := &Experiment{Space: sp, Optimum: mo.Value, Eval: ev, Opts: opts, Land: land, Packages: pk, GPU: land.GPU.Name}
		t1 := time.Now()
		runs, err := x.Run(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name(), err)
		}
		mr := MemberResult{Member: m, Optimum: mo, Runs: runs}
		for _, r := range runs {
			for _, t := range r.Trials {
				if v := t.True.Score(); v > mo.Value && v > mr.Beaten {
					mr.Beaten = v
				}
			}
		}
		var parts []string
		for _, s := range Summarize(runs) {
			parts = append(parts, fmt.Sprintf("%s %.1f%%", s.Sampler, 100*s.Median))
		}
		fmt.Fprintf(progress, "ensemble: %s (%s) optimum %.0f: median pick %s (%s)\n", m.Name(), heldOut(m), mo.Value,
			strings.Join(parts, ", "), time.Since(t1).Round(time.Second))
		out = append(out, mr)
	}
	return out, nil
}

func heldOut(m Member) string {
	if m.HeldOut {
		return "test"
	}
	return "train"
}

// EnsembleRow is one sampler's results over a set of members × seeds.
type EnsembleRow struct {
	Sampler, Set string
	Runs         int
	Median, P10  float64 // of pick/optimum
	AtThreshold  int     // picks >= Threshold
	// TrialsTo95 and GPUTo95 are medians over runs, a run that never reached Threshold counting as +Inf.
	TrialsTo95, GPUTo95 float64
	GPUPerStudy         float64 // mean simulated GPU seconds of a whole study
}

// SummarizeEnsemble groups the runs by sampler, over the train members, the held-out (test) members and all.
func SummarizeEnsemble(results []MemberResult) []EnsembleRow {
	type key struct{ sampler, set string }
	by := map[key][]RunResult{}
	var samplers []string
	for _, mr := range results {
		for _, r := range mr.Runs {
			if !contains(samplers, r.Sampler) {
				samplers = append(samplers, r.Sampler)
			}
			by[key{r.Sampler, heldOut(mr.Member)}] = append(by[key{r.Sampler, heldOut(mr.Member)}], r)
			by[key{r.Sampler, "all"}] = append(by[key{r.Sampler, "all"}], r)
		}
	}
	var out []EnsembleRow
	for _, set := range []string{"train", "test", "all"} {
		for _, s := range samplers {
			rs := by[key{s, set}]
			if len(rs) == 0 {
				continue
			}
			row := EnsembleRow{Sampler: s, Set: set, Runs: len(rs)}
			var fr, tr, gpu []float64
			for _, r := range rs {
				fr = append(fr, r.Fraction)
				if r.Fraction >= Threshold {
					row.AtThreshold++
				}
				if r.ReachedAt == 0 {
					tr, gpu = append(tr, math.Inf(1)), append(gpu, math.Inf(1))
				} else {
					tr, gpu = append(tr, float64(r.ReachedAt)), append(gpu, r.GPUTo95)
				}
				row.GPUPerStudy += r.GPUSeconds / float64(len(rs))
			}
			sort.Float64s(fr)
			sort.Float64s(tr)
			sort.Float64s(gpu)
			row.Median, row.P10 = Quantile(fr, 0.5), Quantile(fr, 0.1)
			row.TrialsTo95, row.GPUTo95 = Quantile(tr, 0.5), Quantile(gpu, 0.5)
			out = append(out, row)
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// EnsembleMarkdown prints the ensemble's table.
func EnsembleMarkdown(w io.Writer, rows []EnsembleRow, trials int) {
	fmt.Fprintln(w, "| members | sampler | runs | pick, median | pick, P10 | picks ≥ 95% | trials to 95%, median | GPU time to 95%, median | GPU time per study, mean |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %d | %.1f%% | %.1f%% | %d/%d | %s | %s | %s |\n", r.Set, r.Sampler, r.Runs,
			100*r.Median, 100*r.P10, r.AtThreshold, r.Runs, trialsCell(r.TrialsTo95, trials), hoursCell(r.GPUTo95), hoursCell(r.GPUPerStudy))
	}
}

func trialsCell(v float64, trials int) string {
	if math.IsInf(v, 1) {
		return fmt.Sprintf("> %d", trials)
	}
	return fmt.Sprintf("%.1f", v)
}

func hoursCell(sec float64) string {
	if math.IsInf(sec, 1) {
		return "never"
	}
	return fmt.Sprintf("%.2f h", sec/3600)
}

// MembersMarkdown prints one line per member: its optimum and each sampler's median pick.
func MembersMarkdown(w io.Writer, results []MemberResult) {
	fmt.Fprintln(w, "| member | set | optimum tok/s | optimum's flags | median pick per sampler | beaten by |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, mr := range results {
		var parts []string
		for _, s := range Summarize(mr.Runs) {
			parts = append(parts, fmt.Sprintf("%s %.1f%%", s.Sampler, 100*s.Median))
		}
		beaten := "-"
		if mr.Beaten > 0 {
			beaten = fmt.Sprintf("+%.2f%%", 100*(mr.Beaten/mr.Optimum.Value-1))
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | `%s` | %s | %s |\n", mr.Member.Name(), heldOut(mr.Member), mr.Optimum.Value,
			strings.Join(mr.Optimum.Args, " "), strings.Join(parts, ", "), beaten)
	}
}

// RangesMarkdown prints the ranges table of RESULTS.md.
func RangesMarkdown(w io.Writer) {
	fmt.Fprintln(w, "| constant | range | calibrated | unit | what it sets | why it is uncertain |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range Ranges {
		fmt.Fprintf(w, "| `%s` | %.4g – %.4g | %.4g | %s | %s | %s |\n", r.Name, r.Lo, r.Hi, r.Default, r.Unit, r.What, r.Why)
	}
}
