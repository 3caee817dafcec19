package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// benchArgv is the benchmark command of issue 3 / reference §13: the server's URL, the workload's flags, a
// known result path and the percentiles the objective needs, then Workload.ExtraArgs (argparse: a later flag
// wins).
func (r *Runner) benchArgv(w Workload, dir string) []string {
	argv := append([]string{}, r.opts.VLLM...)
	argv = append(argv, "bench", "serve",
		"--base-url", "http://"+net.JoinHostPort(r.opts.Host, strconv.Itoa(r.opts.Port))+"/v1")
	argv = append(argv, w.BenchFlags()...)
	argv = append(argv,
		"--save-result", "--result-dir", dir, "--result-filename", benchJSONName,
		"--percentile-metrics", "ttft,tpot,itl,e2el",
		"--metric-percentiles", "50,90,99",
	)
	return append(argv, w.ExtraArgs...)
}

// BenchFlags are the `vllm bench serve` flags that define the workload (what is scored), without the server
// URL, the result file and ExtraArgs: the run command and reports that describe the workload both use them.
func (w Workload) BenchFlags() []string {
	flags := []string{
		"--backend", w.Backend,
		"--endpoint", w.Endpoint,
		"--model", w.Model,
		"--tokenizer", w.Tokenizer,
		"--dataset-name", w.Dataset,
		"--max-concurrency", strconv.Itoa(w.MaxConcurrency),
		"--num-prompts", strconv.Itoa(w.NumPrompts),
		"--random-input-len", strconv.Itoa(w.InputLen),
		"--random-output-len", strconv.Itoa(w.OutputLen),
	}
	if w.IgnoreEOS {
		flags = append(flags, "--ignore-eos")
	}
	return append(flags, "--request-rate", w.RequestRate)
}

const benchJSONName = "bench.json"

// benchRun is how one run of the benchmark ended.
type benchRun struct {
	elapsed     time.Duration
	startErr    error    // could not start it
	serverDied  bool     // the server process exited while it ran
	unhealthy   bool     // /health answered 503 while it ran
	hung        bool     // BenchTimeout passed
	interrupted bool     // ctx was cancelled
	pruned      *Verdict // the watcher stopped it: its outcome was settled (Trial.Prune)
	exitText    string
	exitOK      bool
}

// benchmark runs the benchmark against the ready server, once more if it left no usable JSON while the server
// stayed up, and validates the result.
func (r *Runner) benchmark(ctx context.Context, srv *proc, w Workload, res *Result, rule *PruneRule) verdict {
	var lastErr error
	for attempt := 1; attempt <= 2; attempt++ {
		run := r.benchOnce(ctx, srv, res, attempt, lastErr, rule)
		res.Benchmark += run.elapsed
		switch {
		case run.pruned != nil:
			return verdict{class: Pruned, msg: run.pruned.Reason}
		case run.startErr != nil:
			return verdict{class: Harness, msg: fmt.Sprintf("start vllm bench serve: %v", run.startErr)}
		case run.interrupted:
			return verdict{class: Interrupted, msg: "interrupted during the benchmark; server stopped"}
		case run.serverDied:
			return verdict{after: benchCrash, msg: "vllm serve exited during the benchmark"}
		case run.unhealthy:
			return verdict{after: benchCrash, msg: "vllm serve /health answered 503 during the benchmark (engine dead)"}
		case run.hung:
			return verdict{class: BenchmarkFailed, log: res.BenchLog,
				msg: fmt.Sprintf("benchmark hung: vllm bench serve had not finished after %v; killed", r.opts.BenchTimeout)}
		}
		if up, why := r.serverUp(ctx, srv); !up {
			return verdict{after: benchCrash, msg: "vllm serve " + why + " during the benchmark"}
		}
		if !run.exitOK {
			return verdict{class: BenchmarkFailed, log: res.BenchLog,
				msg: fmt.Sprintf("vllm bench serve failed (%s)", run.exitText)}
		}
		data, err := os.ReadFile(res.BenchJSON)
		if err == nil {
			var b *Bench
			if b, err = ParseBench(data); err == nil {
				res.Bench = b
				return validate(b, res.BenchLog)
			}
		}
		lastErr = err
	}
	return verdict{class: BenchmarkFailed, log: res.BenchLog,
		msg: fmt.Sprintf("vllm bench serve left no usable %s twice: %v", benchJSONName, lastErr)}
}

// CheckBench checks what vLLM's benchmark does not: it exits 0 even when every request failed (§13.7). It
// returns RequestsFailed and why, or OK. Run applies it to every parsed result; harnesses that produce a Bench
// without running the benchmark (searchq) apply it too, so both judge results alike.
func CheckBench(b *Bench) (Class, string) {
	switch {
	case b.NumPrompts <= 0 || b.Completed != b.NumPrompts || b.Failed != 0:
		return RequestsFailed, fmt.Sprintf("%d of %d requests failed (%d completed)", b.Failed, b.NumPrompts, b.Completed)
	case !(b.OutputThroughput > 0) || math.IsInf(b.OutputThroughput, 0):
		return RequestsFailed, fmt.Sprintf("output throughput is %v although all %d requests completed", b.OutputThroughput, b.Completed)
	}
	return OK, ""
}

// validate is CheckBench with the evidence: the benchmark has finished, so its log is complete and the line
// that proves the failure is looked up here.
func validate(b *Bench, benchLog string) verdict {
	class, msg := CheckBench(b)
	if class == OK {
		return verdict{class: OK}
	}
	if why, ok := wrongServer(b, benchLog); ok {
		return verdict{class: Harness, log: benchLog, msg: why}
	}
	_, evidence, _ := classify(readLogEnd(benchLog, maxScan), -1, benchFailRules)
	return verdict{class: class, log: benchLog, evidence: evidence, msg: msg}
}

// serverUp reports whether the server process is alive and /health answers 200; else why not.
func (r *Runner) serverUp(ctx context.Context, srv *proc) (bool, string) {
	if srv.hasExited() {
		return false, "exited"
	}
	switch code := r.health(context.WithoutCancel(ctx), r.watchTimeout); code {
	case http.StatusOK:
		return true, ""
	case 0:
		return false, "stopped answering /health"
	default:
		return false, fmt.Sprintf("/health answered %d", code)
	}
}

// benchOnce runs the benchmark once while watching the server, and stops it at once when the server dies or
// turns unhealthy, BenchTimeout passes or ctx is done.
func (r *Runner) benchOnce(ctx context.Context, srv *proc, res *Result, attempt int, prevErr error, rule *PruneRule) (run benchRun) {
	if err := os.Remove(res.BenchJSON); err != nil && !errors.Is(err, os.ErrNotExist) {
		run.startErr = fmt.Errorf("remove old result: %w", err)
		return run
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if attempt > 1 {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(res.BenchLog, flags, 0o644)
	if err != nil {
		run.startErr = fmt.Errorf("open bench log: %w", err)
		return run
	}
	if attempt > 1 {
		fmt.Fprintf(f, "\n--- autotune: %s was missing or unusable (%v); running the benchmark again ---\n\n",
			benchJSONName, prevErr)
	}
	t0 := time.Now()
	bp, err := startProc(res.BenchArgv, r.opts.Env, f, f)
	f.Close()
	if err != nil {
		run.startErr = err
		return run
	}

	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	unhealthy := make(chan struct{})
	go r.watchHealth(watchCtx, unhealthy)
	pruned := make(chan Verdict, 1)
	var watch pruneWatch
	var watching sync.WaitGroup
	if rule != nil {
		watching.Add(1)
		go func() {
			defer watching.Done()
			r.watchMetrics(watchCtx, *rule, t0, r.scrapeEvery, &watch, pruned)
		}()
	}

	timeout := time.NewTimer(r.opts.BenchTimeout)
	defer timeout.Stop()
	select {
	case <-bp.exited:
	case <-srv.exited:
		run.serverDied = true
	case <-unhealthy:
		run.unhealthy = true
	case <-timeout.C:
		run.hung = true
	case <-ctx.Done():
		run.interrupted = true
	case v := <-pruned:
		run.pruned = &v
	}
	stopWatch()
	watching.Wait()
	res.Watch = append(res.Watch, watch.all()...)
	// The benchmark is our client: nothing to save when it has to go, so no grace. After a normal exit this
	// only sweeps stragglers of its group and reaps it.
	_ = terminate(bp, 0, time.Now().Add(r.opts.ReleaseTimeout))
	run.elapsed = time.Since(t0)
	run.exitText = bp.exitText()
	run.exitOK = bp.exitCode() == 0
	return run
}

// watchHealth polls /health while the benchmark runs and closes unhealthy on a 503, which vLLM answers once
// its engine is dead (EngineDeadError, reference §10.1, §11.1). Slow or missing answers are not a verdict:
// under load the API server can be slow, and a dead process is seen through its exit.
func (r *Runner) watchHealth(ctx context.Context, unhealthy chan<- struct{}) {
	t := time.NewTicker(r.watchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if r.health(ctx, r.watchTimeout) == http.StatusServiceUnavailable {
			close(unhealthy)
			return
		}
	}
}
