package runner

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// terminate stops the process group that p leads and reaps p: stopGroup, then reap.
func terminate(p *proc, grace time.Duration, deadline time.Time) error {
	err := stopGroup(p, grace, deadline, nil)
	reap(p, err)
	return err
}

// stopGroup stops the process group that p leads, without reaping p:
//
//  1. SIGTERM to the whole group (vLLM shuts down gracefully on it), unless grace is 0;
//  2. up to grace for the leader to exit, cut short when hurry is closed (a second Ctrl-C);
//  3. SIGKILL to the group, repeated until no live process is left in it: a forked engine core that outlives
//     the leader still holds GPU memory.
//
// Until reap, the leader's zombie keeps the group ID from being reused, so the signals of step 3 can only reach
// our own processes. It returns an error when live processes are still in the group at deadline.
func stopGroup(p *proc, grace time.Duration, deadline time.Time, hurry <-chan struct{}) error {
	pgid := p.pid
	if grace > 0 {
		_ = signalGroup(pgid, syscall.SIGTERM)
		t := time.NewTimer(grace)
		select {
		case <-p.exited:
		case <-t.C:
		case <-hurry:
		}
		t.Stop()
	}
	return sweep(pgid, deadline)
}

// reap lets p's leader be reaped after stopGroup returned err. From then on its group ID may be reused.
func reap(p *proc, err error) {
	// An empty group (err == nil) means the leader has exited too, even if its supervisor has not noticed yet:
	// wait for the reap, so that callers read its real exit status.
	if err == nil || p.hasExited() {
		p.release(5 * time.Second)
	} else {
		p.release(0) // still running after SIGKILL (stuck in the kernel?): let it be reaped whenever it exits
	}
}

// sweep sends SIGKILL to group pgid until no live process is left in it, polling with a short backoff.
func sweep(pgid int, deadline time.Time) error {
	backoff := time.Millisecond
	for {
		alive, err := groupAlive(pgid)
		if !alive && err == nil {
			return nil
		}
		_ = signalGroup(pgid, syscall.SIGKILL)
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("process group %d: %w", pgid, err)
			}
			return fmt.Errorf("process group %d still has live processes after SIGKILL", pgid)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

// waitReleased waits, polling with a short backoff and no fixed sleep, until host:port can be bound and every
// GPU's memory.used is back near its idle baseline; it gives up at deadline or when ctx is done.
func (r *Runner) waitReleased(ctx context.Context, host string, port int, deadline time.Time) error {
	backoff := 2 * time.Millisecond
	for {
		var err error
		if port > 0 { // 0: another program shares the port (see checkListeners); only the GPU can be waited for
			err = checkPort(host, port)
		}
		if err == nil {
			err = r.gpuIdle(ctx, deadline)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		if time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(min(backoff, time.Until(deadline)+time.Millisecond))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}

// gpuIdle returns nil when every GPU is at or near its idle baseline, and an error describing the GPUs that
// are not (or why nvidia-smi could not tell).
func (r *Runner) gpuIdle(ctx context.Context, deadline time.Time) error {
	d := time.Now().Add(r.smiTimeout)
	if late := deadline.Add(time.Second); late.Before(d) {
		d = late
	}
	ctx, cancel := context.WithDeadline(ctx, d)
	defer cancel()
	gpus, err := r.queryGPUs(ctx)
	if err != nil {
		return err
	}
	if busy := r.busyGPUs(gpus); len(busy) > 0 {
		return &gpuBusyError{busy: busy}
	}
	return nil
}

// stopServer stops the server group after a trial and waits for its port and GPU memory to be released.
// It ignores ctx cancellation for the stop itself (an interrupted trial must still leave a clean GPU), but not
// StopAll, which kills at once and does not wait.

// StopAll kills every server this Runner started and has not reaped yet, at once (SIGKILL to each process
// group, no grace period), and makes running and later trials return Interrupted without waiting for the port
// and the GPU to be released. It is for the second Ctrl-C: the caller then records the trial as interrupted
// and releases the study within moments instead of a grace period. It only signals groups whose leader is
// still unreaped, so the group IDs are ours.
func (r *Runner) StopAll() {
	r.liveMu.Lock()
	defer r.liveMu.Unlock()
	r.hurryOnce.Do(func() { close(r.hurry) })
	for p := range r.live {
		_ = signalGroup(p.pid, syscall.SIGKILL)
	}
}

// track records a server group until forget; a server started after StopAll is killed at once.
func (r *Runner) track(p *proc) {
	r.liveMu.Lock()
	defer r.liveMu.Unlock()
	r.live[p] = true
	if r.stopping() {
		_ = signalGroup(p.pid, syscall.SIGKILL)
	}
}

func (r *Runner) forget(p *proc) {
	r.liveMu.Lock()
	defer r.liveMu.Unlock()
	delete(r.live, p)
}

// stopping reports whether StopAll was called.
func (r *Runner) stopping() bool {
	select {
	case <-r.hurry:
		return true
	default:
		return false
	}
}
func (r *Runner) stopServer(ctx context.Context, srv *proc, sharedPort bool) (time.Duration, error) {
	t0 := time.Now()
	deadline := t0.Add(r.opts.StopGrace + r.opts.ReleaseTimeout)
	err := stopGroup(srv, r.opts.StopGrace, deadline, r.hurry)
	r.forget(srv) // before the reap: StopAll must never signal a group ID that may be reused
	reap(srv, err)
	if err != nil {
		return time.Since(t0), fmt.Errorf("stop vllm serve (pid %d): %w", srv.pid, err)
	}
	// After StopAll, do not wait for the port and the GPU: the trial is recorded as interrupted and the next
	// run's checks wait for them.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	go func() {
		select {
		case <-r.hurry:
			cancel()
		case <-rctx.Done():
		}
	}()
	port := r.opts.Port
	if sharedPort {
		port = 0
	}
	err = r.waitReleased(rctx, r.opts.Host, port, deadline)
	r.client.CloseIdleConnections()
	if err != nil {
		var busy *gpuBusyError
		if errors.As(err, &busy) {
			return time.Since(t0), fmt.Errorf("GPU memory not released within %v after the server stopped: %w; "+
				"some process outside the server's process group holds it", r.opts.ReleaseTimeout, err)
		}
		return time.Since(t0), fmt.Errorf("not released within %v after the server stopped: %w", r.opts.ReleaseTimeout, err)
	}
	return time.Since(t0), nil
}
