package runner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNeedsLinux is what Supported returns, and everything that starts or inspects a process, outside Linux.
var ErrNeedsLinux = fmt.Errorf("autotune runs and stops vLLM servers on Linux only (it needs a parent-death signal, "+
	"waitid and /proc to own every process it starts); this is %s", runtime.GOOS)

// proc is a child process we started as the leader of its own process group (its PID is the group ID).
//
// The leader is not reaped as soon as it exits: a supervising goroutine first learns of the exit with
// waitid(WNOWAIT), and reaps only when release is called, after the group has been swept. While the leader is an
// unreaped zombie its PID, and with it the process group ID, cannot be handed to another process, so every
// kill(-pgid) we send before release can only reach processes of our own group.
type proc struct {
	argv    []string
	pid     int
	ticks   uint64    // start time, field 22 of /proc/<pid>/stat
	started time.Time // just after the fork

	exited   chan struct{} // closed once the leader has exited (it is still unreaped)
	reap     chan struct{} // closed by release: the leader may be reaped now
	reaped   chan struct{} // closed once cmd.Wait has returned
	reapOnce sync.Once
	state    *os.ProcessState // valid once reaped is closed
	waitErr  error            // valid once reaped is closed
}

// startProc starts argv as the leader of a new process group with SIGKILL as its parent-death signal, the given
// environment (nil means an empty one: the environment is never inherited implicitly) and the given stdout and
// stderr (the same writer for a log). An *os.File is handed to the child directly, so no pipe can keep Wait
// waiting on grandchildren.
func startProc(argv, env []string, stdout, stderr io.Writer) (*proc, error) {
	if err := Supported(); err != nil {
		return nil, err
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("empty command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if cmd.Err != nil {
		return nil, cmd.Err
	}
	if env == nil {
		env = []string{}
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = time.Second // bounds Wait on pipes a grandchild still holds (only when out is not a file)
	cmd.SysProcAttr = groupAttr()
	p := &proc{
		argv:   argv,
		exited: make(chan struct{}),
		reap:   make(chan struct{}),
		reaped: make(chan struct{}),
	}
	startErr := make(chan error, 1)
	go p.supervise(cmd, startErr)
	if err := <-startErr; err != nil {
		return nil, err
	}
	// The leader cannot be reaped before release, so /proc/<pid>/stat exists even if it has already exited.
	if st, err := readStat(p.pid); err == nil {
		p.ticks = st.start
	}
	return p, nil
}

// supervise starts cmd and owns it until it is reaped.
//
// Pdeathsig is delivered when the *thread* that forked the child exits, not when the process does
// (go.dev/issue/27505): an idle Go thread may be retired at any time. So this goroutine locks itself to its
// thread, forks from it, and stays on it until the child is reaped. It never unlocks: when it returns, the
// runtime ends the thread with it, and by then the child is gone.
func (p *proc) supervise(cmd *exec.Cmd, startErr chan<- error) {
	runtime.LockOSThread()
	if err := cmd.Start(); err != nil {
		startErr <- err
		return
	}
	p.pid = cmd.Process.Pid
	p.started = time.Now()
	startErr <- nil
	waitExited(p.pid)
	close(p.exited)
	<-p.reap
	p.waitErr = cmd.Wait()
	p.state = cmd.ProcessState
	close(p.reaped)
}

// release lets the leader be reaped once it has exited, and waits up to d for that. Call it only after the
// group has been swept (see terminate): from then on the group ID may be reused.
func (p *proc) release(d time.Duration) {
	p.reapOnce.Do(func() { close(p.reap) })
	select {
	case <-p.reaped:
	case <-time.After(d):
	}
}

// hasExited reports whether the leader has exited.
func (p *proc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// exitCode is the leader's exit status, or -1 when it was killed by a signal or is not reaped yet.
func (p *proc) exitCode() int {
	select {
	case <-p.reaped:
		if p.state != nil {
			return p.state.ExitCode()
		}
	default:
	}
	return -1
}

// exitText describes how the leader ended, e.g. "exit status 1" or "signal: killed".
func (p *proc) exitText() string {
	select {
	case <-p.reaped:
		if p.state != nil {
			return p.state.String()
		}
		if p.waitErr != nil {
			return p.waitErr.Error()
		}
	default:
	}
	return "still running"
}

// procStat is the part of /proc/<pid>/stat we use.
type procStat struct {
	state byte   // R, S, D, Z, X, ...
	ppid  int    // field 4
	pgrp  int    // field 5
	start uint64 // field 22: start time in clock ticks since boot
}

func (s procStat) live() bool { return s.state != 'Z' && s.state != 'X' }

func parseStat(data []byte) (procStat, error) {
	// The command name (field 2) is in parentheses and may itself contain spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 > len(data) {
		return procStat{}, fmt.Errorf("malformed /proc stat %q", data)
	}
	f := strings.Fields(string(data[i+1:])) // f[0] is field 3
	if len(f) < 20 || len(f[0]) == 0 {
		return procStat{}, fmt.Errorf("malformed /proc stat %q", data)
	}
	var s procStat
	var err1, err2, err3 error
	s.state = f[0][0]
	s.ppid, err1 = strconv.Atoi(f[1])
	s.pgrp, err2 = strconv.Atoi(f[2])
	s.start, err3 = strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, fmt.Errorf("malformed /proc stat: %w", err)
	}
	return s, nil
}

// groupAlive reports whether any process of group pgid is still running. Zombies do not count: they hold no
// memory, port or file, and where PID 1 does not reap orphans they never go away.
func groupAlive(pgid int) (bool, error) {
	switch err := kill(-pgid, 0); {
	case errors.Is(err, syscall.ESRCH):
		return false, nil
	case err != nil && !errors.Is(err, syscall.EPERM):
		return true, fmt.Errorf("kill(-%d, 0): %w", pgid, err)
	}
	members, err := groupMembers(pgid)
	if err != nil {
		return true, err
	}
	for _, st := range members {
		if st.live() {
			return true, nil
		}
	}
	return false, nil
}

// signalGroup sends sig to every process of group pgid; a group that is already gone is not an error.
func signalGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 1 {
		return fmt.Errorf("refusing to signal process group %d", pgid)
	}
	if err := kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill(-%d, %v): %w", pgid, sig, err)
	}
	return nil
}

// ProcessGone reports whether the process that had PID pid and started at start (StartTicks) is gone: the PID is
// free, or names a process that started at another time (the PID was reused). A start of 0 (unknown) compares
// only the PID. A start time that cannot be read counts as another (the process went between the two looks).
func ProcessGone(pid int, start uint64) bool {
	if errors.Is(kill(pid, 0), syscall.ESRCH) {
		return true
	}
	if start == 0 {
		return false
	}
	now, _ := StartTicks(pid)
	return now != start
}
