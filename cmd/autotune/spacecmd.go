package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/space"
)

func runSpace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("space", stderr)
	format := fs.String("format", "table", "output format: table or json")
	var m machineFlags
	m.register(fs, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("space: unexpected argument %q", fs.Arg(0))
	}
	if *format != "table" && *format != "json" {
		return usagef("--format %q: must be table or json", *format)
	}
	if err := m.validate(); err != nil {
		return err
	}
	if err := runner.Supported(); err != nil {
		return err // the probes start processes
	}
	scratch, err := os.MkdirTemp("", "autotune-space-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	ropts, err := m.runnerOptions(scratch, 1)
	if err != nil {
		return err
	}
	plat, _, err := m.platform(ctx, runner.New(ropts))
	if err != nil {
		return err
	}
	sp, err := m.space(plat, m.workload(stderr))
	if err != nil {
		return err
	}
	d := sp.Describe()
	if *format == "json" {
		// The study's record of its space: the description with the left-out list ("dropped").
		var out bytes.Buffer
		if err := json.Indent(&out, []byte(sp.JSON()), "", "  "); err != nil {
			return err
		}
		out.WriteByte('\n')
		_, err := stdout.Write(out.Bytes())
		return err
	}
	writeSpace(stdout, d, m.simulate, terminalWidth(stdout))
	return nil
}

// enforcedMeaning explains the tags of the constraints: how sampling keeps each refusal from happening.
var enforcedMeaning = []struct{ tag, meaning string }{
	{"pruning", "values this GPU or vLLM version refuses are removed before sampling"},
	{"domain", "the ranges sampled from cannot produce it"},
	{"condition", "the parameter is sampled only when it applies"},
	{"repair", "a sampled combination is adjusted to the nearest one vLLM accepts"},
	{"render", "the command line is written so that it cannot happen"},
}

// citation matches the references into autotune's design notes ("§4", "cal §11", "§1.2 PR #29184") that
// space's reasons carry for developers; a user of the command does not have those documents.
var citation = regexp.MustCompile(`(?:cal\s+)?§\s*[\d.]+[a-z]?(?:\s+PR\s+#\d+)?`)

// leftovers are the punctuation a removed citation leaves: "()", "(; x", "x, )", "x,, y", doubled spaces.
var leftovers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\(\s*[;,]*\s*\)`), ""}, {regexp.MustCompile(`\(\s*[;,]\s*`), "("},
	{regexp.MustCompile(`\s*[;,]\s*\)`), ")"}, {regexp.MustCompile(`,\s*,`), ","},
	{regexp.MustCompile(`\s{2,}`), " "}, {regexp.MustCompile(`\s+([,;)])`), "$1"},
}

// forPeople drops design-note citations from a reason, and the punctuation they leave behind.
func forPeople(s string) string {
	s = citation.ReplaceAllString(s, "")
	for prev := ""; prev != s; {
		prev = s
		for _, r := range leftovers {
			s = r.re.ReplaceAllString(s, r.with)
		}
	}
	return strings.TrimSpace(s)
}

// writeSpace prints the space for people within width columns: each parameter with its flag, then its values
// and when it is sampled; what was left out and why; the starting points; the constraints and what their tags
// mean.
func writeSpace(w io.Writer, d space.Description, simulated bool, width int) {
	say := func(text string) { wrap(w, text, width) }
	if simulated {
		say("SIMULATED: the probes answered as autotune's simulator of vLLM " + sim.VLLMVersion + " on a " + sim.T4().Name + ".")
	}
	say(fmt.Sprintf("Search space for vLLM %s on %s (compute %.1f, %d MiB); workload: concurrency %d, %d in / %d out",
		orUnknown(d.VLLMVersion), orUnknown(d.GPU), d.ComputeCap, d.MemoryMiB, d.Workload.MaxConcurrency,
		d.Workload.InputLen, d.Workload.OutputLen))
	if d.Source != "" {
		say("space file: " + d.Source)
	}
	say("fingerprint: " + d.Fingerprint)
	fmt.Fprintln(w, "\nParameters (flag; values, the first is vLLM's default; when it is sampled):")
	for _, p := range d.Params {
		flag := p.Flag
		if flag == "" && p.Env != "" {
			flag = "env " + p.Env
		}
		if head := fmt.Sprintf("  %-24s %s", p.Name, flag); width <= 0 || utf8.RuneCountInString(head) <= width {
			fmt.Fprintln(w, head)
		} else {
			fmt.Fprintln(w, "  "+p.Name)
			indentWrap(w, "      "+flag, width, "        ")
		}
		values := strings.ReplaceAll(p.Domain, " | ", ", ")
		if p.Fixed != "" {
			values = "fixed: " + p.Fixed
		}
		line := "      " + values
		if p.Condition != "" {
			line += "; when " + p.Condition
		}
		indentWrap(w, line, width, "        ")
	}
	if len(d.Dropped) > 0 {
		fmt.Fprintln(w, "\nLeft out for this GPU and vLLM version:")
		for _, x := range d.Dropped {
			what := x.Param
			if x.Value != "" {
				what += "=" + x.Value
			}
			indentWrap(w, "  "+what+": "+forPeople(x.Reason), width, "      ")
		}
	}
	if len(d.KnownGood) > 0 {
		fmt.Fprintln(w, "\nStarting points (run after the baseline):")
		for _, k := range d.KnownGood {
			indentWrap(w, "  "+k, width, "    ")
		}
	}
	for _, s := range d.Skipped {
		indentWrap(w, "  skipped: "+forPeople(s), width, "    ")
	}
	if len(d.Rules) > 0 {
		fmt.Fprintln(w, "\nConstraints kept while sampling (what vLLM would refuse), and how [tag]:")
		for _, r := range d.Rules {
			indentWrap(w, fmt.Sprintf("  %s [%s]: %s", r.ID, r.Enforced, forPeople(r.Message)), width, "      ")
		}
		fmt.Fprintln(w, "Tags:")
		for _, e := range enforcedMeaning {
			indentWrap(w, fmt.Sprintf("  [%s] %s", e.tag, e.meaning), width, "      ")
		}
	}
	for _, n := range d.Notes {
		indentWrap(w, "note: "+forPeople(n), width, "  ")
	}
}

// indentWrap prints text folded at spaces to width, continuation lines indented; a word longer than a line is
// cut.
func indentWrap(w io.Writer, text string, width int, indent string) {
	if width <= 0 {
		fmt.Fprintln(w, text)
		return
	}
	line := ""
	for _, word := range strings.Fields(text) {
		if line == "" && strings.HasPrefix(text, " ") {
			line = text[:len(text)-len(strings.TrimLeft(text, " "))]
		}
		switch {
		case strings.TrimSpace(line) == "":
			line += word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > width:
			fmt.Fprintln(w, clip(line, width))
			line = indent + word
		default:
			line += " " + word
		}
	}
	fmt.Fprintln(w, clip(line, width))
}
