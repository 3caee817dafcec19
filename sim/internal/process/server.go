package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/autotune/autotune/sim/internal/model"
)

// This file is `serve`: the simulated startup (log lines, GPU memory records, compile cache), then a real HTTP
// server with vLLM's endpoints, until SIGTERM/SIGINT.

// lockedWriter serialises log lines from the HTTP goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, s+"\n")
}

type server struct {
	e          *model.Engine
	mem        model.MemPlan
	st         *State
	speed      float64
	faults     faultSet
	noise      float64
	seed       uint64
	acceptance float64
	pid        int
	engPID     int
	holderPID  int // the forked engine-core child (fork_holder), 0 if none
	gpu        int // the simulated GPU it runs on (CUDA_VISIBLE_DEVICES)
	out, errw  *lockedWriter
	accessLog  bool
	created    int64

	dead   atomic.Bool
	runs   atomic.Int64
	active atomic.Int64
	exit   chan int // a fatal fault asks the main loop to exit with this code

	mu      sync.Mutex
	metrics serverMetrics
}

type serverMetrics struct {
	promptTokens, success, preemptions int64
	drafts, draftTokens, accepted      int64
	acceptedPerPos                     []int64
	running, waiting                   int
	ttftSum, e2eSum                    float64
	ttftCount                          int64
	// gen, ttft and itl hold the finished benchmarks' generation tokens and latency histograms; live is the
	// benchmark running now, whose share handleMetrics computes from its requests' timelines (LiveAt).
	gen       float64
	ttft, itl model.Hist
	live      *liveBench
}

// liveBench is a benchmark being served: its requests and when it started.
type liveBench struct {
	results []model.RequestResult
	begin   time.Time
}

func (s *server) log(proc, level, src, msg string) {
	pid := s.pid
	if proc == "EngineCore_DP0" {
		pid = s.engPID
	}
	s.out.line(fmt.Sprintf("(%s pid=%d) %s %s [%s] %s", proc, pid, level, time.Now().Format("01-02 15:04:05"), src, msg))
}

// sleepScaled sleeps d simulated seconds, or until ctx is done (false).
func sleepUntil(ctx context.Context, deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// simSince is the simulated time since start.
func (s *server) simSince(start time.Time) float64 { return time.Since(start).Seconds() * s.speed }

// add folds one benchmark's live metrics into the totals.
func (m *serverMetrics) add(lm model.LiveMetrics) {
	m.gen += lm.GenerationTokens
	m.ttft = m.ttft.Plus(lm.TTFT)
	m.itl = m.itl.Plus(lm.ITL)
}

func (s *server) at(start time.Time, simSeconds float64) time.Time {
	return start.Add(time.Duration(simSeconds / s.speed * float64(time.Second)))
}

// hold records the GPU memory this server (or its forked engine core) holds.
func (s *server) hold(giB float64) {
	mib := int(math.Round(giB * 1024))
	pid := s.pid
	if s.holderPID != 0 {
		pid = s.holderPID
	}
	s.st.SetGPUOn(pid, mib, s.gpu)
}

// forkHolder starts the engine-core child of the fork_holder fault: a re-exec of this executable with the
// same leading arguments, in the same process group, that holds the GPU-memory record until it is killed.
func (s *server) forkHolder(leading []string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := append(append([]string(nil), leading...), "engine-core", "--parent", fmt.Sprint(s.pid))
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	s.holderPID = cmd.Process.Pid
	s.engPID = cmd.Process.Pid
	go cmd.Wait() // reap it if it dies while we live
	return nil
}

func listenReusePort(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			// vLLM binds with SO_REUSEADDR and SO_REUSEPORT (vllm.md §10.3).
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			if serr == nil {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

// serve is `vllm serve`.
func serve(ctx context.Context, cfg Config, args, leading []string, stdout, stderr io.Writer) int {
	out, errw := &lockedWriter{w: stdout}, &lockedWriter{w: stderr}
	out.line(model.Banner)
	a, err := model.ParseServeArgs(args)
	if err != nil {
		var ae *model.ArgError
		if errors.As(err, &ae) {
			io.WriteString(stderr, ae.Text())
		} else {
			fmt.Fprintln(stderr, err)
		}
		return 2
	}
	if a.Help != "" {
		io.WriteString(stdout, model.ServeHelp(a.Help))
		return 0
	}
	env := cfg.modelEnv()
	e, fail := model.ResolveEngine(a, env)
	if fail != nil && fail.Phase == model.PhaseParse {
		// The simulator's own refusal (a model it does not model): not vLLM's text, and said so.
		errw.line(fail.Text())
		return 1
	}
	st, err := OpenState(cfg.StateDir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	gpu, gerr := cfg.VisibleGPU()
	if gerr != nil {
		errw.line(gerr.Error())
		return 1
	}
	faults := cfg.Faults
	if faults[FaultIgnoreSIGTERM] {
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
	}
	sig := make(chan os.Signal, 2)
	if !faults[FaultIgnoreSIGTERM] {
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		defer signal.Stop(sig)
	}
	s := &server{e: e, st: st, speed: cfg.Speed, faults: faults, pid: os.Getpid(), out: out, errw: errw,
		exit: make(chan int, 1), created: time.Now().Unix(), gpu: gpu, acceptance: cfg.Acceptance}
	s.engPID = s.pid + 1
	counter := st.NextStart()
	var ch uint64
	if e != nil {
		ch = model.ConfigHash(e)
		s.accessLog = !(a.Bool("disable_uvicorn_access_log") != nil && *a.Bool("disable_uvicorn_access_log"))
	}
	s.seed = mix(cfg.Seed, uint64(counter), ch)
	rng := rand.New(rand.NewPCG(s.seed, 0x57a7))
	if e != nil {
		s.noise = model.StartNoise(rng)
		switch {
		case faults[FaultStartupCrash]:
			e.SetLate(model.EngineFail(model.PhaseCompile, "RuntimeError: simulated engine core crash during initialization (AUTOTUNE_SIM_FAULT=startup_crash)"))
		case faults[FaultOOMStartup]:
			e.SetLate(model.EngineFail(model.PhaseProfile, model.TorchOOM(2.0, 0.4, 0)))
		case faults[FaultNoKernelImage]:
			// The text real vLLM prints at device init when its wheel has no kernels for the GPU (vLLM issue
			// #14452, runner/testdata/failures/no-kernel-image-rtx50-2025-07.log).
			e.SetLate(model.EngineFail(model.PhaseDevice, "RuntimeError: CUDA error: no kernel image is available for execution on the device"))
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sig:
			cancel()
		case <-ctx.Done():
		}
	}()
	ownPID := s.pid
	defer func() {
		st.SetGPU(ownPID, 0)
	}()

	othersGiB := float64(st.GPUUsedMiBOn(s.gpu, s.pid)) / 1024
	cold, cacheDir := false, ""
	if e != nil {
		key := e.CompileKey()
		cacheDir = st.CompileDir(key)
		cold = !st.Compiled(key) || env.DisableCCache
	}
	plan := model.PlanStartup(a, e, fail, othersGiB, cold, cacheDir, rng)
	slow := 1.0
	if faults[FaultSlowStartup] {
		slow = 10
	}
	start := time.Now()
	var ln net.Listener
	for _, ev := range plan.Events {
		if ev.Listen && faults[FaultHang] {
			<-ctx.Done()
			return s.shutdown(nil, "")
		}
		if !sleepUntil(ctx, s.at(start, ev.At*slow)) {
			return s.shutdown(nil, "")
		}
		switch {
		case ev.HoldGiB > 0:
			if faults[FaultForkHolder] && s.holderPID == 0 {
				if err := s.forkHolder(leading); err != nil {
					errw.line("autotune sim: fork_holder: " + err.Error())
				}
			}
			s.hold(ev.HoldGiB)
			continue
		case ev.Compile:
			if cold && e != nil {
				st.MarkCompiled(e.CompileKey())
			}
			continue
		case ev.Listen:
			host := e.Host
			ln, err = listenReusePort(net.JoinHostPort(host, fmt.Sprint(e.Port)))
			if err != nil {
				errw.line(fmt.Sprintf("Traceback (most recent call last):\n  File \"vllm/entrypoints/openai/api_server.py\", line 553, in create_server_socket\n    sock.bind(addr)\nOSError: [Errno 98] Address already in use (%v)", err))
				return 1
			}
		}
		line := model.FormatLog(ev, s.pid, s.engPID, time.Now().Format("01-02 15:04:05"))
		if ev.Stderr {
			errw.line(line)
		} else {
			out.line(line)
		}
	}
	if plan.Fail != nil {
		return 1
	}
	s.mem = plan.Mem
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	select {
	case <-ctx.Done():
		return s.shutdown(srv, "")
	case code := <-s.exit:
		srv.Close()
		return code
	}
}

// shutdown is vLLM's graceful exit on SIGTERM/SIGINT (launcher.py:97-122): in-flight requests are aborted
// (0.15 has no --shutdown-timeout; later versions abort at its default, 0) and the process exits 0.
func (s *server) shutdown(srv *http.Server, _ string) int {
	s.log("APIServer", "INFO", "launcher.py:110", "Shutting down FastAPI HTTP server.")
	if srv != nil {
		srv.Close()
	}
	s.out.line(fmt.Sprintf("(APIServer pid=%d) INFO:     Shutting down", s.pid))
	s.out.line(fmt.Sprintf("(APIServer pid=%d) INFO:     Waiting for application shutdown.", s.pid))
	s.out.line(fmt.Sprintf("(APIServer pid=%d) INFO:     Application shutdown complete.", s.pid))
	return 0
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	health := func(w http.ResponseWriter, r *http.Request) {
		if s.faults[FaultSlowHealth] {
			time.Sleep(2 * time.Second)
		}
		if s.dead.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
	mux.HandleFunc("/health", health)
	mux.HandleFunc("/ping", health)
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"version": model.VLLMVersion, "simulated": true})
	})
	mux.HandleFunc("/v1/models", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{map[string]any{
			"id": s.e.ServedName, "object": "model", "created": s.created, "owned_by": "vllm", "root": s.e.Model,
			"parent": nil, "max_model_len": s.mem.MaxModelLen, "simulated": true}}})
	})
	mux.HandleFunc("/metrics", s.handleMetrics)
	mux.HandleFunc("/v1/completions", s.handleCompletions)
	mux.HandleFunc(model.BenchRoute, s.handleBench)
	if !s.accessLog {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: 200}
		mux.ServeHTTP(rec, r)
		s.out.line(fmt.Sprintf("(APIServer pid=%d) INFO:     %s - \"%s %s HTTP/1.1\" %d %s", s.pid, r.RemoteAddr, r.Method, r.URL.Path, rec.code, http.StatusText(rec.code)))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(c int) { r.code = c; r.ResponseWriter.WriteHeader(c) }
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// openAIError is vLLM's error body.
func openAIError(w http.ResponseWriter, code int, typ, msg string) {
	writeJSON(w, code, map[string]any{"object": "error", "message": msg, "type": typ, "param": nil, "code": code})
}

// benchRequest is what `bench serve` posts to the private endpoint: the workload, not 100k SSE chunks.
type benchRequest struct {
	model.Workload
	RequestRateInf bool `json:"request_rate_inf"`
}

// benchRecord is one NDJSON line of the answer: a request's measurements at its completion time T (simulated
// seconds since the run started), or the final line.
type benchRecord struct {
	I     int                  `json:"i"`
	T     float64              `json:"t"`
	R     *model.RequestResult `json:"r,omitempty"`
	Done  bool                 `json:"done,omitempty"`
	Stats *model.RunStats      `json:"stats,omitempty"`
}

// handleBench simulates a whole benchmark run (DES), then streams each request's result at its (scaled)
// wall-clock completion time, so the benchmark takes real time and a crash truncates the stream.
func (s *server) handleBench(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var req benchRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		openAIError(w, http.StatusBadRequest, "BadRequestError", err.Error())
		return
	}
	if s.dead.Load() {
		openAIError(w, http.StatusInternalServerError, "EngineDeadError", "EngineCore encountered an issue. See stack trace (above) for the root cause.")
		return
	}
	wl := req.Workload
	if req.RequestRateInf {
		wl.RequestRate = math.Inf(1)
	}
	if wl.Acceptance <= 0 {
		wl.Acceptance = s.acceptance
	}
	run := s.runs.Add(1)
	rng := rand.New(rand.NewPCG(s.seed, uint64(run)))
	results, stats := model.RunBench(s.e, s.mem, wl, s.noise, rng)
	order := make([]int, len(results))
	end := make([]float64, len(results))
	for i := range results {
		order[i] = i
		end[i] = results[i].Start + results[i].Latency
		if results[i].Error != "" {
			end[i] = results[i].Start + 2*model.NetDelay
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return end[order[a]] < end[order[b]] })
	fault := s.faults.midBench()
	faultAt := math.Inf(1)
	if fault != "" {
		faultAt = stats.Duration / 2
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	begin := time.Now()
	s.mu.Lock()
	s.metrics.running = min(len(results), max(1, wl.MaxConcurrency))
	s.metrics.live = &liveBench{results: results, begin: begin}
	s.mu.Unlock()
	defer func() {
		// Fold what this benchmark generated into the totals, up to where it got.
		s.mu.Lock()
		defer s.mu.Unlock()
		lm := model.LiveAt(results, math.Min(s.simSince(begin), stats.Duration))
		s.metrics.add(lm)
		s.metrics.live = nil
	}()
	for _, i := range order {
		t := end[i]
		if t > faultAt {
			if !sleepUntil(r.Context(), s.at(begin, faultAt)) {
				return
			}
			s.strike(fault)
			return
		}
		if !sleepUntil(r.Context(), s.at(begin, t)) {
			return
		}
		rec := benchRecord{I: i, T: t, R: &results[i]}
		if err := enc.Encode(&rec); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		s.count(&results[i])
	}
	s.mu.Lock()
	s.metrics.running = 0
	s.metrics.preemptions += stats.Preemptions
	s.metrics.drafts += stats.Drafts
	s.metrics.draftTokens += stats.DraftTokens
	s.metrics.accepted += stats.Accepted
	if len(stats.AcceptedPerPos) > len(s.metrics.acceptedPerPos) {
		s.metrics.acceptedPerPos = append(s.metrics.acceptedPerPos, make([]int64, len(stats.AcceptedPerPos)-len(s.metrics.acceptedPerPos))...)
	}
	for p, v := range stats.AcceptedPerPos {
		s.metrics.acceptedPerPos[p] += v
	}
	s.mu.Unlock()
	enc.Encode(&benchRecord{Done: true, T: stats.Duration, Stats: &stats})
}

func (s *server) count(r *model.RequestResult) {
	if r.Error != "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metrics.promptTokens += int64(r.PromptLen)
	s.metrics.success++
	s.metrics.ttftSum += r.TTFT
	s.metrics.e2eSum += r.Latency
	s.metrics.ttftCount++
}

// strike applies a mid-benchmark fault.
func (s *server) strike(fault string) {
	switch fault {
	case FaultUnhealthyMidBench:
		s.dead.Store(true)
		s.log("EngineCore_DP0", "ERROR", "core.py:1160", "EngineCore encountered a fatal error.")
		s.errw.line("Traceback (most recent call last):\n  File \"vllm/v1/engine/core.py\", line 1160, in run_engine_core\nRuntimeError: simulated engine failure (AUTOTUNE_SIM_FAULT=unhealthy_mid_bench)")
		s.errw.line(fmt.Sprintf("(APIServer pid=%d) ERROR %s [async_llm.py:480] EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.", s.pid, time.Now().Format("01-02 15:04:05")))
	case FaultOOMMidBench:
		s.errw.line(fmt.Sprintf("(EngineCore_DP0 pid=%d) ERROR %s [core.py:1160] %s", s.engPID, time.Now().Format("01-02 15:04:05"), model.TorchOOM(0.59, 0.02, 0)))
		fallthrough
	default:
		s.log("EngineCore_DP0", "ERROR", "core.py:1160", "EngineCore encountered a fatal error.")
		s.errw.line(fmt.Sprintf("(APIServer pid=%d) ERROR %s [async_llm.py:480] EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.", s.pid, time.Now().Format("01-02 15:04:05")))
		select {
		case s.exit <- 1:
		default:
		}
	}
}

func (s *server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	m := s.metrics
	m.acceptedPerPos = append([]int64(nil), s.metrics.acceptedPerPos...)
	m.ttft, m.itl = m.ttft.Clone(), m.itl.Clone()
	if lb := m.live; lb != nil {
		lm := model.LiveAt(lb.results, s.simSince(lb.begin))
		m.add(lm)
		m.running = lm.Running
	}
	s.mu.Unlock()
	lbl := fmt.Sprintf(`{engine="0",model_name="%s"}`, s.e.ServedName)
	var b strings.Builder
	b.WriteString("# autotune sim: SIMULATED vLLM 0.15.1 metrics — not a measurement\n")
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s%s %g\n", name, help, name, name, lbl, v)
	}
	counter := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n%s_total%s %g\n", name, help, name, name, lbl, v)
	}
	gauge("vllm:num_requests_running", "Number of requests in model execution batches.", float64(m.running))
	gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", float64(m.waiting))
	kvUse := 0.0
	if s.mem.KVTokens > 0 {
		kvUse = math.Min(1, float64(m.running)*1024/float64(s.mem.KVTokens))
	}
	gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", kvUse)
	counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.", float64(m.preemptions))
	counter("vllm:prompt_tokens", "Number of prefill tokens processed.", float64(m.promptTokens))
	counter("vllm:generation_tokens", "Number of generation tokens processed.", math.Floor(m.gen))
	fmt.Fprintf(&b, "# HELP vllm:request_success Count of successfully processed requests.\n# TYPE vllm:request_success counter\nvllm:request_success_total{engine=\"0\",finished_reason=\"length\",model_name=\"%s\"} %d\n", s.e.ServedName, m.success)
	counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.", float64(m.promptTokens))
	counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", 0)
	inner := strings.TrimSuffix(strings.TrimPrefix(lbl, "{"), "}")
	m.ttft.Write(&b, "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", inner)
	m.itl.Write(&b, "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", inner)
	fmt.Fprintf(&b, "# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.\n# TYPE vllm:e2e_request_latency_seconds histogram\nvllm:e2e_request_latency_seconds_sum%s %g\nvllm:e2e_request_latency_seconds_count%s %d\n", lbl, m.e2eSum, lbl, m.ttftCount)
	if s.e.Spec != nil {
		counter("vllm:spec_decode_num_drafts", "Number of spec decoding drafts.", float64(m.drafts))
		counter("vllm:spec_decode_num_draft_tokens", "Number of draft tokens.", float64(m.draftTokens))
		counter("vllm:spec_decode_num_accepted_tokens", "Number of accepted tokens.", float64(m.accepted))
		b.WriteString("# HELP vllm:spec_decode_num_accepted_tokens_per_pos Accepted tokens per draft position.\n# TYPE vllm:spec_decode_num_accepted_tokens_per_pos counter\n")
		for p := 0; p < s.e.Spec.K; p++ {
			v := int64(0)
			if p < len(m.acceptedPerPos) {
				v = m.acceptedPerPos[p]
			}
			fmt.Fprintf(&b, "vllm:spec_decode_num_accepted_tokens_per_pos_total{engine=\"0\",model_name=\"%s\",position=\"%d\"} %d\n", s.e.ServedName, p, v)
		}
	}
	fmt.Fprintf(&b, "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n# TYPE vllm:cache_config_info gauge\nvllm:cache_config_info{block_size=\"%d\",cache_dtype=\"%s\",engine=\"0\",gpu_memory_utilization=\"%g\",num_gpu_blocks=\"%d\",simulated=\"true\"} 1.0\n",
		s.e.BlockSize, s.e.KVDtype, s.e.Util, s.mem.KVBlocks)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	io.WriteString(w, b.String())
}

// handleCompletions is /v1/completions, streaming (SSE) or not, paced by the cost model for the requests in
// flight through this endpoint.
func (s *server) handleCompletions(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		Model         string          `json:"model"`
		Prompt        json.RawMessage `json:"prompt"`
		MaxTokens     *int            `json:"max_tokens"`
		Stream        bool            `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		openAIError(w, http.StatusBadRequest, "BadRequestError", "invalid JSON: "+err.Error())
		return
	}
	if s.dead.Load() {
		openAIError(w, http.StatusInternalServerError, "EngineDeadError", "EngineCore encountered an issue. See stack trace (above) for the root cause.")
		return
	}
	if req.Model != "" && req.Model != s.e.ServedName {
		openAIError(w, http.StatusNotFound, "NotFoundError", fmt.Sprintf("The model `%s` does not exist.", req.Model))
		return
	}
	promptLen := promptTokens(req.Prompt)
	maxTok := 16
	if req.MaxTokens != nil {
		maxTok = *req.MaxTokens
	}
	if promptLen+maxTok > s.mem.MaxModelLen {
		openAIError(w, http.StatusBadRequest, "BadRequestError", fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d output tokens and your prompt contains %d input tokens, for a total of %d tokens. Please reduce the length of the input prompt or the number of requested output tokens.", s.mem.MaxModelLen, maxTok, promptLen, promptLen+maxTok))
		return
	}
	active := int(s.active.Add(1))
	defer s.active.Add(-1)
	pace := model.NewCompletion(s.e, promptLen)
	id := fmt.Sprintf("cmpl-sim%d", time.Now().UnixNano())
	created := time.Now().Unix()
	begin := time.Now()
	simT := pace.First()
	flusher, _ := w.(http.Flusher)
	chunk := func(text string, finish any) map[string]any {
		return map[string]any{"id": id, "object": "text_completion", "created": created, "model": s.e.ServedName,
			"choices": []any{map[string]any{"index": 0, "text": text, "logprobs": nil, "finish_reason": finish, "stop_reason": nil}}}
	}
	if req.Stream {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
	}
	var text strings.Builder
	pending := ""
	sent := 0
	for i := 1; i <= maxTok; i++ {
		if i > 1 {
			simT += pace.Next(active, i)
		}
		if !sleepUntil(r.Context(), s.at(begin, simT)) {
			return
		}
		tok := simWords[(i*7+promptLen)%len(simWords)]
		text.WriteString(tok)
		pending += tok
		if req.Stream && (sent == 0 || i == maxTok || i-sent >= s.e.StreamInterval) {
			var finish any
			if i == maxTok {
				finish = "length"
			}
			writeSSE(w, chunk(pending, finish))
			if flusher != nil {
				flusher.Flush()
			}
			pending, sent = "", i
		}
	}
	s.count(&model.RequestResult{PromptLen: promptLen, OutputLen: maxTok, TTFT: 0, Latency: time.Since(begin).Seconds()})
	usage := map[string]any{"prompt_tokens": promptLen, "total_tokens": promptLen + maxTok, "completion_tokens": maxTok}
	if req.Stream {
		if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
			writeSSE(w, map[string]any{"id": id, "object": "text_completion", "created": created, "model": s.e.ServedName, "choices": []any{}, "usage": usage})
		}
		io.WriteString(w, "data: [DONE]\n\n")
		return
	}
	resp := chunk(text.String(), "length")
	resp["usage"] = usage
	writeJSON(w, http.StatusOK, resp)
}

var simWords = []string{" the", " simulated", " model", " says", " this", " is", " not", " a", " measurement", "."}

func writeSSE(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	io.WriteString(w, "data: ")
	w.Write(b)
	io.WriteString(w, "\n\n")
}

// promptTokens approximates the token count of a prompt: the length of a token-id list, or the number of
// whitespace-separated words of a string.
func promptTokens(raw json.RawMessage) int {
	var ids []int
	if json.Unmarshal(raw, &ids) == nil {
		return max(1, len(ids))
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return max(1, len(strings.Fields(s)))
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
		return max(1, len(strings.Fields(list[0])))
	}
	return 1
}

// engineCore is the hidden `engine-core` subcommand of the fork_holder fault: it holds the GPU-memory record
// its parent writes under its PID, and ignores its parent's death; SIGTERM, SIGINT or SIGKILL end it.
func engineCore(ctx context.Context, cfg Config) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	select {
	case <-sig:
	case <-ctx.Done():
	}
	if st, err := OpenState(cfg.StateDir); err == nil {
		st.SetGPU(os.Getpid(), 0)
	}
	return 0
}
