package runnertest

import (
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"
)

// ReapOrphans makes this process the child subreaper and reaps the engine cores of live Machines that are
// reparented to it once they exit. Call it from TestMain, after Main, in packages whose servers leave their
// engines behind (Serve.Orphan): PID 1 of a container may never reap them, and their zombies would keep
// kill(-pgid, 0) succeeding. Only engine cores are reaped, which the test never started itself: exec.Cmd
// reaps its own children.
func ReapOrphans() error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, 36 /* PR_SET_CHILD_SUBREAPER */, 1, 0); e != 0 {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", e)
	}
	go func() {
		me := os.Getpid()
		for {
			var states []string
			machines.Range(func(k, _ any) bool { states = append(states, k.(string)); return true })
			slices.Sort(states)
			for _, state := range states {
				for _, pid := range enginePIDs(state) {
					if st, ok := readStat(pid); ok && !st.live() && st.ppid == me {
						var ws syscall.WaitStatus
						_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
					}
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return nil
}
