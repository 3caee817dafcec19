package runnertest

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// recorder is a testing.TB that records failures instead of failing, to test TrackChildren itself.
type recorder struct {
	testing.TB
	errors   []string
	cleanups []func()
}

func (r *recorder) Errorf(format string, args ...any) { r.errors = append(r.errors, format) }
func (r *recorder) Cleanup(f func())                  { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Helper()                           {}
func (r *recorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// TestTrackChildren: a marked process that escaped into its own session outlives the test and is reported (and
// killed); one that exited is not; an unmarked process is left alone.
func TestTrackChildren(t *testing.T) {
	leakWait = time.Second
	rec := &recorder{TB: t}
	entry := TrackChildren(rec)
	start := func(env ...string) *exec.Cmd {
		cmd := exec.Command("sleep", "300")
		cmd.Env = append(os.Environ(), env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	leaked := start(entry)
	done := exec.Command("true")
	done.Env = append(os.Environ(), entry)
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	stranger := start()
	defer func() { stranger.Process.Kill(); stranger.Wait() }()

	exited := make(chan struct{})
	go func() { leaked.Wait(); close(exited) }()
	rec.end()
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "outlived the test") {
		t.Errorf("errors %q, want exactly the leaked process", rec.errors)
	}
	select {
	case <-exited:
	case <-time.After(time.Minute):
		t.Errorf("the leaked process was not killed")
	}
	if err := stranger.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("an unmarked process was touched: %v", err)
	}
}

// TestPorts: reserved ports cannot be reserved again, a server can listen on them and gets the connections, and
// once it stops nothing answers there (the reservation itself accepts nothing).
func TestPorts(t *testing.T) {
	first := Ports(t, 3)
	for p := first; p < first+3; p++ {
		if fd, _, err := bindOnly(p); err == nil {
			syscall.Close(fd)
			t.Errorf("port %d reserved twice", p)
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(first+2))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("a server cannot listen on its reserved port: %v", err)
	}
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-accepted; err != nil {
		t.Errorf("the server did not get the connection: %v", err)
	}
	ln.Close()
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("something answers on the reserved port %d with no server listening", first+2)
	}
}
