package main

import (
	"os"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
)

// selfOwner identifies this process to the other workers of a study.
func selfOwner() store.Owner {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return store.Owner{Host: host, PID: pid, Start: startTicks(pid)}
}

// processGone tells whether a worker's process of this host is gone (runner.ProcessGone).
func processGone(o store.Owner) bool { return runner.ProcessGone(o.PID, o.Start) }

// startTicks is a process's start time, or 0 when it cannot be read (the process is gone).
func startTicks(pid int) uint64 {
	n, _ := runner.StartTicks(pid)
	return n
}
