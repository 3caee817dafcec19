package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// The charts of the HTML report are SVG drawn here, inline in the page: nothing is fetched when it is viewed.

// outcomeColors are the colours of the outcomes in every chart and table.
var outcomeColors = map[string]string{
	Feasible: "#2e7d32", Infeasible: "#ef6c00", Crashed: "#c62828", Refused: "#6a1b9a", Pruned: "#757575",
	Duplicate: "#9e9e9e", Interrupted: "#90a4ae", Harness: "#90a4ae", Running: "#1565c0", Queued: "#bdbdbd",
}

// plot is one chart's coordinate system: data ranges mapped into a width × height SVG with margins for axes.
type plot struct {
	b                      strings.Builder
	w, h                   float64
	left, right, top, bot  float64
	xmin, xmax, ymin, ymax float64
}

func newPlot(w, h, xmin, xmax, ymin, ymax float64) *plot {
	if xmax <= xmin {
		xmax = xmin + 1
	}
	if ymax <= ymin {
		ymax = ymin + 1
	}
	p := &plot{w: w, h: h, left: 64, right: 16, top: 16, bot: 44, xmin: xmin, xmax: xmax, ymin: ymin, ymax: ymax}
	fmt.Fprintf(&p.b, `<svg viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img">`, w, h, w, h)
	return p
}

func (p *plot) x(v float64) float64 {
	return p.left + (v-p.xmin)/(p.xmax-p.xmin)*(p.w-p.left-p.right)
}

func (p *plot) y(v float64) float64 {
	return p.h - p.bot - (v-p.ymin)/(p.ymax-p.ymin)*(p.h-p.top-p.bot)
}

func (p *plot) printf(format string, args ...any) { fmt.Fprintf(&p.b, format, args...) }

// axes draws both axes with round ticks and their labels.
func (p *plot) axes(xlabel, ylabel string) {
	x0, x1, y0, y1 := p.x(p.xmin), p.x(p.xmax), p.y(p.ymin), p.y(p.ymax)
	p.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fafafa" stroke="#ccc"/>`, x0, y1, x1-x0, y0-y1)
	for _, t := range ticks(p.xmin, p.xmax, 8) {
		p.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`, p.x(t), y0, p.x(t), y1)
		p.printf(`<text x="%.1f" y="%.1f" class="tick" text-anchor="middle">%s</text>`, p.x(t), y0+14, Round(t))
	}
	for _, t := range ticks(p.ymin, p.ymax, 6) {
		p.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`, x0, p.y(t), x1, p.y(t))
		p.printf(`<text x="%.1f" y="%.1f" class="tick" text-anchor="end">%s</text>`, x0-4, p.y(t)+4, Round(t))
	}
	p.printf(`<text x="%.1f" y="%.1f" class="label" text-anchor="middle">%s</text>`, (x0+x1)/2, p.h-6, esc(xlabel))
	p.printf(`<text x="14" y="%.1f" class="label" text-anchor="middle" transform="rotate(-90 14 %.1f)">%s</text>`,
		(y0+y1)/2, (y0+y1)/2, esc(ylabel))
}

// point draws a trial: a filled circle, hollow for a duplicate, with its description as a tooltip.
func (p *plot) point(x, y float64, outcome, title string, big bool) {
	r, fill := 4.5, outcomeColors[outcome]
	if big {
		r = 7
	}
	stroke := fill
	if outcome == Duplicate {
		fill = "none"
	}
	p.printf(`<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s" stroke="%s" fill-opacity="0.85"><title>%s</title></circle>`,
		p.x(x), p.y(y), r, fill, stroke, esc(title))
}

// cross draws a trial without a result, on the floor of the chart.
func (p *plot) cross(x float64, outcome, title string) {
	cx, cy := p.x(x), p.y(p.ymin)-6
	p.printf(`<path d="M%.1f %.1fl8 8m0 -8l-8 8" stroke="%s" stroke-width="2"><title>%s</title></path>`, cx-4, cy-4,
		outcomeColors[outcome], esc(title))
}

// hline draws a dashed horizontal line at y with a label.
func (p *plot) hline(y float64, color, label string) {
	p.printf(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="6 4" stroke-width="1.5"/>`,
		p.x(p.xmin), p.x(p.xmax), p.y(y), p.y(y), color)
	p.printf(`<text x="%.1f" y="%.1f" class="note" fill="%s" text-anchor="end">%s</text>`, p.x(p.xmax)-4, p.y(y)-4, color, esc(label))
}

// vline draws a dashed vertical line at x with a label.
func (p *plot) vline(x float64, color, label string) {
	p.printf(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="6 4" stroke-width="1.5"/>`,
		p.x(x), p.x(x), p.y(p.ymin), p.y(p.ymax), color)
	// The label goes on the side of the line that has room.
	anchor, dx := "start", 4.0
	if p.x(x) > p.w-p.right-80 {
		anchor, dx = "end", -4
	}
	p.printf(`<text x="%.1f" y="%.1f" class="note" fill="%s" text-anchor="%s">%s</text>`, p.x(x)+dx, p.y(p.ymax)+14, color, anchor, esc(label))
}

// steps draws a step line through (xs[i], ys[i]).
func (p *plot) steps(xs, ys []float64, color string) {
	if len(xs) == 0 {
		return
	}
	var d strings.Builder
	fmt.Fprintf(&d, "M%.1f %.1f", p.x(xs[0]), p.y(ys[0]))
	for i := 1; i < len(xs); i++ {
		fmt.Fprintf(&d, "H%.1fV%.1f", p.x(xs[i]), p.y(ys[i]))
	}
	fmt.Fprintf(&d, "H%.1f", p.x(p.xmax))
	p.printf(`<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`, d.String(), color)
}

func (p *plot) html() template.HTML {
	p.printf(`</svg>`)
	return template.HTML(p.b.String()) // built from numbers and esc()-escaped text only
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// ticks are about n round values (1, 2 or 5 times a power of ten apart) between lo and hi.
func ticks(lo, hi float64, n int) []float64 {
	span := hi - lo
	if span <= 0 || n < 1 {
		return nil
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		t := math.Round(v/step) * step
		if t == 0 {
			t = 0 // not -0, which would print as "-0"
		}
		out = append(out, t)
	}
	return out
}
