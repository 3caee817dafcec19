package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/autotune/autotune/store"
)

// HTMLOptions are what the page says beyond the study.
type HTMLOptions struct {
	// ExportHint is the command that writes the best config's script, as the page shows it.
	ExportHint string
	// Generated is when the page was written.
	Generated time.Time
	// SimulatedNote is shown at the top of a simulated study's page.
	SimulatedNote string
	// Refresh, when > 0, makes the page reload itself this often: `run --report` rewrites it after every trial.
	Refresh time.Duration
}

// WriteHTML writes the study as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched
// when it is viewed. It shows the optimization history, throughput against both P99 latencies with the SLA
// limits, each parameter's effect and an importance ranking, failure classes, the best config against the
// baseline with all of its runs, the exported command, and every trial.
func WriteHTML(w io.Writer, v *View, o HTMLOptions) error {
	tpotMax, ttftMax := v.Study.Limits()
	d := htmlData{V: v, O: o, TPOTMax: tpotMax, TTFTMax: ttftMax, Importances: v.Importances(), Failures: v.Failures()}
	d.Counts = outcomeCounts(v)
	d.History = historyChart(v)
	d.TPOTChart = latencyChart(v, "P99 TPOT (ms)", tpotMax, func(t Trial) *float64 { return t.P99TPOTms })
	d.TTFTChart = latencyChart(v, "P99 TTFT (ms)", ttftMax, func(t Trial) *float64 { return t.P99TTFTms })
	if v.Best != nil {
		d.Command = strings.Join(quoteAll(append([]string{"vllm", "serve", modelOf(v, *v.Best)}, v.Best.Args...)), " ")
	}
	for _, imp := range d.Importances {
		top := 0.0
		for _, e := range imp.Values {
			top = max(top, e.Mean)
		}
		d.Effects = append(d.Effects, effectRows(imp, top))
	}
	page, err := pageTemplate.Clone()
	if err != nil {
		return err
	}
	page.Funcs(template.FuncMap{"changes": func(t Trial) string { return strings.Join(v.SortChanges(t.Changes()), " ") }})
	return page.Execute(w, d)
}

type htmlData struct {
	V                *View
	O                HTMLOptions
	TPOTMax, TTFTMax float64
	Counts           []outcomeCount
	History          template.HTML
	TPOTChart        template.HTML
	TTFTChart        template.HTML
	Importances      []Importance
	Effects          []effect
	Failures         []FailureClass
	Command          string
}

type outcomeCount struct {
	Outcome, Color string
	N              int
}

type effect struct {
	Param string
	Score float64
	Rows  []effectRow
}

type effectRow struct {
	ValueEffect
	Width float64 // percent of the widest bar
}

func effectRows(imp Importance, top float64) effect {
	e := effect{Param: imp.Param, Score: imp.Score}
	for _, v := range imp.Values {
		w := 0.0
		if top > 0 {
			w = 100 * v.Mean / top
		}
		e.Rows = append(e.Rows, effectRow{ValueEffect: v, Width: w})
	}
	return e
}

func outcomeCounts(v *View) []outcomeCount {
	n := map[string]int{}
	for _, t := range v.Trials {
		n[t.Outcome]++
	}
	var out []outcomeCount
	for _, o := range []string{Feasible, Infeasible, Crashed, Refused, Pruned, Duplicate, Interrupted, Harness, Running, Queued} {
		if n[o] > 0 {
			out = append(out, outcomeCount{Outcome: o, Color: outcomeColors[o], N: n[o]})
		}
	}
	return out
}

func modelOf(v *View, t Trial) string {
	if t.Model != "" {
		return t.Model
	}
	return v.Study.Model
}

func quoteAll(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = shellWord(a)
	}
	return out
}

func describe(t Trial) string {
	s := fmt.Sprintf("#%d %s", t.Number, t.Outcome)
	if t.OutputThroughput != nil {
		s += ": " + Round(*t.OutputThroughput) + " tok/s"
	}
	if t.P99TPOTms != nil && t.P99TTFTms != nil {
		s += fmt.Sprintf(", P99 TPOT %s ms, P99 TTFT %s ms", Round(*t.P99TPOTms), Round(*t.P99TTFTms))
	}
	if t.Failure != "" {
		s += " (" + t.Failure + ")"
	}
	if ch := t.Changes(); len(ch) > 0 {
		s += "\n" + strings.Join(ch, " ")
	} else if t.Label == BaselineLabel {
		s += "\nvLLM defaults"
	}
	return s
}

// historyChart plots every trial's throughput by trial number and outcome, the best so far (the best config by
// report.Best over the trials finished until then) and the baseline.
func historyChart(v *View) template.HTML {
	maxN, maxY := 1.0, 1.0
	for _, t := range v.Trials {
		maxN = max(maxN, float64(t.Number))
		if t.OutputThroughput != nil {
			maxY = max(maxY, *t.OutputThroughput)
		}
	}
	p := newPlot(900, 340, -0.5, maxN+0.5, 0, maxY*1.1)
	p.axes("trial", "output throughput (tok/s)")
	if v.Baseline != nil {
		p.hline(*v.Baseline.OutputThroughput, "#1565c0", "baseline "+Round(*v.Baseline.OutputThroughput)+" tok/s")
	}
	var done []store.Trial
	var xs, ys []float64
	for _, t := range v.Trials {
		if t.Finished && t.Measured() {
			done = append(done, t.Record)
			if c, ok := Best(done); ok && (len(ys) == 0 || c.Mean != ys[len(ys)-1]) {
				xs, ys = append(xs, float64(t.Number)), append(ys, c.Mean)
			}
		}
	}
	p.steps(xs, ys, "#2e7d32")
	for _, t := range v.Trials {
		if t.OutputThroughput != nil {
			p.point(float64(t.Number), *t.OutputThroughput, t.Outcome, describe(t), v.Best != nil && isBestRun(v.Best, t.Number))
		} else if t.Outcome != Queued && t.Outcome != Running {
			p.cross(float64(t.Number), t.Outcome, describe(t))
		}
	}
	return p.html()
}

func isBestRun(best *Trial, n int) bool {
	if best.Number == n {
		return true
	}
	for _, m := range best.Measurements {
		if m.Number == n {
			return true
		}
	}
	return false
}

// latencyChart plots throughput against one P99 latency for every measured trial, with the SLA limit.
func latencyChart(v *View, label string, limit float64, latency func(Trial) *float64) template.HTML {
	maxX, maxY := limit, 1.0
	type pt struct {
		x, y float64
		t    Trial
	}
	var pts []pt
	for _, t := range v.Trials {
		l := latency(t)
		if t.OutputThroughput == nil || l == nil || t.DuplicateOf != nil {
			continue
		}
		pts = append(pts, pt{*l, *t.OutputThroughput, t})
		maxY = max(maxY, *t.OutputThroughput)
		maxX = max(maxX, *l)
	}
	// A crash under load can report a huge P99: keep the chart readable by capping the axis at 3× the limit.
	if limit > 0 && maxX > 3*limit {
		maxX = 3 * limit
	}
	p := newPlot(440, 320, 0, maxX*1.05, 0, maxY*1.1)
	p.axes(label, "output throughput (tok/s)")
	if limit > 0 {
		p.vline(limit, "#c62828", "SLA < "+Round(limit))
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].t.Feasible && !pts[j].t.Feasible })
	for _, q := range pts {
		p.point(math.Min(q.x, maxX*1.04), q.y, q.t.Outcome, describe(q.t), v.Best != nil && isBestRun(v.Best, q.t.Number))
	}
	return p.html()
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

func delta(now, then *float64) string {
	if now == nil || then == nil || *then == 0 {
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", (*now-*then) / *then * 100)
}

func num(p *float64) string {
	if p == nil {
		return "-"
	}
	return Round(*p)
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"num": num, "round": Round, "pct": pct, "delta": delta, "color": func(o string) string { return outcomeColors[o] },
	"join": strings.Join, "mulf": func(f float64) float64 { return 200 * f }, "changes": func(t Trial) string { return strings.Join(t.Changes(), " ") },
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") },
	"secs": func(s float64) string { return (time.Duration(s) * time.Second).String() },
	"trialList": func(ns []int) string {
		s := make([]string, len(ns))
		for i, n := range ns {
			s[i] = fmt.Sprintf("#%d", n)
		}
		return strings.Join(s, " ")
	},
}).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>autotune: study {{.V.Study.Name}}</title>
<link rel="icon" href="data:,">
{{if gt .O.Refresh 0}}<meta http-equiv="refresh" content="{{printf "%.0f" .O.Refresh.Seconds}}">{{end}}
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#212121;max-width:960px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e0e0e0;padding-bottom:4px}
.sim{background:#fff3e0;border:1px solid #ef6c00;padding:8px 12px;font-weight:600}
.meta{color:#555}table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 10px 3px 0;text-align:left;vertical-align:top}
th{font-weight:600;border-bottom:1px solid #ccc}td.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font:12.5px ui-monospace,Menlo,Consolas,monospace}pre{background:#f5f5f5;padding:8px 10px;white-space:pre-wrap;word-break:break-all}
.chip{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:5px;vertical-align:baseline}
.legend span{margin-right:14px}.bar{background:#81c784;height:12px;display:inline-block;vertical-align:middle}
.tick{font-size:11px;fill:#555}.label{font-size:12px;fill:#333}.note{font-size:11px}
.row{display:flex;gap:16px;flex-wrap:wrap}.small{font-size:12px;color:#555}
</style></head><body>
<h1>autotune study “{{.V.Study.Name}}”</h1>
<div class="meta">{{.V.Study.Model}} · vLLM {{.V.Study.VLLMVersion}} on {{.V.Study.GPU}} · sampler {{.V.Study.Sampler}}, seed {{.V.Study.Seed}} ·
{{.V.Study.Finished}} finished trials, {{len .V.Trials}} in all · GPU time {{secs .V.Study.GPUSeconds}} · {{.V.Study.DB}}{{if not .O.Generated.IsZero}} · written {{when .O.Generated}}{{end}}</div>
{{if .V.Study.Simulated}}<p class="sim">{{.O.SimulatedNote}}</p>{{end}}
<p>SLA: P99 TPOT &lt; {{round .TPOTMax}} ms, P99 TTFT &lt; {{round .TTFTMax}} ms, every request successful.
Outcomes: <span class="legend">{{range .Counts}}<span><i class="chip" style="background:{{.Color}}"></i>{{.Outcome}} {{.N}}</span>{{end}}</span></p>

<h2>Best config against the baseline</h2>
{{with .V.Best}}
<table><tr><th>metric</th><th>baseline{{with $.V.Baseline}} (#{{.Number}}){{end}}</th><th>best (#{{.Number}}{{if .Measurements}}, mean of {{len .Measurements}} runs{{end}})</th><th>change</th></tr>
<tr><td>output throughput (tok/s)</td><td class="n">{{with $.V.Baseline}}{{num .OutputThroughput}}{{else}}-{{end}}</td><td class="n">{{num .OutputThroughput}}</td><td class="n">{{if $.V.Baseline}}{{delta .OutputThroughput $.V.Baseline.OutputThroughput}}{{end}}</td></tr>
<tr><td>P99 TPOT (ms){{if .Measurements}}, worst run{{end}}</td><td class="n">{{with $.V.Baseline}}{{num .P99TPOTms}}{{else}}-{{end}}</td><td class="n">{{num .P99TPOTms}}</td><td class="n">{{if $.V.Baseline}}{{delta .P99TPOTms $.V.Baseline.P99TPOTms}}{{end}}</td></tr>
<tr><td>P99 TTFT (ms){{if .Measurements}}, worst run{{end}}</td><td class="n">{{with $.V.Baseline}}{{num .P99TTFTms}}{{else}}-{{end}}</td><td class="n">{{num .P99TTFTms}}</td><td class="n">{{if $.V.Baseline}}{{delta .P99TTFTms $.V.Baseline.P99TTFTms}}{{end}}</td></tr>
</table>
{{if .Measurements}}<p>All runs of this config:</p><table><tr><th>trial</th><th>tok/s</th><th>P99 TPOT (ms)</th><th>P99 TTFT (ms)</th></tr>
{{range .Measurements}}<tr><td>#{{.Number}}</td><td class="n">{{round .OutputThroughput}}</td><td class="n">{{num .P99TPOTms}}</td><td class="n">{{num .P99TTFTms}}</td></tr>{{end}}</table>{{end}}
<p>Changes from vLLM's defaults: <code>{{changes .}}</code></p>
<p>The exported script runs:</p><pre>{{$.Command}}</pre>
{{if $.O.ExportHint}}<p class="small">Write it with <code>{{$.O.ExportHint}}</code>.</p>{{end}}
{{else}}<p>No trial has met the SLA yet.</p>{{end}}

<h2>Optimization history</h2>
<p class="small">Every trial by number and outcome (hover for details); trials without a result are crosses on the floor. The green
steps are the best config so far (mean of its runs, feasible on every one), the dashed blue line the baseline, the large dots the
best config's runs.</p>
{{.History}}

<h2>Throughput against latency</h2>
<div class="row">{{.TPOTChart}}{{.TTFTChart}}</div>
<p class="small">Each measured trial; the dashed red line is the SLA limit: a feasible config lies left of both. Latencies beyond 3× the limit are drawn at the edge.</p>

<h2>Parameter importance</h2>
<p class="small">How it is computed: every finished trial scores its feasible throughput (its throughput when it met the SLA, 0 when it
missed it, crashed or was refused). For each parameter the trials are grouped by its value, and the score is the adjusted share of the
score's variance that the grouping explains alone (epsilon-squared of a one-way ANOVA: (SS<sub>between</sub> − (k−1)·MS<sub>within</sub>) / SS<sub>total</sub>,
clamped at 0). It is marginal: parameters the sampler varied together share credit, and interactions are not separated. goptuna has no
importance evaluator and no maintained Go fANOVA exists, so this simple method stands in for Optuna's fANOVA.</p>
<table><tr><th>parameter</th><th>importance</th><th></th></tr>
{{range .Importances}}<tr><td><code>{{.Param}}</code></td><td class="n">{{pct .Score}}</td><td><span class="bar" style="width:{{printf "%.0f" (mulf .Score)}}px"></span></td></tr>{{end}}</table>

<h2>Effect of each parameter</h2>
<p class="small">Mean feasible throughput of the trials at each value (0 for those that missed the SLA or failed), how many trials, how many feasible, and the best.</p>
<div class="row">{{range .Effects}}<table><tr><th colspan="4"><code>{{.Param}}</code> ({{pct .Score}})</th></tr>
{{range .Rows}}<tr><td><code>{{.Value}}</code></td><td class="n">{{round .Mean}}</td><td><span class="bar" style="width:{{printf "%.0f" .Width}}px"></span></td><td class="small">{{.Feasible}}/{{.Trials}} feasible, best {{round .Best}}</td></tr>{{end}}
</table>{{end}}</div>

<h2>Failures</h2>
{{if .Failures}}<table><tr><th>class</th><th>outcome</th><th>trials</th><th>first message</th></tr>
{{range .Failures}}<tr><td><code>{{.Class}}</code></td><td><i class="chip" style="background:{{color .Outcome}}"></i>{{.Outcome}}</td><td>{{trialList .Trials}}</td><td class="small">{{.Example}}</td></tr>{{end}}</table>
{{else}}<p>No trial failed.</p>{{end}}

<h2>Every trial</h2>
<table><tr><th>#</th><th>state</th><th>tok/s</th><th>P99 TPOT</th><th>P99 TTFT</th><th>changes from the baseline</th></tr>
{{range .V.Trials}}<tr><td class="n">{{.Number}}</td><td><i class="chip" style="background:{{color .Outcome}}"></i>{{.Outcome}}</td><td class="n">{{num .OutputThroughput}}</td><td class="n">{{num .P99TPOTms}}</td><td class="n">{{num .P99TTFTms}}</td>
<td class="small">{{if .Label}}{{.Label}}{{if changes .}}: {{end}}{{end}}<code>{{changes .}}</code>{{if .Failure}} <b>{{.Failure}}</b>{{end}}</td></tr>{{end}}
</table>
<p class="small">Written by autotune. This page loads nothing from the network.</p>
</body></html>
`
