//go:build windows

package runner

import "syscall"

// Windows has neither process groups nor kill(2): autotune builds there so that its read-only commands (best,
// trials, show, report) work on a study kept in PostgreSQL, and every command that would start a server fails
// with ErrNeedsLinux (Supported).

func kill(int, syscall.Signal) error { return ErrNeedsLinux }

func groupAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
