package main

import (
	"errors"
	"os"
	"syscall"
	"time"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
)

// selfOwner identifies this process for the study lock.
func selfOwner() store.Owner {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return store.Owner{Host: host, PID: pid, Start: startTicks(pid)}
}

// staleHeartbeat is how old another host's heartbeat must be before its lock is taken over. The tuner
// refreshes it every few seconds while it runs.
const staleHeartbeat = 2 * time.Minute

// ownerDead decides whether a recorded lock holder is gone: on this host, its PID no longer names the same
// process; on another host (a Colab VM that was reset), its heartbeat is stale.
func ownerDead(me store.Owner) func(store.Lock) bool {
	return func(l store.Lock) bool {
		if l.Owner.Host != me.Host {
			return time.Since(l.Heartbeat) > staleHeartbeat
		}
		if err := syscall.Kill(l.Owner.PID, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		return startTicks(l.Owner.PID) != l.Owner.Start
	}
}

// startTicks is a process's start time, or 0 when it cannot be read (the process is gone).
func startTicks(pid int) uint64 {
	n, _ := runner.StartTicks(pid)
	return n
}
