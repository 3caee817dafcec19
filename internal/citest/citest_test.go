package citest

import (
	"strings"
	"testing"
)

// recorder is the part of testing.TB that SkipUnlessCI uses, recording instead of stopping the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skipf(format string, args ...any)  { r.skipped = format }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = format }

func TestSkipUnlessCI(t *testing.T) {
	for _, c := range []struct{ ci, wantSkip, wantFail bool }{{false, true, false}, {true, false, true}} {
		if c.ci {
			t.Setenv("CI", "true")
		} else {
			t.Setenv("CI", "")
		}
		r := &recorder{}
		SkipUnlessCI(r, "no %s here", "chromium")
		if (r.skipped != "") != c.wantSkip || (r.failed != "") != c.wantFail {
			t.Errorf("CI=%v: skipped %q, failed %q", c.ci, r.skipped, r.failed)
		}
		if c.ci && !strings.Contains(r.failed, "CI=true") {
			t.Errorf("the failure does not say why it is not a skip: %q", r.failed)
		}
	}
}
