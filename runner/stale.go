package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// StopStale stops the server a dead run of autotune recorded (Trial.OnStart), so that a resumed study finds
// the port and the GPU free. It only touches a process group it can prove is that server's:
//
//   - the leader p.PID exists (a zombie too) with start ticks p.StartTicks and process group p.PGID: a PID can
//     be reused, but not with the same start time; or
//   - the leader is gone (autotune's death took it: parent-death signal) but processes it forked survive in
//     group p.PGID (a vLLM engine core holding GPU memory), started no earlier than it, carrying p.Token in
//     their environment. A group ID cannot be reused while any process of the group lives.
//
// Otherwise it touches nothing and returns false: it never kills by name, nor a group it cannot prove is ours.
// When it stops a group (SIGTERM, StopGrace, SIGKILL until no live process is left), it returns true and then
// waits, bounded by ReleaseTimeout, for p's port and the GPU memory to be released; the error says what was
// not released.
func (r *Runner) StopStale(ctx context.Context, p Process) (stopped bool, err error) {
	if p.PID <= 1 || p.PGID <= 1 {
		return false, nil
	}
	leader, err := readStat(p.PID)
	leaderOurs := err == nil && leader.start == p.StartTicks && leader.pgrp == p.PGID
	if !leaderOurs && len(r.tokenSurvivors(p)) == 0 {
		return false, nil
	}
	if alive, _ := groupAlive(p.PGID); !alive {
		return false, nil // only zombies left: nothing holds the port or the GPU
	}

	if err := signalGroup(p.PGID, syscall.SIGTERM); err != nil {
		return false, fmt.Errorf("stop stale server group %d: %w", p.PGID, err)
	}
	// Wait up to StopGrace for the leader to go (it cannot be reaped by us: it is not our child).
	grace := time.Now().Add(r.opts.StopGrace)
	for backoff := time.Millisecond; leaderOurs && time.Now().Before(grace); backoff = min(2*backoff, 50*time.Millisecond) {
		if st, err := readStat(p.PID); err != nil || !st.live() || st.start != p.StartTicks {
			break
		}
		time.Sleep(backoff)
	}
	deadline := time.Now().Add(r.opts.ReleaseTimeout)
	if err := sweep(p.PGID, deadline); err != nil {
		return true, fmt.Errorf("stop stale server group %d: %w", p.PGID, err)
	}
	host, port := p.Host, p.Port
	if host == "" {
		host = r.opts.Host
	}
	if port == 0 {
		port = r.opts.Port
	}
	if err := r.waitReleased(ctx, host, port, deadline); err != nil {
		return true, fmt.Errorf("stale server group %d stopped, but not released within %v: %w",
			p.PGID, r.opts.ReleaseTimeout, err)
	}
	return true, nil
}

// tokenSurvivors lists the live processes of group p.PGID that started no earlier than p's leader and carry
// p.Token in their environment.
func (r *Runner) tokenSurvivors(p Process) []int {
	if p.Token == "" {
		return nil
	}
	members, err := groupMembers(p.PGID)
	if err != nil {
		return nil
	}
	want := []byte(tokenEnv + "=" + p.Token)
	var pids []int
	for pid, st := range members {
		if !st.live() || st.start < p.StartTicks {
			continue
		}
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			continue // not ours to read
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, want) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
