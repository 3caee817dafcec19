package runner

import (
	"context"
	"testing"
	"time"

	"github.com/autotune/autotune/runner/runnertest"
)

// TestStopAll is the second Ctrl-C: the first cancels the trial, whose server ignores SIGTERM, so the runner
// waits out a ten-minute grace period; StopAll kills the server's group at once and the trial returns
// Interrupted without waiting for the grace period or for the port and GPU to be released. A trial started
// afterwards does not start a server.
func TestStopAll(t *testing.T) {
	t.Parallel()
	f := newFake(t, runnertest.Config{})
	f.opts.StopGrace = 10 * time.Minute
	r := f.runner()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan Process, 1)
	tr := f.trial(runnertest.Serve{EngineMiB: 3000, IgnoreTerm: true}.Args(), runnertest.Bench{Hang: true}.Args()...)
	tr.OnStart = func(p Process) { started <- p }
	benchmarking, ignored := f.m.Await(t, runnertest.BenchRequest), f.m.Await(t, runnertest.TermIgnored)
	done := make(chan Result, 1)
	go func() { done <- r.Run(ctx, tr) }()
	p := <-started
	// Interrupt once the benchmark runs; once the server has ignored the SIGTERM, the runner is in the grace period.
	for _, ev := range []<-chan struct{}{benchmarking, ignored} {
		select {
		case <-ev:
		case res := <-done:
			t.Fatalf("the trial ended (%s: %s) before the benchmark ran and the interrupt was ignored", res.Class, res.Message)
		}
		cancel()
	}
	select {
	case res := <-done:
		t.Fatalf("the trial ended on the first interrupt (%s: %s), before its server's grace period", res.Class, res.Message)
	case <-time.After(time.Second): // a correct runner never ends here: a loaded machine only makes the check weaker
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
