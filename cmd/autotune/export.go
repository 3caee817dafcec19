package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/autotune/autotune/runner"
)

// shellQuote quotes s for bash so that it reaches the program as one argument, byte for byte: JSON values such
// as --speculative-config '{"method":"ngram"}' survive. Inside single quotes bash interprets nothing, newlines
// included, so only the quote itself needs care. s must not hold a NUL byte (no program argument can).
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// scriptPart is one piece of a command line of the exported script: either shell code that autotune wrote
// itself (a constant such as `exec "$VLLM" serve`), or a value from the study (a flag, the model, an
// environment value), which is always quoted.
type scriptPart struct {
	code  string
	value string
	isVal bool
}

func code(s string) scriptPart  { return scriptPart{code: s} }
func value(s string) scriptPart { return scriptPart{value: s, isVal: true} }

// scriptLine is one line of the exported script: a comment (comment != nil) or a command made of parts, written
// one after the other (the code parts carry the spaces).
type scriptLine struct {
	comment *string
	parts   []scriptPart
}

func commentLine(format string, args ...any) scriptLine {
	s := fmt.Sprintf(format, args...)
	return scriptLine{comment: &s}
}

func commandLine(parts ...scriptPart) scriptLine { return scriptLine{parts: parts} }

// errScriptValue marks a value that no bash script can pass on intact.
var errScriptValue = errors.New("cannot be written into a script")

// renderLine renders one line of the exported script, newline included; every line of the script goes through
// it. A comment is escaped so that it stays one comment line whatever it holds: a study's database path, model,
// tokenizer, GPU name and vLLM version come from the command line, the database and the probes, and a newline
// in any of them would otherwise end the comment and start a command. Control characters, invalid UTF-8 and
// the Unicode line separators are written as Go-style escapes (\n, \x1b, \u2028). A value is quoted by
// quoteValue; a value holding a NUL byte is refused, since no program can receive one as an argument.
func renderLine(l scriptLine) (string, error) {
	if l.comment != nil {
		if *l.comment == "" {
			return "#\n", nil
		}
		return "# " + escapeComment(*l.comment) + "\n", nil
	}
	var b strings.Builder
	for _, p := range l.parts {
		if !p.isVal {
			b.WriteString(p.code)
			continue
		}
		if strings.IndexByte(p.value, 0) >= 0 {
			return "", fmt.Errorf("value %q holds a NUL byte: %w", p.value, errScriptValue)
		}
		b.WriteString(quoteValue(p.value))
	}
	return b.String() + "\n", nil
}

// quoteValue quotes s as one bash word on one line: with single quotes (shellQuote) when it holds no control
// character, else with ANSI-C quotes, $'...', where every control byte is written as \xHH.
func quoteValue(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return shellQuote(s)
	}
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString("'")
	return b.String()
}

// escapeComment makes s safe and readable on one comment line.
func escapeComment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError:
			q := strconv.QuoteRuneToASCII(r) // '\n', '\x1b', '\u0085'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// envName is what bash accepts as a variable name after `export`.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// exportScript renders the best trial as an executable bash script that starts vllm serve with exactly its flags,
// on 127.0.0.1 unless HOST says otherwise (every trial listened there; vLLM's API has no authentication).
func exportScript(ls *loadedStudy, best, baseline *trialView, now time.Time) (string, error) {
	lines := []scriptLine{commandLine(code("#!/usr/bin/env bash"))}
	c := func(format string, args ...any) { lines = append(lines, commentLine(format, args...)) }
	cmd := func(parts ...scriptPart) { lines = append(lines, commandLine(parts...)) }
	c("Start vLLM with the fastest configuration autotune found (%s of study %q in %s).", best.trialsText(), ls.study.Name, ls.view.DB)
	c("Generated %s by autotune %s.", now.Format("2006-01-02 15:04 MST"), version)
	c("")
	if ls.view.Simulated {
		c("%s", simulatedNote)
		c("")
	}
	measured := "Measured"
	if ls.view.Simulated {
		measured = "Simulated (not measured)"
	}
	c("%s: output throughput %s tok/s, P99 TPOT %s ms, P99 TTFT %s ms, mean TPOT %s ms.",
		measured, fmtNum(best.OutputThroughput, "%.1f"), fmtNum(best.P99TPOTms, "%.1f"), fmtNum(best.P99TTFTms, "%.0f"),
		fmtNum(best.MeanTPOTms, "%.2f"))
	if len(best.Measurements) > 1 {
		var runs []string
		for _, m := range best.Measurements {
			runs = append(runs, fmt.Sprintf("%.1f (#%d)", m.OutputThroughput, m.Number))
		}
		c("Throughput and mean TPOT are the means of %d runs of these flags (%s tok/s); the P99s are the worst run's.",
			len(best.Measurements), strings.Join(runs, ", "))
	}
	if baseline != nil {
		c("Baseline (vLLM defaults, trial %d): %s tok/s, P99 TPOT %s ms, P99 TTFT %s ms (throughput %s).",
			baseline.Number, fmtNum(baseline.OutputThroughput, "%.1f"), fmtNum(baseline.P99TPOTms, "%.1f"),
			fmtNum(baseline.P99TTFTms, "%.0f"), fmtDelta(best.OutputThroughput, baseline.OutputThroughput))
	}
	c("SLA: %s.", slaText(ls.view))
	c("vLLM %s on %s.", orUnknown(ls.view.VLLMVersion), orUnknown(ls.view.GPU))
	c("Workload: %s", workloadText(ls.view.Workload))
	c("")
	c("Listens on %s (this machine only) unless HOST=0.0.0.0 says otherwise: vLLM's API has no authentication.", runner.DefaultHost)
	c("Override the port with PORT=%d, the executable with VLLM=/path/to/vllm; extra arguments are passed on.", runner.DefaultPort+1)
	cmd(code("set -euo pipefail"))
	cmd()
	cmd(code(fmt.Sprintf(`HOST="${HOST:-%s}"`, runner.DefaultHost)))
	cmd(code(fmt.Sprintf(`PORT="${PORT:-%d}"`, runner.DefaultPort)))
	cmd(code(`VLLM="${VLLM:-vllm}"`))
	if env := best.rec.Env; len(env) > 0 {
		keys := make([]string, 0, len(env))
		for k := range env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !envName.MatchString(k) {
				return "", fmt.Errorf("environment variable name %q: %w", k, errScriptValue)
			}
			// export NAME='value': the name is checked above, the value quoted.
			cmd(code("export "+k+"="), value(env[k]))
		}
	}
	model := ls.view.Model
	if best.rec.Model != "" {
		model = best.rec.Model
	}
	cmd()
	cmd(code(`exec "$VLLM" serve `), value(model), code(` \`))
	// One line per flag, with its values (a capture-size list has several).
	for i := 0; i < len(best.Args); {
		parts := []scriptPart{code("  "), value(best.Args[i])}
		for i++; i < len(best.Args) && !strings.HasPrefix(best.Args[i], "-"); i++ {
			parts = append(parts, code(" "), value(best.Args[i]))
		}
		cmd(append(parts, code(` \`))...)
	}
	cmd(code(`  --host "$HOST" --port "$PORT" "$@"`))

	var b strings.Builder
	for _, l := range lines {
		s, err := renderLine(l)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// writeExecutable replaces the file at path with an executable (0755) one holding text. It writes a temporary
// file next to it and renames it over: os.WriteFile's mode applies only to a new file, so a re-export over an
// existing non-executable flags.sh would stay non-executable, and a crash mid-write would leave half a script.
func writeExecutable(path, text string) error {
	return writeAtomic(path, 0o755, func(w io.Writer) error {
		_, err := io.WriteString(w, text)
		return err
	})
}

// writeAtomic writes path through a temporary file in the same folder, renamed into place once complete, so
// that a reader never sees half a file and a failure leaves the old one.
func writeAtomic(path string, mode os.FileMode, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
