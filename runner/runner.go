package runner

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"
)

// Runner runs trials on one machine, one at a time. It remembers each GPU's idle memory baseline between
// trials. Its methods may be called from several goroutines, but trials sharing a port or GPU must not overlap.
type Runner struct {
	opts   Options
	client *http.Client

	mu   sync.Mutex
	idle map[int]int // GPU index -> lowest memory.used seen, MiB

	liveMu    sync.Mutex
	live      map[*proc]bool // servers started and not yet reaped, for StopAll
	hurry     chan struct{}  // closed by StopAll
	hurryOnce sync.Once

	// Pacing; the defaults suit real vLLM, tests shorten some of them.
	readyPoll    time.Duration // longest gap between readiness polls
	readyTimeout time.Duration // per-request timeout of a readiness poll
	watchEvery   time.Duration // /health cadence during the benchmark
	scrapeEvery  time.Duration // /metrics cadence during a benchmark watched by a PruneRule
	watchTimeout time.Duration // per-request timeout of a /health check during the benchmark
	smiTimeout   time.Duration // bound on one nvidia-smi or python probe
	vllmTimeout  time.Duration // bound on `vllm --version` and `vllm serve --help`
}

// New returns a Runner; zero fields of opts take their documented defaults (VLLM: {"vllm"}). Options.Env is
// the whole environment of the server, the benchmark and the probes: nil means an empty one, never this
// process's.
func New(opts Options) *Runner {
	if len(opts.VLLM) == 0 {
		opts.VLLM = []string{"vllm"}
	}
	if len(opts.NvidiaSMI) == 0 {
		opts.NvidiaSMI = []string{"nvidia-smi"}
	}
	if opts.Host == "" {
		opts.Host = DefaultHost
	}
	if opts.Port == 0 {
		opts.Port = DefaultPort
	}
	setDefault(&opts.StartupTimeout, 10*time.Minute)
	setDefault(&opts.BenchTimeout, 20*time.Minute)
	setDefault(&opts.ScrapeEvery, scrapeEvery)
	setDefault(&opts.StopGrace, 30*time.Second)
	setDefault(&opts.ReleaseTimeout, 2*time.Minute)
	opts.VLLM = append([]string{}, opts.VLLM...)
	opts.NvidiaSMI = append([]string{}, opts.NvidiaSMI...)
	opts.Env = append([]string{}, opts.Env...)
	return &Runner{
		opts: opts,
		client: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // never route /health through an HTTP_PROXY
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     30 * time.Second,
		}},
		idle:         map[int]int{},
		live:         map[*proc]bool{},
		hurry:        make(chan struct{}),
		readyPoll:    100 * time.Millisecond,
		readyTimeout: time.Second,
		watchEvery:   500 * time.Millisecond,
		scrapeEvery:  opts.ScrapeEvery,
		watchTimeout: 5 * time.Second,
		smiTimeout:   30 * time.Second,
		vllmTimeout:  3 * time.Minute,
	}
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

// withDefaults fills the zero fields of w from DefaultWorkload; the zero Workload is DefaultWorkload itself
// (IgnoreEOS included, which a partly filled Workload keeps as given).
func (w Workload) withDefaults() Workload {
	d := DefaultWorkload()
	if reflect.ValueOf(w).IsZero() { // every field unset, IgnoreEOS included
		return d
	}
	str := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	num := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	str(&w.Model, d.Model)
	str(&w.Tokenizer, w.Model)
	str(&w.Backend, d.Backend)
	str(&w.Endpoint, d.Endpoint)
	str(&w.Dataset, d.Dataset)
	str(&w.RequestRate, d.RequestRate)
	num(&w.MaxConcurrency, d.MaxConcurrency)
	num(&w.NumPrompts, d.NumPrompts)
	num(&w.InputLen, d.InputLen)
	num(&w.OutputLen, d.OutputLen)
	return w
}

// verdict is how a trial ended, before Result is filled from it.
type verdict struct {
	class    Class
	msg      string
	log      string // the log whose tail proves the class
	evidence string // the line that matched a rule, if any
	after    postCheck
	// sharedPort: another program listens on the trial's port too, so the stop does not wait for the port.
	sharedPort bool
}

// postCheck is a verdict that can only be reached once the server is stopped and reaped, its log complete.
type postCheck int

const (
	noCheck     postCheck = iota
	startupExit           // exited during startup: classify server.log with the exit status
	benchCrash            // died or turned unhealthy during the benchmark: out of memory, or a crash
)

// Files are where Run writes a trial's server log, benchmark log and benchmark JSON in the trial folder dir,
// so that a caller can say where to look while the trial still runs.
func Files(dir string) (serverLog, benchLog, benchJSON string) {
	return filepath.Join(dir, "server.log"), filepath.Join(dir, "bench.log"), filepath.Join(dir, benchJSONName)
}

// Run runs one trial: checks, start, readiness, benchmark, stop, release, classification (see the package
// doc). It never panics; every failure is a Class with a one-line Message and the log lines that prove it. The
// server is stopped on every path, a cancelled ctx included (the result is then Interrupted).
//
// The server is `<VLLM...> serve MODEL --host H --port P <Trial.Args>`, MODEL being Trial.Model or else
// Workload.Model. The benchmark is
//
//	<VLLM...> bench serve --base-url http://H:P/v1 --backend openai --endpoint /completions --model M
//	  --tokenizer T --dataset-name random --max-concurrency 50 --num-prompts 200 --random-input-len 512
//	  --random-output-len 512 --ignore-eos --request-rate inf --save-result --result-dir <Trial.Dir>
//	  --result-filename bench.json --percentile-metrics ttft,tpot,itl,e2el --metric-percentiles 50,90,99
//	  <Workload.ExtraArgs>
//
// with the values of Trial.Workload, whose zero fields take DefaultWorkload's (the zero Workload is
// DefaultWorkload). The benchmark gets Options.Env only; Trial.Env is for the server.
func (r *Runner) Run(ctx context.Context, t Trial) (res Result) {
	defer func() {
		if v := recover(); v != nil {
			res.Class, res.Message = Harness, fmt.Sprintf("runner: internal error: %v", v)
		}
	}()
	w := t.Workload.withDefaults()
	model := t.Model
	if model == "" {
		model = w.Model
	}
	res.ServeArgv = r.serveArgv(model, t.Args)
	res.BenchArgv = r.benchArgv(w, t.Dir)
	res.ServerLog, res.BenchLog, res.BenchJSON = Files(t.Dir)

	v := r.run(ctx, &t, w, &res)

	res.Class, res.Message = v.class, v.msg
	if v.class != OK && v.log != "" {
		res.LogTail = logTail(v.log, v.evidence)
	}
	return res
}

func (r *Runner) run(ctx context.Context, t *Trial, w Workload, res *Result) (v verdict) {
	if ctx.Err() != nil || r.stopping() {
		return verdict{class: Interrupted, msg: "interrupted before the server started"}
	}
	if t.Dir == "" {
		return verdict{class: Harness, msg: "trial has no directory"}
	}
	if err := os.MkdirAll(t.Dir, 0o755); err != nil {
		return verdict{class: Harness, msg: fmt.Sprintf("create trial directory: %v", err)}
	}
	if err := checkPort(r.opts.Host, r.opts.Port); err != nil {
		return verdict{class: Harness, msg: err.Error()}
	}
	if err := r.checkGPU(ctx); err != nil {
		if ctx.Err() != nil {
			return verdict{class: Interrupted, msg: "interrupted before the server started"}
		}
		return verdict{class: Harness, msg: err.Error()}
	}
	srv, err := r.startServer(t, res)
	if err != nil {
		return verdict{class: Harness, msg: err.Error()}
	}

	stopped := false
	defer func() {
		if !stopped { // a panic below (ours, or OnStart's): still leave no server behind
			_, _ = r.stopServer(ctx, srv, false)
		}
	}()
	v = r.drive(ctx, t, w, srv, res)
	td, stopErr := r.stopServer(ctx, srv, v.sharedPort)
	stopped = true
	res.Teardown = td

	switch v.after {
	case startupExit:
		v = startupVerdict(srv, res.ServerLog)
	case benchCrash:
		v = crashVerdict(v.msg, res.ServerLog)
	}
	if stopErr != nil {
		if v.class == Interrupted {
			v.msg += "; " + stopErr.Error()
		} else {
			prev := "succeeded"
			if v.class != OK {
				prev = string(v.class) + ": " + v.msg
			}
			v = verdict{class: Harness, msg: fmt.Sprintf("%v (the trial itself %s)", stopErr, prev), log: v.log,
				evidence: v.evidence}
		}
	}
	return v
}

// drive calls OnStart, waits for readiness and runs the benchmark, checking before and after it that only the
// trial's server listens on the port (see listeners.go).
func (r *Runner) drive(ctx context.Context, t *Trial, w Workload, srv *proc, res *Result) verdict {
	if t.OnStart != nil {
		t.OnStart(res.Process)
	}
	switch r.waitReady(ctx, srv, srv.started.Add(r.opts.StartupTimeout)) {
	case exitedEarly:
		return verdict{after: startupExit}
	case timedOut:
		return verdict{class: StartupTimeout, log: res.ServerLog,
			msg: fmt.Sprintf("vllm serve did not answer /health with 200 within %v", r.opts.StartupTimeout)}
	case interrupted:
		return verdict{class: Interrupted, msg: "interrupted during server startup; server stopped"}
	}
	res.Startup = time.Since(srv.started)
	if err := r.checkListeners(srv, "once the server was ready"); err != nil {
		return verdict{class: Harness, msg: err.Error(), sharedPort: true}
	}
	v := r.benchmark(ctx, srv, w, res, t.Prune)
	if v.class != Interrupted {
		if err := r.checkListeners(srv, "after the benchmark"); err != nil {
			return verdict{class: Harness, msg: err.Error(), sharedPort: true}
		}
	}
	return v
}

// startupVerdict classifies a server that exited before it was ready.
func startupVerdict(srv *proc, serverLog string) verdict {
	code := srv.exitCode()
	if rl, line, ok := classify(readLogEnd(serverLog, maxScan), code, startupRules); ok {
		return verdict{class: rl.class, log: serverLog, evidence: line,
			msg: fmt.Sprintf("%s (vllm serve %s): %s", rl.why, srv.exitText(), clip(line, 300))}
	}
	return verdict{class: StartupCrash, log: serverLog,
		msg: fmt.Sprintf("vllm serve %s during startup, with no known cause in its log", srv.exitText())}
}

// crashVerdict classifies a server that died or turned unhealthy under load.
func crashVerdict(what, serverLog string) verdict {
	rl, line, ok := classify(readLogEnd(serverLog, maxScan), -1, benchCrashRules)
	if ok && rl.class == OutOfMemory {
		return verdict{class: OutOfMemory, log: serverLog, evidence: line,
			msg: fmt.Sprintf("%s: %s", what, clip(line, 300))}
	}
	return verdict{class: CrashedDuringBenchmark, log: serverLog, evidence: line, msg: what}
}

// classifyBenchCrash classifies the log of a server that died or turned unhealthy under load.
func classifyBenchCrash(log []byte) (Class, string) {
	rl, line, ok := classify(log, -1, benchCrashRules)
	if ok && rl.class == OutOfMemory {
		return OutOfMemory, line
	}
	return CrashedDuringBenchmark, line
}
