//go:build unix

package runner

import "syscall"

// kill is kill(2): a negative pid signals a process group, signal 0 only checks that it exists.
func kill(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }
