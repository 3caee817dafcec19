//go:build unix

package runnertest

import "syscall"

// killProcess sends SIGKILL to one process.
func killProcess(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// ownGroup starts a child in a process group of its own (a fake engine that escapes its server's group).
func ownGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
