package runner

// The fakes: the test binary re-executed as `vllm`, `nvidia-smi`, `python` or a GPU-memory holder (the
// helper-process pattern of os/exec's own tests). TestMain dispatches on RUNNER_FAKE=1 and os.Args[1].
//
// GPU memory is simulated by files <state>/mem-<pid> holding MiB; the fake nvidia-smi adds up the files of
// live (non-zombie) PIDs. A holder is a grandchild the fake server forks into its process group, like vLLM's
// engine core; it holds its memory until it is killed.

import (
	"context"
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
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv("RUNNER_FAKE") == "1" && len(os.Args) > 1 {
		os.Exit(fakeMain(os.Args[1], os.Args[2:]))
	}
	// Orphans (holders whose fake server died) are reparented to the nearest subreaper. PID 1 of a container
	// may never reap them, and their zombies would keep kill(-pgid, 0) succeeding: make this test process the
	// subreaper, and reap the holders it inherits (only those: exec.Cmd reaps its own children).
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, 36 /* PR_SET_CHILD_SUBREAPER */, 1, 0); e != 0 {
		fmt.Fprintln(os.Stderr, "prctl(PR_SET_CHILD_SUBREAPER):", e)
	}
	dir, err := os.MkdirTemp("", "runner-orphans-")
	if err != nil {
		panic(err)
	}
	orphanDir = dir
	go reapOrphans(dir)
	// Children re-exec this binary; built with -race, each would sleep 1 s at exit (TSan's atexit_sleep_ms).
	os.Setenv("GORACE", strings.TrimSpace("atexit_sleep_ms=0 "+os.Getenv("GORACE")))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var orphanDir string

// reapOrphans reaps the zombies of holders that were reparented to this process.
func reapOrphans(dir string) {
	for {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			st, err := readStat(pid)
			if err != nil {
				os.Remove(filepath.Join(dir, e.Name()))
				continue
			}
			if !st.live() && st.ppid == os.Getpid() {
				var ws syscall.WaitStatus
				syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fakeMain(cmd string, args []string) int {
	switch cmd {
	case "vllm":
		return fakeVLLM(args)
	case "nvidia-smi":
		return fakeSMI(args)
	case "python":
		return fakePython(args)
	case "holder":
		return fakeHolder(args)
	case "parent":
		return fakeParent(args)
	}
	fmt.Fprintln(os.Stderr, "unknown fake", cmd)
	return 99
}

func fakeVLLM(args []string) int {
	switch {
	case len(args) == 1 && args[0] == "--version":
		fmt.Println("INFO 05-19 10:15:02 [__init__.py:216] Automatically detected platform cuda.")
		fmt.Println("0.15.1")
		return 0
	case len(args) == 2 && args[0] == "serve" && strings.HasPrefix(args[1], "--help"):
		return fakeHelp(args[1])
	case len(args) >= 2 && args[0] == "serve":
		return fakeServe(args[1], args[2:])
	case len(args) >= 2 && args[0] == "bench" && args[1] == "serve":
		return fakeBench(args[2:])
	}
	fmt.Fprintln(os.Stderr, "usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...")
	fmt.Fprintf(os.Stderr, "vllm: error: unrecognized arguments: %s\n", strings.Join(args, " "))
	return 2
}

// fakeHelp prints a long help for --help=all and a short one for --help; RUNNER_FAKE_HELP=filter makes
// --help=all a keyword filter and --help complete (vLLM 0.10.2), =fail makes both fail (no GPU), =allfail
// only --help=all.
func fakeHelp(arg string) int {
	mode := os.Getenv("RUNNER_FAKE_HELP")
	if mode == "fail" || (mode == "allfail" && arg == "--help=all") {
		fmt.Fprintln(os.Stderr, "RuntimeError: Failed to infer device type")
		return 1
	}
	short := (arg == "--help") != (mode == "filter") // 0.10.2: --help=all filters, --help lists everything
	fmt.Println("usage: vllm serve [model_tag] [options]")
	fmt.Println("  --host HOST           Host name.")
	fmt.Println("  --port PORT           Port number.")
	if short {
		return 0
	}
	for i := 0; i < 100; i++ {
		fmt.Printf("  --flag-%d FLAG_%d      Something.\n", i, i)
	}
	fmt.Println("  --enable-prefix-caching, --no-enable-prefix-caching")
	fmt.Println("                        Whether to enable prefix caching. (default: None)")
	fmt.Println("  --max-num-seqs MAX_NUM_SEQS, -max-num-seqs")
	return 0
}

// startupErrors are vLLM's real startup failures (reference vllm.md §4, §10.1, t4-calibration §9.6).
var startupErrors = map[string]string{
	"bf16": "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your Tesla T4 " +
		"GPU has compute capability 7.5. You can use float16 instead by explicitly setting the `dtype` flag in CLI, " +
		"for example: --dtype=half.",
	"oom": "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.16 GiB",
	"kv": "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when " +
		"initializing the engine.",
	"mnbt":    "ValueError: max_num_batched_tokens (32) must be greater than or equal to max_num_seqs (64).",
	"unknown": "RuntimeError: something nobody has seen before",
}

type serveFlags struct {
	host, port                             string
	readyAfter, crashAfter, unhealthyAfter time.Duration
	hold, selfMem                          int
	fail, envDump                          string
	neverReady, ignoreTerm, holderIgnore   bool
	orphan, escape, crashOOM               bool
	lateTTFT                               int // /metrics: prompts past 2.5 s to first token, from the second scrape on
}

func fakeServe(model string, args []string) int {
	var f serveFlags
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		dur := func() time.Duration { d, _ := time.ParseDuration(val()); return d }
		n := func() int { v, _ := strconv.Atoi(val()); return v }
		switch a {
		case "--host":
			f.host = val()
		case "--port":
			f.port = val()
		case "--max-num-seqs", "--gpu-memory-utilization", "--dtype", "--max-model-len":
			val()
		case "--fake-ready-after":
			f.readyAfter = dur()
		case "--fake-crash-after":
			f.crashAfter = dur()
		case "--fake-503-after":
			f.unhealthyAfter = dur()
		case "--fake-late-ttft":
			f.lateTTFT = n()
		case "--fake-hold":
			f.hold = n()
		case "--fake-self-mem":
			f.selfMem = n()
		case "--fake-fail":
			f.fail = val()
		case "--fake-env-dump":
			f.envDump = val()
		case "--fake-never-ready":
			f.neverReady = true
		case "--fake-ignore-term":
			f.ignoreTerm = true
		case "--fake-holder-ignore-term":
			f.holderIgnore = true
		case "--fake-orphan":
			f.orphan = true
		case "--fake-escape":
			f.escape = true
		case "--fake-crash-oom":
			f.crashOOM = true
		default:
			fmt.Fprintln(os.Stderr, "usage: vllm serve [model_tag] [options]")
			fmt.Fprintf(os.Stderr, "vllm: error: unrecognized arguments: %s\n", a)
			return 2
		}
	}
	fmt.Printf("INFO 05-19 10:15:02 [api_server.py:1] vLLM server version 0.15.1, serving model %s\n", model)
	if f.envDump != "" {
		os.WriteFile(f.envDump, []byte(strings.Join(os.Environ(), "\n")), 0o644)
	}
	term := make(chan os.Signal, 1)
	if f.ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(term, syscall.SIGTERM)
	}
	state := os.Getenv("RUNNER_FAKE_STATE")
	if f.selfMem > 0 {
		os.WriteFile(filepath.Join(state, "mem-"+strconv.Itoa(os.Getpid())), []byte(strconv.Itoa(f.selfMem)), 0o644)
	}
	var holder *exec.Cmd
	if f.hold > 0 {
		holder = exec.Command(os.Args[0], "holder", strconv.Itoa(f.hold), strconv.FormatBool(f.holderIgnore))
		holder.Stdout, holder.Stderr = os.Stdout, os.Stderr
		if f.escape {
			holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		}
		if err := holder.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "fork holder:", err)
			return 1
		}
		for { // the engine has its memory before the server is up
			if _, err := os.Stat(filepath.Join(state, "mem-"+strconv.Itoa(holder.Process.Pid))); err == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	shutdown := func() int {
		fmt.Println("INFO 05-19 10:16:00 [launcher.py:1] Shutting down FastAPI HTTP server.")
		if holder != nil && !f.orphan {
			holder.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { holder.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(300 * time.Millisecond):
			}
		}
		return 0
	}
	select {
	case <-time.After(f.readyAfter):
	case <-term:
		return shutdown()
	}
	if msg, ok := startupErrors[f.fail]; ok {
		fmt.Fprintln(os.Stderr, "(EngineCore_DP0 pid=4242) ERROR 05-19 10:15:30 [core.py:1157] EngineCore failed to start.")
		fmt.Fprintln(os.Stderr, "(EngineCore_DP0 pid=4242) Traceback (most recent call last):")
		fmt.Fprintln(os.Stderr, "(EngineCore_DP0 pid=4242) "+msg)
		fmt.Fprintln(os.Stderr, "RuntimeError: Engine core initialization failed. See root cause above. "+
			"Failed core proc(s): {'EngineCore_DP0': 1}")
		return 1
	}
	if f.neverReady {
		<-term
		return shutdown()
	}
	readyAt := time.Now()
	ln, err := net.Listen("tcp", net.JoinHostPort(f.host, f.port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "OSError: [Errno 98] Address already in use")
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if f.unhealthyAfter > 0 && time.Since(readyAt) > f.unhealthyAfter {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	})
	var scrapes atomic.Int64
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		late := 0
		if scrapes.Add(1) > 1 {
			late = f.lateTTFT
		}
		fmt.Fprintf(w, "vllm:generation_tokens_total{engine=\"0\",model_name=\"m\"} %d\n", 100*scrapes.Load())
		fmt.Fprintf(w, "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"2.5\",model_name=\"m\"} 40\n")
		fmt.Fprintf(w, "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"m\"} %d\n", 40+late)
		fmt.Fprintf(w, "vllm:time_to_first_token_seconds_count{engine=\"0\",model_name=\"m\"} %d\n", 40+late)
	})
	go http.Serve(ln, mux)
	fmt.Println("INFO:     Application startup complete.")
	if f.unhealthyAfter > 0 {
		go func() {
			time.Sleep(f.unhealthyAfter)
			fmt.Println("(EngineCore_DP0 pid=4242) ERROR 05-19 10:16:00 [core.py:1160] EngineCore encountered a fatal error.")
			fmt.Println("ERROR 05-19 10:16:00 [async_llm.py:1] vllm.v1.engine.exceptions.EngineDeadError: " +
				"EngineCore encountered an issue. See stack trace (above) for the root cause.")
		}()
	}
	var crash <-chan time.Time
	if f.crashAfter > 0 {
		crash = time.After(f.crashAfter)
	}
	select {
	case <-term:
		return shutdown()
	case <-crash:
		fmt.Println("(EngineCore_DP0 pid=4242) ERROR 05-19 10:16:00 [core.py:1160] EngineCore encountered a fatal error.")
		if f.crashOOM {
			fmt.Println("(EngineCore_DP0 pid=4242) torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB")
		}
		return 1
	}
}

// fakeHolder holds GPU memory (a mem file) until killed, optionally ignoring SIGTERM.
func fakeHolder(args []string) int {
	if len(args) > 1 && args[1] == "true" {
		signal.Ignore(syscall.SIGTERM)
	}
	pid := strconv.Itoa(os.Getpid())
	if dir := os.Getenv("RUNNER_FAKE_ORPHANS"); dir != "" {
		os.WriteFile(filepath.Join(dir, pid), nil, 0o644)
	}
	os.WriteFile(filepath.Join(os.Getenv("RUNNER_FAKE_STATE"), "mem-"+pid), []byte(args[0]), 0o644)
	select {}
}

func fakeSMI(args []string) int {
	switch os.Getenv("RUNNER_FAKE_SMI") {
	case "fail":
		fmt.Fprintln(os.Stderr, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")
		return 9
	case "warn": // a warning on stderr, the answer on stdout
		fmt.Fprintln(os.Stderr, "WARNING: infoROM is corrupted at gpu 0000:00:04.0")
	}
	if strings.Join(args, " ") != strings.Join(smiQuery, " ") {
		fmt.Fprintln(os.Stderr, "unexpected query", args)
		return 2
	}
	fmt.Printf("Tesla T4, 7.5, 15360, %d\n", fakeUsedMiB(os.Getenv("RUNNER_FAKE_STATE")))
	return 0
}

// fakeUsedMiB is the idle memory plus every live holder's.
func fakeUsedMiB(state string) int {
	used, _ := strconv.Atoi(os.Getenv("RUNNER_FAKE_IDLE_MIB"))
	files, _ := filepath.Glob(filepath.Join(state, "mem-*"))
	for _, file := range files {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(file), "mem-"))
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err != nil || !st.live() {
			continue
		}
		data, _ := os.ReadFile(file)
		n, _ := strconv.Atoi(string(data))
		used += n
	}
	return used
}

func fakePython(args []string) int {
	if len(args) == 2 && args[0] == "-c" && args[1] == "import arctic_inference" {
		if os.Getenv("RUNNER_FAKE_ARCTIC") == "1" {
			return 0
		}
		fmt.Fprintln(os.Stderr, "ModuleNotFoundError: No module named 'arctic_inference'")
		return 1
	}
	return 2
}

type benchFlags struct {
	baseURL, dir, file, mode string
	numPrompts, exit         int
	sleep                    time.Duration
	hang                     bool
}

// fakeBench plays `vllm bench serve`: it checks the server once, takes --fake-sleep, then writes bench.json
// as --fake-json says (good, nan, truncated, truncated-once, none, allfail) and exits --fake-exit.
func fakeBench(args []string) int {
	f := benchFlags{mode: "good", numPrompts: 1000}
	for i := 0; i < len(args); i++ {
		val := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch args[i] {
		case "--base-url":
			f.baseURL = val()
		case "--result-dir":
			f.dir = val()
		case "--result-filename":
			f.file = val()
		case "--num-prompts":
			f.numPrompts, _ = strconv.Atoi(val())
		case "--fake-json":
			f.mode = val()
		case "--fake-exit":
			f.exit, _ = strconv.Atoi(val())
		case "--fake-sleep":
			f.sleep, _ = time.ParseDuration(val())
		case "--fake-hang":
			f.hang = true
		}
	}
	resp, err := http.Get(strings.TrimSuffix(f.baseURL, "/v1") + "/health")
	if err != nil || resp.StatusCode != 200 {
		f.mode = "allfail" // server not up: every request fails, exit 0 (reference §13.7)
	}
	if resp != nil {
		resp.Body.Close()
	}
	if f.hang {
		select {}
	}
	time.Sleep(f.sleep)
	if f.exit != 0 {
		fmt.Fprintln(os.Stderr, "Traceback (most recent call last):")
		fmt.Fprintln(os.Stderr, "RuntimeError: the tokenizer could not be loaded")
		return f.exit
	}
	good := fakeBenchJSON(f.numPrompts, f.numPrompts, 0)
	out := good
	switch f.mode {
	case "nan":
		out = strings.Replace(good, `"std_itl_ms": 9.73`, `"std_itl_ms": NaN`, 1)
		out = strings.Replace(out, `"max_output_tokens_per_s": 3650.0`, `"max_output_tokens_per_s": Infinity`, 1)
	case "truncated":
		out = good[:len(good)/2]
	case "truncated-once":
		marker := filepath.Join(f.dir, ".fake-bench-ran")
		if _, err := os.Stat(marker); err != nil {
			os.WriteFile(marker, nil, 0o644)
			out = good[:len(good)/2]
		}
	case "none":
		out = ""
	case "allfail":
		out = fakeBenchJSON(f.numPrompts, 0, f.numPrompts)
		fmt.Println("Failed requests during benchmark run detected (capping to 10):")
		fmt.Println("Error 0: Cannot connect to host 127.0.0.1 ssl:default [Connect call failed]")
	case "allfail-400": // every request refused by the server itself (§13.7: the reason phrase)
		out = fakeBenchJSON(f.numPrompts, 0, f.numPrompts)
		fmt.Println("Failed requests during benchmark run detected (capping to 10):")
		fmt.Println("Error 0: Bad Request")
		fmt.Println("Error 1: Bad Request")
	}
	if out != "" {
		os.WriteFile(filepath.Join(f.dir, f.file), []byte(out), 0o644)
	}
	fmt.Println("============ Serving Benchmark Result ============")
	return 0
}

// fakeBenchJSON is a 0.15.1-shaped result (reference §13.8) with the percentiles autotune asks for.
func fakeBenchJSON(prompts, completed, failed int) string {
	thr := 3213.05
	if completed == 0 {
		thr = 0
	}
	return fmt.Sprintf(`{
  "date": "20260519-101502", "endpoint_type": "openai", "backend": "openai", "label": null,
  "model_id": "Qwen/Qwen2.5-0.5B", "tokenizer_id": "Qwen/Qwen2.5-0.5B", "num_prompts": %d,
  "request_rate": "inf", "burstiness": 1.0, "max_concurrency": 50, "duration": 31.87,
  "completed": %d, "failed": %d, "total_input_tokens": 102400, "total_output_tokens": 102400,
  "request_throughput": 6.275, "request_goodput": null, "output_throughput": %v,
  "total_token_throughput": 6426.10, "max_output_tokens_per_s": 3650.0, "max_concurrent_requests": 50,
  "mean_ttft_ms": 412.7, "median_ttft_ms": 318.2, "std_ttft_ms": 301.5, "p50_ttft_ms": 318.2,
  "p90_ttft_ms": 1000.1, "p99_ttft_ms": 1184.6, "mean_tpot_ms": 14.61, "median_tpot_ms": 14.55,
  "std_tpot_ms": 0.62, "p50_tpot_ms": 14.55, "p90_tpot_ms": 15.5, "p99_tpot_ms": 15.98,
  "mean_itl_ms": 14.60, "median_itl_ms": 13.92, "std_itl_ms": 9.73, "p50_itl_ms": 13.92,
  "p90_itl_ms": 20.1, "p99_itl_ms": 41.25, "mean_e2el_ms": 7870.2, "median_e2el_ms": 7800.0,
  "std_e2el_ms": 300.1, "p50_e2el_ms": 7800.0, "p90_e2el_ms": 8100.0, "p99_e2el_ms": 8300.5
}
`, prompts, completed, failed, thr)
}

// fakeParent plays autotune itself: it runs one trial whose server never gets ready, records the server's
// Process as JSON in args[0] and waits to be killed (the test SIGKILLs it).
func fakeParent(args []string) int {
	var opts Options
	if err := json.Unmarshal([]byte(os.Getenv("RUNNER_FAKE_PARENT_OPTS")), &opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r := New(opts)
	r.Run(context.Background(), Trial{Dir: args[1], Args: args[2:], OnStart: func(p Process) {
		data, _ := json.Marshal(p)
		os.WriteFile(args[0]+".tmp", data, 0o644)
		os.Rename(args[0]+".tmp", args[0])
	}})
	return 0
}
