package process

import (
	"context"
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
	st         *machineState
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
	s.st.setGPUOn(pid, mib, s.gpu)
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
		err := c.Control(func(fd uintptr) { serr = reusePort(fd) })
		if err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

// serve is `vllm serve`: parse and resolve the config, take the GPU and the state directory, seed the run, then
// play the startup (startup) and serve HTTP (serveHTTP) until a signal.
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
	st, err := openState(cfg.StateDir)
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
	if faults[faultIgnoreSIGTERM] {
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
	}
	sig := make(chan os.Signal, 2)
	if !faults[faultIgnoreSIGTERM] {
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		defer signal.Stop(sig)
	}
	s := &server{e: e, st: st, speed: cfg.Speed, faults: faults, pid: os.Getpid(), out: out, errw: errw,
		exit: make(chan int, 1), created: time.Now().Unix(), gpu: gpu, acceptance: cfg.Acceptance}
	s.engPID = s.pid + 1
	counter := st.nextStart()
	var ch uint64
	if e != nil {
		ch = model.ConfigHash(e)
		s.accessLog = !(a.Bool("disable_uvicorn_access_log") != nil && *a.Bool("disable_uvicorn_access_log"))
	}
	s.seed = mix(cfg.Seed, uint64(counter), ch)
	rng := rand.New(rand.NewPCG(s.seed, 0x57a7))
	if e != nil {
		s.noise = model.StartNoise(rng, e)
		injectStartupFault(e, faults)
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
		st.setGPU(ownPID, 0)
	}()

	othersGiB := float64(st.gpuUsedMiBOn(s.gpu, s.pid)) / 1024
	cold, cacheDir := false, ""
	if e != nil {
		key := e.CompileKey()
		cacheDir = st.compileDir(key)
		cold = !st.compiled(key) || env.DisableCCache
	}
	plan := model.PlanStartup(a, e, fail, othersGiB, cold, cacheDir, rng)
	ln, code, ok := s.startup(ctx, plan, cold, leading)
	if !ok {
		return code
	}
	s.mem = plan.Mem
	return s.serveHTTP(ctx, ln)
}

// injectStartupFault makes e fail during startup as AUTOTUNE_SIM_FAULT asks (startup_crash, oom_startup,
// no_kernel_image).
func injectStartupFault(e *model.Engine, faults faultSet) {
	switch {
	case faults[faultStartupCrash]:
		e.SetLate(model.EngineFail(model.PhaseCompile, "RuntimeError: simulated engine core crash during initialization (AUTOTUNE_SIM_FAULT=startup_crash)"))
	case faults[faultOOMStartup]:
		e.SetLate(model.EngineFail(model.PhaseProfile, model.TorchOOM(2.0, 0.4, 0)))
	case faults[faultNoKernelImage]:
		// The text real vLLM prints at device init when its wheel has no kernels for the GPU (vLLM issue
		// #14452, runner/testdata/failures/no-kernel-image-rtx50-2025-07.log).
		e.SetLate(model.EngineFail(model.PhaseDevice, "RuntimeError: CUDA error: no kernel image is available for execution on the device"))
	}
}

// startup plays the startup plan in (scaled) real time: each phase's log line, the GPU memory held from when the
// plan says, the compile cache written, the socket bound. ok is false when the process ends during startup,
// with exit status code (signalled: vLLM's shutdown; a failed start or a taken port: 1).
func (s *server) startup(ctx context.Context, plan model.StartPlan, cold bool, leading []string) (ln net.Listener, code int, ok bool) {
	e, faults := s.e, s.faults
	slow := 1.0
	if faults[faultSlowStartup] {
		slow = 10
	}
	start := time.Now()
	for _, ev := range plan.Events {
		if ev.Listen && faults[faultHang] {
			<-ctx.Done()
			return nil, s.shutdown(nil, ""), false
		}
		if !sleepUntil(ctx, s.at(start, ev.At*slow)) {
			return nil, s.shutdown(nil, ""), false
		}
		switch {
		case ev.HoldGiB > 0:
			if faults[faultForkHolder] && s.holderPID == 0 {
				if err := s.forkHolder(leading); err != nil {
					s.errw.line("autotune sim: fork_holder: " + err.Error())
				}
			}
			s.hold(ev.HoldGiB)
			continue
		case ev.Compile:
			if cold && e != nil {
				s.st.markCompiled(e.CompileKey())
			}
			continue
		case ev.Listen:
			var err error
			ln, err = listenReusePort(net.JoinHostPort(e.Host, fmt.Sprint(e.Port)))
			if err != nil {
				s.errw.line(fmt.Sprintf("Traceback (most recent call last):\n  File \"vllm/entrypoints/openai/api_server.py\", line 553, in create_server_socket\n    sock.bind(addr)\nOSError: [Errno 98] Address already in use (%v)", err))
				return nil, 1, false
			}
		}
		line := model.FormatLog(ev, s.pid, s.engPID, time.Now().Format("01-02 15:04:05"))
		if ev.Stderr {
			s.errw.line(line)
		} else {
			s.out.line(line)
		}
	}
	if plan.Fail != nil {
		return nil, 1, false
	}
	return ln, 0, true
}

// serveHTTP serves vLLM's endpoints on ln until a signal (vLLM's shutdown, exit 0) or a fatal fault.
func (s *server) serveHTTP(ctx context.Context, ln net.Listener) int {
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
	if st, err := openState(cfg.StateDir); err == nil {
		st.setGPU(os.Getpid(), 0)
	}
	return 0
}
