//go:build !linux

package runner

import (
	"fmt"
	"runtime"
	"syscall"
)

// ErrNeedsLinux is returned on other systems by everything that starts or inspects a process.
var ErrNeedsLinux = fmt.Errorf("autotune runs and stops vLLM servers on Linux only (it needs a parent-death signal, "+
	"waitid and /proc to own every process it starts); this is %s", runtime.GOOS)

// Supported reports whether this system can run servers: never outside Linux.
func Supported() error { return ErrNeedsLinux }

func groupAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func waitExited(int) {}

func readStat(int) (procStat, error) { return procStat{}, ErrNeedsLinux }

func groupMembers(int) (map[int]procStat, error) { return nil, ErrNeedsLinux }

// StartTicks is not available outside Linux.
func StartTicks(int) (uint64, error) { return 0, ErrNeedsLinux }
