// Package citest holds the rule for a test that this machine cannot set up (no root for a mount, no chromium, no
// PostgreSQL): it skips and says why, except under CI=true. CI runs .ci/run as root on a fresh machine that
// installs and starts what every test needs, so there a skip would hide that the test runs nowhere: it fails.
package citest

import (
	"fmt"
	"os"
	"testing"
)

// SkipUnlessCI skips t with the message, or fails it with the message when CI=true.
func SkipUnlessCI(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true, where this test must run: %s", fmt.Sprintf(format, args...))
		return
	}
	t.Skipf(format, args...)
}
