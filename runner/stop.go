package runner

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// terminate stops the process group that p leads and reaps p:
//
//  1. SIGTERM to the whole group (vLLM shuts down gracefully on it), unless grace is 0;
//  2. up to grace for the leader to exit;
//  3. SIGKILL to the group, repeated until no live process is left in it: a forked engine core that outlives
//     the leader still holds GPU memory;
//  4. reap the leader. Until then its zombie keeps the group ID from being reused, so the signals of step 3 can
//     only reach our own processes.
//
// It returns an error when live processes are still in the group at deadline.
func terminate(p *proc, grace time.Duration, deadline time.Time) error {
	pgid := p.pid
	if grace > 0 {
		_ = signalGroup(pgid, syscall.SIGTERM)
		t := time.NewTimer(grace)
		select {
		case <-p.exited:
		case <-t.C:
		}
		t.Stop()
	}
	err := sweep(pgid, deadline)
	// An empty group (err == nil) means the leader has exited too, even if its supervisor has not noticed yet:
	// wait for the reap, so that callers read its real exit status.
	if err == nil || p.hasExited() {
		p.release(5 * time.Second)
	} else {
		p.release(0) // still running after SIGKILL (stuck in the kernel?): let it be reaped whenever it exits
	}
	return err
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
		err := checkPort(host, port)
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
// It ignores ctx cancellation for the stop itself (an interrupted trial must still leave a clean GPU).
func (r *Runner) stopServer(ctx context.Context, srv *proc) (time.Duration, error) {
	t0 := time.Now()
	deadline := t0.Add(r.opts.StopGrace + r.opts.ReleaseTimeout)
	if err := terminate(srv, r.opts.StopGrace, deadline); err != nil {
		return time.Since(t0), fmt.Errorf("stop vllm serve (pid %d): %w", srv.pid, err)
	}
	err := r.waitReleased(context.WithoutCancel(ctx), r.opts.Host, r.opts.Port, deadline)
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
