package runner

import (
	"os"
	"os/exec"
	"testing"
)

func TestStartTicks(t *testing.T) {
	a, err := StartTicks(os.Getpid())
	if err != nil || a == 0 {
		t.Fatalf("StartTicks(self) = %d, %v", a, err)
	}
	b, _ := StartTicks(os.Getpid())
	if a != b {
		t.Errorf("not stable: %d then %d", a, b)
	}
	if _, err := StartTicks(1 << 30); err == nil {
		t.Errorf("no error for a PID that cannot exist")
	}
}

// ProcessGone: this process is not gone under its own start time, is under another one (its PID reused), and a
// child that has exited and been reaped is gone, whatever start time it had.
func TestProcessGone(t *testing.T) {
	me := os.Getpid()
	start, err := StartTicks(me)
	if err != nil {
		t.Fatal(err)
	}
	if ProcessGone(me, start) {
		t.Error("this process is gone under its own start time")
	}
	if ProcessGone(me, 0) {
		t.Error("this process is gone with an unknown start time")
	}
	if !ProcessGone(me, start+1) {
		t.Error("this process under another start time (a reused PID) is not gone")
	}
	child := exec.Command("true")
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	if !ProcessGone(child.Process.Pid, 0) {
		t.Errorf("a reaped child (PID %d) is not gone", child.Process.Pid)
	}
}
