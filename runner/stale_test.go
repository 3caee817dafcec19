package runner

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/autotune/autotune/runner/runnertest"
)

// startStale starts a fake server the way a dead run would have left it: its own process group, an engine core
// that ignores SIGTERM, the token in its environment; s says what else it does. It returns the Process a run
// would have recorded and the command, which the test reaps.
func (f *fake) startStale(s runnertest.Serve) (Process, *exec.Cmd) {
	f.t.Helper()
	token := newToken()
	s.EngineMiB, s.EngineIgnoresTerm = 3000, true
	argv := append(append([]string{}, f.opts.VLLM...), s.Args("serve", "m", "--host", "127.0.0.1", "--port",
		strconv.Itoa(f.port))...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append([]string{}, f.opts.Env...), tokenEnv+"="+token)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	r := New(f.opts)
	deadline := time.Now().Add(time.Minute) // a bound on waiting: the server gets ready in well under a second
	for r.health(context.Background(), time.Second) != 200 {
		if time.Now().After(deadline) {
			f.t.Fatal("stale server never got ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	st, err := readStat(cmd.Process.Pid)
	if err != nil {
		f.t.Fatal(err)
	}
	return Process{PID: cmd.Process.Pid, PGID: st.pgrp, StartTicks: st.start, Host: "127.0.0.1", Port: f.port,
		Token: token}, cmd
}

func (f *fake) assertUntouched(p Process) {
	f.t.Helper()
	if alive, _ := groupAlive(p.PGID); !alive {
		f.t.Fatal("the group was stopped")
	}
	if used := f.m.HeldMiB(); used != 3000 {
		f.t.Errorf("memory %d MiB, want the holder's 3000", used)
	}
}

func TestStopStaleOurs(t *testing.T) {
	t.Parallel()
	f := newFake(t, runnertest.Config{})
	p, cmd := f.startStale(runnertest.Serve{IgnoreTerm: true})
	p.Token = "" // a record from before tokens: the live leader is the proof
	stopped, err := f.runner().StopStale(context.Background(), p)
	if !stopped || err != nil {
		t.Fatalf("StopStale = %v, %v", stopped, err)
	}
	cmd.Wait()
	f.assertClean(Result{Process: p})
}

func TestStopStaleNotOurs(t *testing.T) {
	t.Parallel()
	f := newFake(t, runnertest.Config{})
	p, _ := f.startStale(runnertest.Serve{})
	r := f.runner()
	for name, q := range map[string]Process{
		"PID reused (other start time)": {PID: p.PID, PGID: p.PGID, StartTicks: p.StartTicks + 1, Port: p.Port},
		"other group":                   {PID: p.PID, PGID: p.PGID + 1, StartTicks: p.StartTicks, Port: p.Port},
		"other group, token":            {PID: p.PID, PGID: p.PGID + 1, StartTicks: p.StartTicks, Port: p.Port, Token: p.Token},
		"wrong token":                   {PID: p.PID, PGID: p.PGID, StartTicks: p.StartTicks + 1, Port: p.Port, Token: newToken()},
		"zero":                          {},
		"init":                          {PID: 1, PGID: 1},
	} {
		if stopped, err := r.StopStale(context.Background(), q); stopped || err != nil {
			t.Errorf("%s: StopStale = %v, %v", name, stopped, err)
		}
		f.assertUntouched(p)
	}
	// A PID that is gone.
	done := exec.Command("true")
	done.Run()
	if stopped, err := r.StopStale(context.Background(), Process{PID: done.Process.Pid, PGID: done.Process.Pid, StartTicks: 1}); stopped || err != nil {
		t.Errorf("dead PID: StopStale = %v, %v", stopped, err)
	}
}

// The leader died (autotune's death took it) but its engine survives: only the token proves it is ours.
func TestStopStaleOrphanByToken(t *testing.T) {
	t.Parallel()
	f := newFake(t, runnertest.Config{})
	p, cmd := f.startStale(runnertest.Serve{Orphan: true})
	syscall.Kill(p.PID, syscall.SIGKILL)
	cmd.Wait()
	r := f.runner()
	noToken := p
	noToken.Token = ""
	if stopped, err := r.StopStale(context.Background(), noToken); stopped || err != nil {
		t.Fatalf("without the token: StopStale = %v, %v", stopped, err)
	}
	f.assertUntouched(p)
	stopped, err := r.StopStale(context.Background(), p)
	if !stopped || err != nil {
		t.Fatalf("StopStale = %v, %v", stopped, err)
	}
	f.assertClean(Result{Process: p})
}

// SIGKILL of the process running a trial (autotune) kills the server through its parent-death signal. What the
// server forked survives it (the engine core holding GPU memory, vllm issue #34643); StopStale then finds it
// from the recorded Process by its token and stops it.
func TestParentDeathKillsServer(t *testing.T) {
	t.Parallel()
	f := newFake(t, runnertest.Config{})
	opts := f.opts
	opts.StartupTimeout = time.Minute
	optsJSON, _ := json.Marshal(opts)
	procFile := filepath.Join(f.dir, "process.json")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parent := exec.Command(exe, append([]string{"parent", procFile, filepath.Join(f.dir, "trial")},
		runnertest.Serve{NeverReady: true, EngineMiB: 2500, EngineIgnoresTerm: true, Orphan: true}.Args()...)...)
	parent.Env = append(append([]string{}, f.opts.Env...), "RUNNER_FAKE_PARENT_OPTS="+string(optsJSON))
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	var p Process
	deadline := time.Now().Add(time.Minute) // bounds on waiting, here and below, not on how fast anything is
	for {
		data, err := os.ReadFile(procFile)
		if err == nil && json.Unmarshal(data, &p) == nil && f.m.HeldMiB() == 2500 {
			break
		}
		if time.Now().After(deadline) {
			parent.Process.Kill()
			parent.Wait()
			t.Fatal("the parent never started its server")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let the Go runtime of the parent move goroutines between threads
	parent.Process.Kill()
	parent.Wait()

	// The leader dies of its parent-death signal; it was reparented to us (the subreaper): reap it.
	deadline = time.Now().Add(time.Minute)
	for {
		st, err := readStat(p.PID)
		if err != nil || st.start != p.StartTicks {
			break
		}
		if !st.live() {
			if st.ppid != os.Getpid() {
				time.Sleep(time.Millisecond) // not reparented to us yet
				continue
			}
			if pid, _ := syscall.Wait4(p.PID, nil, syscall.WNOHANG, nil); pid == p.PID {
				break
			}
		}
		if time.Now().After(deadline) {
			syscall.Kill(-p.PGID, syscall.SIGKILL)
			t.Fatal("the server outlived the killed parent")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Its engine is orphaned, still holding memory, like vLLM's engine core (vllm issue #34643).
	if used := f.m.HeldMiB(); used != 2500 {
		t.Fatalf("memory %d MiB, want the orphan's 2500", used)
	}
	stopped, err := f.runner().StopStale(context.Background(), p)
	if !stopped || err != nil {
		t.Fatalf("StopStale = %v, %v", stopped, err)
	}
	f.assertClean(Result{Process: p})
}
