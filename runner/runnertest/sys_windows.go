//go:build windows

package runnertest

import (
	"os"
	"syscall"
	"testing"
)

// The fake vLLM machine serves tests on Unix only, where runner can start servers at all; on Windows the
// package builds, and a test that asks for a port is skipped.

func killProcess(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

func ownGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// Port skips the test: ports are reserved with Unix socket calls.
func Port(t testing.TB) int {
	t.Helper()
	t.Skip("runnertest: reserving a port needs Unix")
	return 0
}

// Ports skips the test, as Port does.
func Ports(t testing.TB, n int) int { return Port(t) }
