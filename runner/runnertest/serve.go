package runnertest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Serve is a scenario for the fake `vllm serve`. Args turns it into the flags that ask the fake for it, which a
// test gives the runner as the trial's server flags (runner.Trial.Args). The zero Serve gets ready at once, holds
// no GPU memory, serves until SIGTERM and shuts down on it.
type Serve struct {
	ReadyAfter time.Duration // listen and answer /health this long after starting
	NeverReady bool          // never listen; wait for SIGTERM
	// StartupError: exit 1 before getting ready, the engine core having logged this line (StartupBF16, ...).
	StartupError     string
	CrashOnBench     bool // exit 1 when the benchmark's first request arrives (EngineCore fatal error)
	CrashOOM         bool // with CrashOnBench: log a CUDA out-of-memory error first
	UnhealthyOnBench bool // from the benchmark's first request on, /health answers 503 (EngineDeadError)
	LateTTFT         int  // /metrics: this many prompts past 2.5 s to their first token, from the second scrape on

	EngineMiB         int    // fork an engine core into the process group, holding this much GPU memory until killed
	EngineIgnoresTerm bool   // the engine core ignores SIGTERM
	EngineEscapes     bool   // the engine core leaves the server's process group
	Orphan            bool   // on SIGTERM the server exits without stopping its engine core
	SelfMiB           int    // the server process itself holds this much GPU memory
	IgnoreTerm        bool   // the server records SIGTERM (TermIgnored) and carries on
	EnvDump           string // write the server's environment to this file, one VAR=value a line
}

// vLLM's startup failures, as the engine core logs them (reference vllm.md §4, §10.1, t4-calibration §9.6).
const (
	StartupBF16 = "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your " +
		"Tesla T4 GPU has compute capability 7.5. You can use float16 instead by explicitly setting the `dtype` flag " +
		"in CLI, for example: --dtype=half."
	StartupOOM       = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.16 GiB"
	StartupNoKVCache = "ValueError: No available memory for the cache blocks. Try increasing " +
		"`gpu_memory_utilization` when initializing the engine."
	StartupBatchTooSmall = "ValueError: max_num_batched_tokens (32) must be greater than or equal to max_num_seqs (64)."
)

// Args is vllmFlags followed by the flags that ask the fake server for s.
func (s Serve) Args(vllmFlags ...string) []string {
	args := append([]string{}, vllmFlags...)
	dur := func(name string, d time.Duration) {
		if d > 0 {
			args = append(args, name, d.String())
		}
	}
	num := func(name string, n int) {
		if n > 0 {
			args = append(args, name, strconv.Itoa(n))
		}
	}
	str := func(name, v string) {
		if v != "" {
			args = append(args, name, v)
		}
	}
	flag := func(name string, on bool) {
		if on {
			args = append(args, name)
		}
	}
	dur("--fake-ready-after", s.ReadyAfter)
	flag("--fake-never-ready", s.NeverReady)
	str("--fake-startup-error", s.StartupError)
	flag("--fake-crash-on-bench", s.CrashOnBench)
	flag("--fake-crash-oom", s.CrashOOM)
	flag("--fake-unhealthy-on-bench", s.UnhealthyOnBench)
	num("--fake-late-ttft", s.LateTTFT)
	num("--fake-engine-mib", s.EngineMiB)
	flag("--fake-engine-ignores-term", s.EngineIgnoresTerm)
	flag("--fake-engine-escapes", s.EngineEscapes)
	flag("--fake-orphan", s.Orphan)
	num("--fake-self-mib", s.SelfMiB)
	flag("--fake-ignore-term", s.IgnoreTerm)
	str("--fake-env-dump", s.EnvDump)
	return args
}

// serveFlags are the vLLM flags the fake `vllm serve` takes and its help lists: a flag with a metavar takes a
// value, one without is a switch whose alias turns it off. The fillers --flag-0 to --flag-99 (values) make the
// full help long like the real one. The short help lists the first two.
var serveFlags = []struct {
	name, metavar, alias string
}{
	{name: "--host", metavar: "HOST"},
	{name: "--port", metavar: "PORT"},
	{name: "--max-num-seqs", metavar: "MAX_NUM_SEQS", alias: "-max-num-seqs"},
	{name: "--max-num-batched-tokens", metavar: "MAX_NUM_BATCHED_TOKENS"},
	{name: "--gpu-memory-utilization", metavar: "GPU_MEMORY_UTILIZATION"},
	{name: "--enable-prefix-caching", alias: "--no-enable-prefix-caching"},
}

const fillerFlags = 100

// help prints the full flag list for --help=all and a short one for --help, as the Machine's HelpMode says.
func (f *fake) help(arg string) int {
	mode := f.cfg.Help
	if mode == HelpFails || (mode == HelpAllFails && arg == "--help=all") {
		fmt.Fprintln(os.Stderr, "RuntimeError: Failed to infer device type")
		return 1
	}
	short := (arg == "--help") != (mode == HelpFilter) // 0.10.2: --help=all filters, --help lists everything
	fmt.Println("usage: vllm serve [model_tag] [options]")
	fmt.Println("  --host HOST           Host name.")
	fmt.Println("  --port PORT           Port number.")
	if short {
		return 0
	}
	for i := 0; i < fillerFlags; i++ {
		fmt.Printf("  --flag-%d FLAG_%d      Something.\n", i, i)
	}
	for _, fl := range serveFlags[2:] {
		switch {
		case fl.metavar == "":
			fmt.Printf("  %s, %s\n                        Whether to %s. (default: None)\n", fl.name, fl.alias,
				strings.ReplaceAll(strings.TrimPrefix(fl.name, "--"), "-", " "))
		case fl.alias != "":
			fmt.Printf("  %s %s, %s\n", fl.name, fl.metavar, fl.alias)
		default:
			fmt.Printf("  %s %s\n", fl.name, fl.metavar)
		}
	}
	return 0
}

// takesValue says whether name is a flag of the fake server (known), and whether it takes a value.
func takesValue(name string) (known, value bool) {
	for _, fl := range serveFlags {
		if name == fl.name || name == fl.alias {
			return true, fl.metavar != ""
		}
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(name, "--flag-")); err == nil && n >= 0 && n < fillerFlags {
		return true, true
	}
	return false, false
}

func (f *fake) vllm(args []string) int {
	switch {
	case len(args) == 1 && args[0] == "--version":
		fmt.Println("INFO 05-19 10:15:02 [__init__.py:216] Automatically detected platform cuda.")
		fmt.Println("0.15.1")
		return 0
	case len(args) == 2 && args[0] == "serve" && strings.HasPrefix(args[1], "--help"):
		return f.help(args[1])
	case len(args) >= 2 && args[0] == "serve":
		return f.serve(args[1], args[2:])
	case len(args) >= 2 && args[0] == "bench" && args[1] == "serve":
		return f.bench(args[2:])
	}
	return usageError("vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...", strings.Join(args, " "))
}

// usageError is argparse's answer to an unknown argument.
func usageError(usage, arg string) int {
	fmt.Fprintln(os.Stderr, "usage: "+usage)
	fmt.Fprintf(os.Stderr, "vllm: error: unrecognized arguments: %s\n", arg)
	return 2
}

// server is a running fake server.
type server struct {
	*fake
	s         Serve
	vllmFlags map[string]string
	readyAt   time.Time
	benched   sync.Once
	unhealthy atomic.Bool
	scrapes   atomic.Int64
}

// parseServe reads the server's flags; the last value of a flag wins, as with argparse.
func parseServe(args []string) (Serve, map[string]string, string) {
	var s Serve
	vllmFlags := map[string]string{}
	for i := 0; i < len(args); i++ {
		name, inline, hasInline := strings.Cut(args[i], "=")
		val := func() string {
			if hasInline {
				return inline
			}
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		dur := func() time.Duration { d, _ := time.ParseDuration(val()); return d }
		num := func() int { n, _ := strconv.Atoi(val()); return n }
		switch name {
		case "--fake-ready-after":
			s.ReadyAfter = dur()
		case "--fake-never-ready":
			s.NeverReady = true
		case "--fake-startup-error":
			s.StartupError = val()
		case "--fake-crash-on-bench":
			s.CrashOnBench = true
		case "--fake-crash-oom":
			s.CrashOOM = true
		case "--fake-unhealthy-on-bench":
			s.UnhealthyOnBench = true
		case "--fake-late-ttft":
			s.LateTTFT = num()
		case "--fake-engine-mib":
			s.EngineMiB = num()
		case "--fake-engine-ignores-term":
			s.EngineIgnoresTerm = true
		case "--fake-engine-escapes":
			s.EngineEscapes = true
		case "--fake-orphan":
			s.Orphan = true
		case "--fake-self-mib":
			s.SelfMiB = num()
		case "--fake-ignore-term":
			s.IgnoreTerm = true
		case "--fake-env-dump":
			s.EnvDump = val()
		default:
			known, value := takesValue(name)
			if !known {
				return s, nil, args[i]
			}
			v := "true"
			if value {
				v = val()
			} else if strings.HasPrefix(name, "--no-") {
				v = "false"
			}
			vllmFlags[name] = v
		}
	}
	return s, vllmFlags, ""
}

func (f *fake) serve(model string, args []string) int {
	s, vllmFlags, bad := parseServe(args)
	if bad != "" {
		return usageError("vllm serve [model_tag] [options]", bad)
	}
	fmt.Printf("INFO 05-19 10:15:02 [api_server.py:1] vLLM server version 0.15.1, serving model %s\n", model)
	if s.EnvDump != "" {
		_ = os.WriteFile(s.EnvDump, []byte(strings.Join(os.Environ(), "\n")), 0o644)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	term := sigs
	if s.IgnoreTerm {
		term = nil
		go func() {
			for range sigs {
				f.record(TermIgnored)
			}
		}()
	}
	if s.SelfMiB > 0 {
		f.holdMiB(os.Getpid(), s.SelfMiB)
	}
	srv := &server{fake: f, s: s, vllmFlags: vllmFlags}
	engine, err := srv.startEngine()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fork engine core:", err)
		return 1
	}
	shutdown := func() int {
		fmt.Println("INFO 05-19 10:16:00 [launcher.py:1] Shutting down FastAPI HTTP server.")
		if engine != nil && !s.Orphan {
			_ = engine.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = engine.Wait(); close(done) }()
			select { // an engine that ignores SIGTERM is the runner's to kill
			case <-done:
			case <-time.After(300 * time.Millisecond):
			}
		}
		return 0
	}
	f.record(Serving)
	select {
	case <-time.After(s.ReadyAfter):
	case <-term:
		return shutdown()
	}
	if s.StartupError != "" {
		fmt.Fprintln(os.Stderr, "(EngineCore_DP0 pid=4242) ERROR 05-19 10:15:30 [core.py:1157] EngineCore failed to start.")
		fmt.Fprintln(os.Stderr, "(EngineCore_DP0 pid=4242) Traceback (most recent call last):")
		fmt.Fprintln(os.Stderr, "(EngineCore_DP0 pid=4242) "+s.StartupError)
		fmt.Fprintln(os.Stderr, "RuntimeError: Engine core initialization failed. See root cause above. "+
			"Failed core proc(s): {'EngineCore_DP0': 1}")
		return 1
	}
	if s.NeverReady {
		<-term
		return shutdown()
	}
	host, port := vllmFlags["--host"], vllmFlags["--port"]
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "OSError: [Errno 98] Address already in use")
		return 1
	}
	srv.readyAt = time.Now()
	go func() { _ = http.Serve(ln, srv.handler()) }()
	fmt.Println("INFO:     Application startup complete.")
	<-term
	return shutdown()
}

// startEngine forks the engine core that holds Serve.EngineMiB, and waits until it holds it: vLLM's engine has
// its memory before the server is up.
func (s *server) startEngine() (*exec.Cmd, error) {
	if s.s.EngineMiB <= 0 {
		return nil, nil
	}
	engine := exec.Command(os.Args[0], fakeArg, s.state, "engine", strconv.Itoa(s.s.EngineMiB),
		strconv.FormatBool(s.s.EngineIgnoresTerm))
	engine.Stdout, engine.Stderr = os.Stdout, os.Stderr
	if s.s.EngineEscapes {
		engine.SysProcAttr = ownGroup()
	}
	if err := engine.Start(); err != nil {
		return nil, err
	}
	mem := filepath.Join(s.state, "mem-"+strconv.Itoa(engine.Process.Pid))
	for {
		if _, err := os.Stat(mem); err == nil {
			return engine, nil
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if s.unhealthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		n := s.scrapes.Add(1)
		late := 0
		if n > 1 {
			late = s.s.LateTTFT
		}
		fmt.Fprintf(w, "vllm:generation_tokens_total{engine=\"0\",model_name=\"m\"} %d\n", 100*n)
		fmt.Fprintf(w, "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"2.5\",model_name=\"m\"} 40\n")
		fmt.Fprintf(w, "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"m\"} %d\n", 40+late)
		fmt.Fprintf(w, "vllm:time_to_first_token_seconds_count{engine=\"0\",model_name=\"m\"} %d\n", 40+late)
	})
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) {
		s.benched.Do(s.benchStarts)
		if s.unhealthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, `{"object": "text_completion", "choices": [{"index": 0, "text": "fake"}]}`)
	})
	// Not vLLM's: what the fake benchmark reports comes from here (see OutputThroughput).
	mux.HandleFunc("/fake/perf", func(w http.ResponseWriter, r *http.Request) {
		seqs, _ := strconv.Atoi(s.vllmFlags["--max-num-seqs"])
		_ = json.NewEncoder(w).Encode(perf{OutputThroughput: OutputThroughput(seqs), MeanTPOTms: meanTPOT(seqs),
			Scrapes: s.scrapes.Load()})
	})
	return mux
}

// benchStarts is what the benchmark's first request does to the server.
func (s *server) benchStarts() {
	s.record(BenchRequest)
	if s.s.UnhealthyOnBench {
		s.unhealthy.Store(true)
		fmt.Println("(EngineCore_DP0 pid=4242) ERROR 05-19 10:16:00 [core.py:1160] EngineCore encountered a fatal error.")
		fmt.Println("ERROR 05-19 10:16:00 [async_llm.py:1] vllm.v1.engine.exceptions.EngineDeadError: " +
			"EngineCore encountered an issue. See stack trace (above) for the root cause.")
	}
	if s.s.CrashOnBench {
		fmt.Println("(EngineCore_DP0 pid=4242) ERROR 05-19 10:16:00 [core.py:1160] EngineCore encountered a fatal error.")
		if s.s.CrashOOM {
			fmt.Println("(EngineCore_DP0 pid=4242) torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB")
		}
		os.Exit(1)
	}
}

// perf is what the fake server tells the fake benchmark.
type perf struct {
	OutputThroughput float64 `json:"output_throughput"`
	MeanTPOTms       float64 `json:"mean_tpot_ms"`
	Scrapes          int64   `json:"metrics_scrapes"`
}

// OutputThroughput is the output_throughput (tok/s) the fake benchmark reports against a fake server started
// with --max-num-seqs n (0: not given, which is vLLM's 256): 3,300 plus 10 per sequence up to 64 sequences, and
// 3,300 above. Above 128 sequences its P99 TPOT breaks a 50 ms SLA, so a tuner finds a winner between.
func OutputThroughput(n int) float64 {
	if n > 0 && n <= 64 {
		return 3300 + 10*float64(n)
	}
	return 3300
}

func meanTPOT(n int) float64 {
	if n == 0 || n > 128 {
		return 60
	}
	return 14.61
}
