package runner

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// readiness is how waiting for /health ended.
type readiness int

const (
	ready       readiness = iota // /health answered 200
	exitedEarly                  // the server process exited first
	timedOut                     // StartupTimeout passed
	interrupted                  // ctx was cancelled
)

// healthURL is http://H:P/health (reference §11.1).
func (r *Runner) healthURL() string {
	return "http://" + net.JoinHostPort(r.opts.Host, strconv.Itoa(r.opts.Port)) + "/health"
}

// health does one GET /health bounded by timeout and returns the HTTP status (0 when there was no answer).
func (r *Runner) health(ctx context.Context, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.healthURL(), nil)
	if err != nil {
		return 0
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return resp.StatusCode
}

// waitReady polls /health until it answers 200, the server exits, deadline passes or ctx is done. vLLM binds
// its socket early but listens only once the engine is up, so until then each poll is refused at once
// (reference §11.1). The first polls come quickly (10, 20, 40 ms...) and settle at readyPoll (100 ms), so
// readiness is noticed within ~100 ms; the process exit is noticed at once through srv.exited, not by polling.
func (r *Runner) waitReady(ctx context.Context, srv *proc, deadline time.Time) readiness {
	startup := time.NewTimer(time.Until(deadline))
	defer startup.Stop()
	every := 10 * time.Millisecond
	for {
		// One poll at a time; a poll that has no answer within readyTimeout counts as "not ready".
		pollCtx, cancel := context.WithCancel(ctx)
		status := make(chan int, 1)
		go func() { status <- r.health(pollCtx, r.readyTimeout) }()
		var got int
		select {
		case got = <-status:
		case <-srv.exited:
			cancel()
			return exitedEarly
		case <-startup.C:
			cancel()
			return timedOut
		case <-ctx.Done():
			cancel()
			return interrupted
		}
		cancel()
		if got == http.StatusOK {
			return ready
		}
		next := time.NewTimer(every)
		select {
		case <-next.C:
		case <-srv.exited:
			next.Stop()
			return exitedEarly
		case <-startup.C:
			next.Stop()
			return timedOut
		case <-ctx.Done():
			next.Stop()
			return interrupted
		}
		every = min(2*every, r.readyPoll)
	}
}
