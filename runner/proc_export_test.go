package runner

import (
	"os"
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
