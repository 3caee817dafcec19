package searchq

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Summary is one sampler's results over its seeds.
type Summary struct {
	Sampler string
	Runs    int
	// Fractions of the optimum reached by the best pick: quartiles and extremes.
	Median, Q1, Q3, Min, Max float64
	// FoundMedian is the median of the best noise-free fraction among a run's trials (see RunResult.Found).
	FoundMedian float64
	// ReachedMedian is the median number of counted trials to reach Threshold, with runs that never reached it
	// counted as never (+Inf): then the median itself may be +Inf.
	ReachedMedian float64
	Never         int
	// MeanDuplicates is the mean number of proposals that repeated a measured config (free, not counted).
	MeanDuplicates float64
	// AtThreshold counts runs whose final pick is at least Threshold of the optimum.
	AtThreshold int
}

// Summarize groups results by sampler, in order of first appearance.
func Summarize(results []RunResult) []Summary {
	var order []string
	by := map[string][]RunResult{}
	for _, r := range results {
		if by[r.Sampler] == nil {
			order = append(order, r.Sampler)
		}
		by[r.Sampler] = append(by[r.Sampler], r)
	}
	var out []Summary
	for _, s := range order {
		rs := by[s]
		var fr, reach, found []float64
		sum := Summary{Sampler: s, Runs: len(rs)}
		dups := 0
		for _, r := range rs {
			fr = append(fr, r.Fraction)
			found = append(found, r.Found)
			if r.Fraction >= Threshold {
				sum.AtThreshold++
			}
			if r.ReachedAt == 0 {
				sum.Never++
				reach = append(reach, math.Inf(1))
			} else {
				reach = append(reach, float64(r.ReachedAt))
			}
			dups += r.Duplicates
		}
		sort.Float64s(fr)
		sort.Float64s(reach)
		sort.Float64s(found)
		sum.FoundMedian = Quantile(found, 0.5)
		sum.Median, sum.Q1, sum.Q3 = Quantile(fr, 0.5), Quantile(fr, 0.25), Quantile(fr, 0.75)
		sum.Min, sum.Max = fr[0], fr[len(fr)-1]
		sum.ReachedMedian = Quantile(reach, 0.5)
		sum.MeanDuplicates = float64(dups) / float64(len(rs))
		out = append(out, sum)
	}
	return out
}

// Quantile is the q-quantile of sorted xs with linear interpolation between order statistics (R's type 7); an
// infinite neighbour makes it infinite.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	h := q * float64(len(xs)-1)
	lo := int(math.Floor(h))
	hi := int(math.Ceil(h))
	if lo == hi || xs[lo] == xs[hi] {
		return xs[lo]
	}
	if math.IsInf(xs[hi], 1) {
		return math.Inf(1)
	}
	return xs[lo] + (h-float64(lo))*(xs[hi]-xs[lo])
}

// Markdown writes the summary table.
func Markdown(w io.Writer, sums []Summary, optimum float64, trials int) {
	fmt.Fprintf(w, "| sampler | runs | best pick, median | IQR | min–max | picks ≥ %.0f%% | trials to %.0f%%, median | never reached %.0f%% | best evaluated, median | duplicates, mean |\n",
		100*Threshold, 100*Threshold, 100*Threshold)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range sums {
		fmt.Fprintf(w, "| %s | %d | %s | %s–%s | %s–%s | %d/%d | %s | %d/%d | %s | %.1f |\n", s.Sampler, s.Runs,
			pct(s.Median), pct(s.Q1), pct(s.Q3), pct(s.Min), pct(s.Max), s.AtThreshold, s.Runs,
			trialsText(s.ReachedMedian, trials), s.Never, s.Runs, pct(s.FoundMedian), s.MeanDuplicates)
	}
	fmt.Fprintf(w, "\nPercentages are noise-free throughput as a fraction of the simulator's optimum, %.0f tok/s. The pick is what\n"+
		"`autotune best` would export after %d counted trials: the config with the best mean measured (noisy) throughput,\n"+
		"feasible on every measurement (confirmation repeats give the top configs a second one); \"trials to\n"+
		"95%%\" counts trials (baseline and known-good points included) until the pick was first >= 95%%; \"best evaluated\" is the\n"+
		"best noise-free value among all of a run's trials, whether or not the noisy measurement picked it. Duplicates\n"+
		"(proposals of an already measured command line) are free and not counted.\n", optimum, trials)
}

// RunsMarkdown writes one line per run.
func RunsMarkdown(w io.Writer, results []RunResult) {
	fmt.Fprintln(w, "| sampler | seed | best found | its measured tok/s | noise-free tok/s | trials to 95% | duplicates | best flags |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		meas, truth, flags := 0.0, 0.0, "(none feasible)"
		if r.Best >= 0 {
			b := r.Trials[r.Best]
			meas, truth, flags = b.Measured, b.True.Score(), "`"+strings.Join(b.Args, " ")+"`"
			if len(b.Args) == 0 {
				flags = "(vLLM defaults)"
			}
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.0f | %.0f | %s | %d | %s |\n", r.Sampler, r.Seed, pct(r.Fraction), meas, truth,
			reached(r.ReachedAt), r.Duplicates, flags)
	}
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func trialsText(v float64, trials int) string {
	if math.IsInf(v, 1) {
		return fmt.Sprintf("> %d", trials)
	}
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
