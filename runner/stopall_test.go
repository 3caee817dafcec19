package runner

import (
	"context"
	"testing"
	"time"
)

// TestStopAll is the second Ctrl-C: the first cancels the trial, whose server ignores SIGTERM, so the runner
// waits out a ten-minute grace period; StopAll kills the server's group at once and the trial returns
// Interrupted without waiting for the grace period or for the port and GPU to be released. A trial started
// afterwards does not start a server.
func TestStopAll(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.opts.StopGrace = 10 * time.Minute
	r := f.runner()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan Process, 1)
	tr := f.trial([]string{"--fake-hold", "3000", "--fake-ignore-term"}, "--fake-sleep", "60s")
	tr.OnStart = func(p Process) { started <- p }
	done := make(chan Result, 1)
	go func() { done <- r.Run(ctx, tr) }()
	p := <-started
	// Let the server set up its SIGTERM handling, then interrupt once: the runner is now in the grace period.
	time.Sleep(500 * time.Millisecond)
	cancel()
	select {
	case res := <-done:
		t.Fatalf("the trial ended on the first interrupt (%s: %s), before its server's grace period", res.Class, res.Message)
	case <-time.After(time.Second):
	}
	r.StopAll()
	select {
	case res := <-done:
		wantClass(t, res, Interrupted)
		f.assertClean(res)
	case <-time.After(2 * time.Minute): // generous: without StopAll this takes the ten-minute grace period
		t.Fatalf("the trial did not return after StopAll; server %+v", p)
	}
	tr.OnStart = func(p Process) { t.Errorf("a server was started after StopAll: %+v", p) }
	wantClass(t, r.Run(context.Background(), tr), Interrupted)
}
