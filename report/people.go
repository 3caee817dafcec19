package report

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/autotune/autotune/runner"
)

// Round formats a metric for people: three significant digits, but never fewer than the integer part
// (3340.09 -> "3340", 13.566 -> "13.6", 0.24581 -> "0.246"). JSON and CSV carry the exact value.
func Round(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	decimals := 0
	if a := math.Abs(v); a < 100 {
		decimals = min(2-int(math.Floor(math.Log10(a))), 4)
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// Command is the `vllm serve` command line of a trial as a person would type it. A simulated study ran it as
// `<autotune binary> sim serve ...`, often a temporary `go run` binary: that prefix becomes `vllm`, the command
// the flags stand for. A real study's command is the recorded argv, as it ran.
func (t Trial) Command(simulated bool) []string {
	argv := t.Record.ServeArgv
	if !simulated {
		return argv
	}
	for i := 1; i < len(argv); i++ {
		if argv[i] == "serve" && argv[i-1] == "sim" {
			return append([]string{"vllm"}, argv[i:]...)
		}
	}
	return argv
}

// failureWords are what the lines that prove a failure say.
var failureWords = regexp.MustCompile(`(?i)error|exception|traceback|killed|out of memory|refused|invalid|not supported|must be|unrecognized|\[matched in `)

// maxProof is how many lines of proof are shown.
const maxProof = 8

// Proof picks, from the log tail stored with a failed trial, the lines that prove the failure: the line a
// classification rule matched and the error lines around it, without vLLM's INFO/DEBUG/WARNING chatter. With no
// such line it falls back to the last few lines of the tail.
func (t Trial) Proof() []string {
	tail := strings.TrimRight(t.Record.LogTail, "\n")
	if tail == "" {
		return nil
	}
	lines := strings.Split(tail, "\n")
	var out []string
	seen := map[string]bool{}
	for _, l := range lines {
		if l == "[...]" || runner.NotEvidence(l) || !failureWords.MatchString(l) || seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, l)
	}
	if len(out) == 0 {
		out = lines[max(len(lines)-5, 0):]
	}
	if len(out) > maxProof {
		// Keep the matched line (always first when present) and the last error lines.
		keep := out[len(out)-maxProof+1:]
		out = append([]string{out[0]}, keep...)
	}
	return out
}
