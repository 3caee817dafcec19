package report

import (
	"fmt"
	"strings"

	"github.com/autotune/autotune/space"
)

// Labels say where a trial came from. The tuner writes them; reports read them.
const (
	// BaselineLabel marks trial 0: vLLM's defaults, measured on the same machine (space.Baseline's label).
	BaselineLabel = space.BaselineLabel
	repeatPrefix  = "repeat of #"
	retryPrefix   = "retry of #"
)

// RepeatLabel labels a confirmation run that measures trial n's config again.
func RepeatLabel(n int) string { return fmt.Sprintf("%s%d", repeatPrefix, n) }

// RetryLabel labels a trial that runs trial n's config again after n was interrupted or hit a harness fault.
func RetryLabel(n int) string { return fmt.Sprintf("%s%d", retryPrefix, n) }

// IsRepeat reports whether a label marks a confirmation run (a re-measurement of an earlier trial).
func IsRepeat(label string) bool { return strings.HasPrefix(label, repeatPrefix) }

// IsRetry reports whether a label marks a retry of an interrupted or failed trial.
func IsRetry(label string) bool { return strings.HasPrefix(label, retryPrefix) }

// LabelTrial returns the trial number a repeat or retry label names.
func LabelTrial(label string) (int, bool) {
	for _, p := range []string{repeatPrefix, retryPrefix} {
		if rest, ok := strings.CutPrefix(label, p); ok {
			var n int
			if _, err := fmt.Sscanf(rest, "%d", &n); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}
