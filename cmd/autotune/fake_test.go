package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/autotune/autotune/runner/runnertest"
)

// The test binary doubles as autotune itself (for `autotune sim ...` children of --simulate studies) and as a
// tiny fake vllm, nvidia-smi and python, chosen by its first argument when AUTOTUNE_TEST_MAIN is set.
func TestMain(m *testing.M) {
	if os.Getenv("AUTOTUNE_TEST_MAIN") == "1" && len(os.Args) > 1 {
		switch os.Args[1] {
		case "fakevllm":
			os.Exit(fakeVLLM(os.Args[2:]))
		case "fakesmi":
			fmt.Println("Tesla T4, 7.5, 15360, 0")
			os.Exit(0)
		case "fakepython":
			fmt.Fprintln(os.Stderr, "ModuleNotFoundError: No module named 'arctic_inference'")
			os.Exit(1)
		case "sim":
			main()
		case "autotune":
			// A child autotune, for tests that kill or interrupt it.
			os.Args = append(os.Args[:1], os.Args[2:]...)
			main()
		}
	}
	os.Setenv("AUTOTUNE_TEST_MAIN", "1")
	// Children re-exec this binary; built with -race, each would sleep 1 s at exit (TSan's atexit_sleep_ms).
	os.Setenv("GORACE", strings.TrimSpace("atexit_sleep_ms=0 "+os.Getenv("GORACE")))
	os.Exit(m.Run())
}

// fakeMachine returns the flags that point autotune at the fake vllm, nvidia-smi and python.
func fakeMachine(t *testing.T) []string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{"--vllm", exe + " fakevllm", "--nvidia-smi", exe + " fakesmi", "--python", exe + " fakepython",
		"--port", strconv.Itoa(runnertest.Port(t)), "--startup-timeout", "20s", "--bench-timeout", "20s", "--stop-grace", "2s"}
}

// fakeVLLM is a stand-in for vllm: `--version`, `serve --help=all`, `serve MODEL --host H --port P ...` (a
// /health endpoint until SIGTERM) and `bench serve ...` (a JSON result whose throughput is a function of the
// server's flags, which the fake server reports at /flags).
func fakeVLLM(args []string) int {
	switch {
	case len(args) == 1 && args[0] == "--version":
		fmt.Println("0.15.1")
		return 0
	case len(args) >= 2 && args[0] == "serve" && strings.HasPrefix(args[1], "--help"):
		fmt.Println("usage: vllm serve [model_tag] [options]\n  --max-num-seqs MAX_NUM_SEQS\n  --max-num-batched-tokens MAX_NUM_BATCHED_TOKENS\n  --gpu-memory-utilization GPU_MEMORY_UTILIZATION")
		return 0
	case len(args) >= 2 && args[0] == "serve":
		return fakeServe(args[1:])
	case len(args) >= 2 && args[0] == "bench" && args[1] == "serve":
		return fakeBench(args[2:])
	}
	fmt.Fprintf(os.Stderr, "vllm: error: unrecognized arguments: %s\n", strings.Join(args, " "))
	return 2
}

func fakeServe(args []string) int {
	host, port := "127.0.0.1", "8000"
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "--host":
			host = args[i+1]
		case "--port":
			port = args[i+1]
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "OSError: [Errno 98] Address already in use")
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/flags", func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(args) })
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	fmt.Println("INFO:     Application startup complete.")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	srv.Shutdown(context.Background())
	return 0
}

func fakeBench(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	base := fs.String("base-url", "", "")
	dir := fs.String("result-dir", ".", "")
	name := fs.String("result-filename", "bench.json", "")
	prompts := fs.Int("num-prompts", 200, "")
	for _, f := range []string{"backend", "endpoint", "model", "tokenizer", "dataset-name", "max-concurrency",
		"random-input-len", "random-output-len", "request-rate", "percentile-metrics", "metric-percentiles"} {
		fs.String(f, "", "")
	}
	fs.Bool("ignore-eos", false, "")
	fs.Bool("save-result", false, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	resp, err := http.Get(strings.TrimSuffix(*base, "/v1") + "/flags")
	if err != nil {
		fmt.Fprintln(os.Stderr, "connection refused")
		return 1
	}
	var serverArgs []string
	json.NewDecoder(resp.Body).Decode(&serverArgs)
	resp.Body.Close()
	// Throughput grows with --max-num-seqs up to 64; more than 128 breaks the TPOT limit.
	seqs := 256
	for i := 0; i+1 < len(serverArgs); i++ {
		if serverArgs[i] == "--max-num-seqs" {
			seqs, _ = strconv.Atoi(serverArgs[i+1])
		}
	}
	tput := 3300.0
	if seqs <= 64 {
		tput = 3300 + float64(seqs)*10
	}
	tpot := 14.0
	if seqs > 128 {
		tpot = 60
	}
	out := fmt.Sprintf(`{"date": "20261128-000000", "backend": "openai", "model_id": "Qwen/Qwen2.5-0.5B",
 "num_prompts": %d, "request_rate": "inf", "max_concurrency": 50, "duration": 30.0, "completed": %d, "failed": 0,
 "total_input_tokens": 102400, "total_output_tokens": 102400, "request_throughput": 6.6, "request_goodput": null,
 "output_throughput": %g, "total_token_throughput": %g, "max_output_tokens_per_s": 4000.0,
 "max_concurrent_requests": 90, "mean_ttft_ms": 400.0, "median_ttft_ms": 350.0, "std_ttft_ms": NaN,
 "p99_ttft_ms": 1180.0, "mean_tpot_ms": %g, "median_tpot_ms": %g, "p99_tpot_ms": %g, "mean_itl_ms": 13.0,
 "p99_itl_ms": 80.0}`, *prompts, *prompts, tput, 2*tput, tpot, tpot, tpot*1.05)
	if err := os.WriteFile(filepath.Join(*dir, *name), []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("============ Serving Benchmark Result ============")
	return 0
}
