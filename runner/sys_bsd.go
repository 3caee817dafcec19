//go:build unix && !linux

package runner

import "syscall"

// groupAttr starts a child in its own process group (Linux adds a parent-death signal, proc_linux.go).
func groupAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
