package main

import (
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// newTable returns a boxed table for people, for short tables whose width is known (best against baseline).
// Headers are printed as written: tablewriter's default upper-cases them and spaces out "#7" into "# 7".
func newTable(w io.Writer) *tablewriter.Table {
	cfg := tablewriter.NewConfigBuilder().WithHeaderAutoFormat(tw.Off).WithRowAutoWrap(tw.WrapNone).Build()
	return tablewriter.NewTable(w, tablewriter.WithConfig(cfg))
}

// minWidth is the narrowest terminal the tables are laid out for.
const minWidth = 80

// terminalWidth is the width tables fit into on w: the terminal's columns when w is a terminal, else $COLUMNS,
// else minWidth; never below minWidth.
func terminalWidth(w io.Writer) int {
	n := 0
	if f, ok := w.(*os.File); ok {
		if cols, ok := terminalColumns(f); ok {
			n = cols
		}
	}
	if n == 0 {
		n, _ = strconv.Atoi(os.Getenv("COLUMNS"))
	}
	return max(n, minWidth)
}

// isTerminal reports whether w is a terminal (a live progress line can then be redrawn in place).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, ok = terminalColumns(f)
	return ok
}

// textTable is a plain table of left-aligned columns two spaces apart, fitted to a width: the last column
// (free text such as flags) gets what the others leave and is clipped with "…"; width 0 clips nothing.
type textTable struct {
	header []string
	rows   [][]string
	right  map[int]bool // right-aligned columns (numbers)
}

func (t *textTable) append(cells ...string) { t.rows = append(t.rows, cells) }

func (t *textTable) render(w io.Writer, width int) {
	cols := len(t.header)
	widths := make([]int, cols)
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	if width > 0 {
		used := 0
		for i := 0; i < cols-1; i++ {
			used += widths[i] + 2
		}
		widths[cols-1] = max(min(widths[cols-1], width-used), 8)
	}
	line := func(r []string) {
		var b strings.Builder
		for i, c := range r {
			last := i == cols-1
			if last {
				c = clip(c, widths[i])
			}
			pad := strings.Repeat(" ", max(widths[i]-utf8.RuneCountInString(c), 0))
			switch {
			case t.right[i]:
				b.WriteString(pad + c)
			case last:
				b.WriteString(c)
			default:
				b.WriteString(c + pad)
			}
			if !last {
				b.WriteString("  ")
			}
		}
		io.WriteString(w, strings.TrimRight(b.String(), " ")+"\n")
	}
	line(t.header)
	for _, r := range t.rows {
		line(r)
	}
}

// clip shortens s to n runes, marking the cut with "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:max(n-1, 0)]) + "…"
}
