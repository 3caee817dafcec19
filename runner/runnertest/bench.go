package runnertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Bench is a scenario for the fake `vllm bench serve`. Args turns it into the flags that ask the fake for it,
// which a test gives the runner as the benchmark's extra flags (runner.Workload.ExtraArgs). The zero Bench sends
// one request to the server, reads what it delivers (OutputThroughput) and writes a good bench.json at once.
type Bench struct {
	Result BenchResult   // what the result file holds
	Exit   int           // print a Python traceback and exit with this status instead of writing a result
	Sleep  time.Duration // take this long before the result
	Hang   bool          // never finish: only being killed ends it
	// UntilScrapes: finish only once the server's /metrics has been read this many times (by a watcher).
	UntilScrapes int
}

// BenchResult is what the fake benchmark writes.
type BenchResult string

const (
	ResultGood          BenchResult = ""               // a 0.15.1-shaped result (reference vllm.md §13.8)
	ResultNaN           BenchResult = "nan"            // bare NaN and Infinity, as Python's json.dump writes them
	ResultTruncated     BenchResult = "truncated"      // half a file, every time
	ResultTruncatedOnce BenchResult = "truncated-once" // half a file the first time in a folder, whole after
	ResultNone          BenchResult = "none"           // no file
	// ResultRefused: every request failed to connect, as when no server listens (exit 0 all the same, §13.7).
	// The benchmark reports it too when its first request reaches no server.
	ResultRefused BenchResult = "refused"
	// ResultBadRequest: the server refused every request itself (§13.7: the reason phrase).
	ResultBadRequest BenchResult = "bad-request"
)

// Args is the flags that ask the fake benchmark for b.
func (b Bench) Args() []string {
	var args []string
	if b.Result != ResultGood {
		args = append(args, "--fake-result", string(b.Result))
	}
	if b.Exit != 0 {
		args = append(args, "--fake-exit", strconv.Itoa(b.Exit))
	}
	if b.Sleep > 0 {
		args = append(args, "--fake-sleep", b.Sleep.String())
	}
	if b.Hang {
		args = append(args, "--fake-hang")
	}
	if b.UntilScrapes > 0 {
		args = append(args, "--fake-until-scrapes", strconv.Itoa(b.UntilScrapes))
	}
	return args
}

// benchValueFlags and benchSwitches are the `vllm bench serve` flags the fake takes (those runner passes).
var (
	benchValueFlags = map[string]bool{"--base-url": true, "--backend": true, "--endpoint": true, "--model": true,
		"--tokenizer": true, "--dataset-name": true, "--max-concurrency": true, "--num-prompts": true,
		"--random-input-len": true, "--random-output-len": true, "--request-rate": true, "--result-dir": true,
		"--result-filename": true, "--percentile-metrics": true, "--metric-percentiles": true, "--seed": true}
	benchSwitches = map[string]bool{"--ignore-eos": true, "--save-result": true}
)

func parseBench(args []string) (Bench, map[string]string, string) {
	var b Bench
	flags := map[string]string{}
	for i := 0; i < len(args); i++ {
		val := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch a := args[i]; {
		case a == "--fake-result":
			b.Result = BenchResult(val())
		case a == "--fake-exit":
			b.Exit, _ = strconv.Atoi(val())
		case a == "--fake-sleep":
			b.Sleep, _ = time.ParseDuration(val())
		case a == "--fake-hang":
			b.Hang = true
		case a == "--fake-until-scrapes":
			b.UntilScrapes, _ = strconv.Atoi(val())
		case benchValueFlags[a]:
			flags[a] = val()
		case benchSwitches[a]:
			flags[a] = "true"
		default:
			return b, nil, a
		}
	}
	return b, flags, ""
}

// bench plays `vllm bench serve`: one request to the server, then the scenario, then the result file.
func (f *fake) bench(args []string) int {
	b, flags, bad := parseBench(args)
	if bad != "" {
		return usageError("vllm bench serve [options]", bad)
	}
	base := flags["--base-url"]
	prompts, err := strconv.Atoi(flags["--num-prompts"])
	if err != nil {
		prompts = 1000
	}
	result := b.Result
	var p perf
	resp, err := http.Post(base+"/completions", "application/json", strings.NewReader(`{"prompt": "fake"}`))
	if err == nil {
		resp.Body.Close()
		p, err = getPerf(base)
	}
	if err != nil && result == ResultGood {
		result = ResultRefused // no server there: every request fails, and the benchmark still exits 0 (§13.7)
	}
	if b.Hang {
		forever()
	}
	for b.UntilScrapes > 0 && p.Scrapes < int64(b.UntilScrapes) {
		time.Sleep(10 * time.Millisecond)
		if p, err = getPerf(base); err != nil {
			break
		}
	}
	time.Sleep(b.Sleep)
	if b.Exit != 0 {
		fmt.Fprintln(os.Stderr, "Traceback (most recent call last):")
		fmt.Fprintln(os.Stderr, "RuntimeError: the tokenizer could not be loaded")
		return b.Exit
	}
	good := benchJSON(prompts, prompts, 0, p)
	out := good
	switch result {
	case ResultNaN:
		out = strings.Replace(good, `"std_itl_ms": 9.73`, `"std_itl_ms": NaN`, 1)
		out = strings.Replace(out, `"max_output_tokens_per_s": 3650.0`, `"max_output_tokens_per_s": Infinity`, 1)
	case ResultTruncated:
		out = good[:len(good)/2]
	case ResultTruncatedOnce:
		marker := filepath.Join(flags["--result-dir"], ".fake-bench-ran")
		if _, err := os.Stat(marker); err != nil {
			_ = os.WriteFile(marker, nil, 0o644)
			out = good[:len(good)/2]
		}
	case ResultNone:
		out = ""
	case ResultRefused:
		out = benchJSON(prompts, 0, prompts, perf{})
		fmt.Println("Failed requests during benchmark run detected (capping to 10):")
		fmt.Println("Error 0: Cannot connect to host 127.0.0.1 ssl:default [Connect call failed]")
	case ResultBadRequest:
		out = benchJSON(prompts, 0, prompts, perf{})
		fmt.Println("Failed requests during benchmark run detected (capping to 10):")
		fmt.Println("Error 0: Bad Request")
		fmt.Println("Error 1: Bad Request")
	}
	if out != "" {
		name := flags["--result-filename"]
		if name == "" {
			name = "bench.json"
		}
		if err := os.WriteFile(filepath.Join(flags["--result-dir"], name), []byte(out), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Println("============ Serving Benchmark Result ============")
	return 0
}

func getPerf(base string) (perf, error) {
	var p perf
	resp, err := http.Get(strings.TrimSuffix(base, "/v1") + "/fake/perf")
	if err != nil {
		return p, err
	}
	defer resp.Body.Close()
	return p, json.NewDecoder(resp.Body).Decode(&p)
}

// benchJSON is a 0.15.1-shaped result (reference vllm.md §13.8) with the percentiles runner asks for and the
// throughput and TPOT the server delivered.
func benchJSON(prompts, completed, failed int, p perf) string {
	tpot := p.MeanTPOTms
	if completed == 0 {
		tpot = 0
	}
	return fmt.Sprintf(`{
  "date": "20260519-101502", "endpoint_type": "openai", "backend": "openai", "label": null,
  "model_id": "Qwen/Qwen2.5-0.5B", "tokenizer_id": "Qwen/Qwen2.5-0.5B", "num_prompts": %d,
  "request_rate": "inf", "burstiness": 1.0, "max_concurrency": 50, "duration": 31.87,
  "completed": %d, "failed": %d, "total_input_tokens": 102400, "total_output_tokens": 102400,
  "request_throughput": 6.275, "request_goodput": null, "output_throughput": %v,
  "total_token_throughput": %v, "max_output_tokens_per_s": 3650.0, "max_concurrent_requests": 50,
  "mean_ttft_ms": 412.7, "median_ttft_ms": 318.2, "std_ttft_ms": 301.5, "p50_ttft_ms": 318.2,
  "p90_ttft_ms": 1000.1, "p99_ttft_ms": 1184.6, "mean_tpot_ms": %v, "median_tpot_ms": %v,
  "std_tpot_ms": 0.62, "p50_tpot_ms": %v, "p90_tpot_ms": %v, "p99_tpot_ms": %v,
  "mean_itl_ms": 14.60, "median_itl_ms": 13.92, "std_itl_ms": 9.73, "p50_itl_ms": 13.92,
  "p90_itl_ms": 20.1, "p99_itl_ms": 41.25, "mean_e2el_ms": 7870.2, "median_e2el_ms": 7800.0,
  "std_e2el_ms": 300.1, "p50_e2el_ms": 7800.0, "p90_e2el_ms": 8100.0, "p99_e2el_ms": 8300.5
}
`, prompts, completed, failed, p.OutputThroughput, 2*p.OutputThroughput, tpot, tpot, tpot, tpot*1.06, tpot*1.09)
}
