package process

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autotune/autotune/runner/runnertest"
	"github.com/autotune/autotune/sim/internal/model"
)

// Process-level tests: the test binary re-executes itself as the simulator (see TestMain), exactly as
// `autotune sim ...` will be run by the runner. Every process is started in its own process group and the
// group is killed and reaped in t.Cleanup, so nothing outlives the test. A server listens on a port the test
// reserves for its lifetime (runnertest.Port: bound, never listening, so that no other test, and no outgoing
// connection, takes it between the reservation and the server's bind).

const testSpeed = "2000"

type proc struct {
	cmd  *exec.Cmd
	out  *runnertest.SyncBuffer
	done chan struct{}
	code int
}

func simEnv(state string, extra ...string) []string {
	env := append(os.Environ(), "AUTOTUNE_SIM_HELPER=1", "AUTOTUNE_SIM_STATE="+state, "AUTOTUNE_SIM_SPEED="+testSpeed, "AUTOTUNE_SIM_SEED=7",
		"GORACE=atexit_sleep_ms=0") // race-enabled helpers would otherwise sleep 1 s at exit
	return append(env, extra...)
}

// startSim starts the simulator with args; stdout and stderr go to one buffer.
func startSim(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = env
	p := &proc{cmd: cmd, out: &runnertest.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
	return p
}

// runSim runs the simulator to completion.
func runSim(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	p := startSim(t, env, args...)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%v did not finish:\n%s", args, p.out.String())
	}
	return p.out.String(), p.code
}

func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		t.Fatalf("process still running after %v:\n%s", d, p.out.String())
	}
	return -1
}

func healthCode(port int) int {
	c := http.Client{Timeout: 300 * time.Millisecond}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitHealthy(t *testing.T, p *proc, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if healthCode(port) == 200 {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("server exited with %d before it was ready:\n%s", p.code, p.out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("server not healthy in time:\n%s", p.out.String())
}

func gpuUsed(t *testing.T, env []string) int {
	t.Helper()
	out, code := runSim(t, env, "nvidia-smi", "--query-gpu=name,compute_cap,memory.total,memory.used", "--format=csv,noheader,nounits")
	f := strings.Split(strings.TrimSpace(out), ", ")
	if code != 0 || len(f) != 4 || f[0] != "Tesla T4" || f[1] != "7.5" || f[2] != "15360" {
		t.Fatalf("nvidia-smi: exit %d, %q", code, out)
	}
	n, _ := strconv.Atoi(f[3])
	return n
}

func benchCmd(port int, dir string, extra ...string) []string {
	args := []string{"bench", "serve", "--backend", "openai", "--base-url", fmt.Sprintf("http://127.0.0.1:%d/v1", port),
		"--endpoint", "/completions", "--model", qwen, "--dataset-name", "random", "--num-prompts", "200",
		"--random-input-len", "512", "--random-output-len", "512", "--ignore-eos", "--max-concurrency", "50",
		"--request-rate", "inf", "--save-result", "--result-dir", dir, "--result-filename", "bench.json",
		"--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,99"}
	return append(args, extra...)
}

func readBench(t *testing.T, path string) (map[string]any, []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("bench JSON: %v\n%s", err, data)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.Token()
	var keys []string
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	return m, keys
}

func TestServeBenchAndTeardown(t *testing.T) {
	state := t.TempDir()
	env := simEnv(state)
	port := runnertest.Port(t)
	srv := startSim(t, env, "serve", qwen, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	waitHealthy(t, srv, port)

	used := gpuUsed(t, env)
	// util 0.9 × 14.56 GiB + 0.69 GiB of graphs outside the budget (t4-calibration.md §9).
	if used < 13500 || used > 14500 {
		t.Errorf("nvidia-smi memory.used = %d MiB with one default server, want ≈14,120", used)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/models", port))
	if err != nil {
		t.Fatal(err)
	}
	var models struct {
		Data []struct{ ID string } `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&models)
	resp.Body.Close()
	if len(models.Data) != 1 || models.Data[0].ID != qwen {
		t.Errorf("/v1/models = %+v", models)
	}

	// A second server does not fit while the first holds the GPU (vllm.md §10.1).
	out, code := runSim(t, env, "serve", qwen, "--host", "127.0.0.1", "--port", strconv.Itoa(runnertest.Port(t)))
	if code != 1 || !strings.Contains(out, "Free memory on device cuda:0 (") || !strings.Contains(out, "on startup is less than desired GPU memory utilization (0.90, 13.10 GiB)") {
		t.Errorf("second server: exit %d, want 1 with the free-memory error:\n%s", code, out)
	}

	dir := t.TempDir()
	bout, code := runSim(t, env, benchCmd(port, dir)...)
	if code != 0 {
		t.Fatalf("bench serve exit %d:\n%s", code, bout)
	}
	for _, label := range []string{"Successful requests:                     200", "Output token throughput (tok/s):", "P99 TTFT (ms):"} {
		if !strings.Contains(bout, label) {
			t.Errorf("bench stdout lacks %q:\n%s", label, bout)
		}
	}
	m, keys := readBench(t, filepath.Join(dir, "bench.json"))
	wantPrefix := []string{"date", "endpoint_type", "backend", "label", "model_id", "tokenizer_id", "num_prompts",
		"request_rate", "burstiness", "max_concurrency", "duration", "completed", "failed", "total_input_tokens",
		"total_output_tokens", "request_throughput", "request_goodput", "output_throughput", "total_token_throughput",
		"max_output_tokens_per_s", "max_concurrent_requests", "mean_ttft_ms"}
	if len(keys) < len(wantPrefix) || strings.Join(keys[:len(wantPrefix)], ",") != strings.Join(wantPrefix, ",") {
		t.Errorf("JSON keys\n%v\nwant prefix\n%v", keys, wantPrefix)
	}
	if m["completed"] != 200.0 || m["failed"] != 0.0 || m["request_rate"] != "inf" || m["simulated"] != true || m["label"] != nil {
		t.Errorf("bench JSON: completed %v failed %v rate %v simulated %v label %v", m["completed"], m["failed"], m["request_rate"], m["simulated"], m["label"])
	}
	if thr := m["output_throughput"].(float64); thr < 3165 || thr > 3653 {
		t.Errorf("output_throughput %.0f outside run B's band", thr)
	}
	if _, ok := m["p99_e2el_ms"]; !ok {
		t.Error("e2el listed in --percentile-metrics but p99_e2el_ms missing")
	}

	// SIGTERM: graceful exit 0, memory released with the process.
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if code := srv.wait(t, 5*time.Second); code != 0 {
		t.Errorf("serve exit %d on SIGTERM, want 0", code)
	}
	if used := gpuUsed(t, env); used != 0 {
		t.Errorf("memory.used = %d MiB after the server exited, want 0", used)
	}
	if !strings.Contains(srv.out.String(), model.Banner) || !strings.Contains(srv.out.String(), "Application startup complete.") {
		t.Errorf("server log lacks the SIMULATED banner or the readiness line:\n%s", srv.out.String())
	}
}

func TestBenchAgainstNoServer(t *testing.T) {
	env := simEnv(t.TempDir())
	dir := t.TempDir()
	out, code := runSim(t, env, benchCmd(runnertest.Port(t), dir)...)
	if code != 0 {
		t.Fatalf("bench serve exit %d with the server down, want 0 (vllm.md §13.7):\n%s", code, out)
	}
	if !strings.Contains(out, "Failed requests during benchmark run detected (capping to 10):") || strings.Count(out, "\nError ") != 10 {
		t.Errorf("stdout:\n%s", out)
	}
	m, _ := readBench(t, filepath.Join(dir, "bench.json"))
	if m["completed"] != 0.0 || m["failed"] != 200.0 || m["output_throughput"] != 0.0 {
		t.Errorf("completed %v failed %v output_throughput %v", m["completed"], m["failed"], m["output_throughput"])
	}
}

func TestCommandLineExits(t *testing.T) {
	env := simEnv(t.TempDir(), "AUTOTUNE_SIM_PACKAGES=")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"version", []string{"--version"}, 0, "0.15.1"},
		{"unknown serve flag", []string{"serve", qwen, "--foo"}, 2, "vllm: error: unrecognized arguments: --foo"},
		{"bad choice", []string{"serve", qwen, "--dtype", "x"}, 2, "argument --dtype: invalid choice: 'x'"},
		{"help=all", []string{"serve", "--help=all"}, 0, "--max-cudagraph-capture-size"},
		{"bf16 refused late", []string{"serve", qwen, "--dtype", "bfloat16"}, 1, "Bfloat16 is only supported on GPUs with compute capability of at least 8.0"},
		{"engine failure shape", []string{"serve", qwen, "--dtype", "bfloat16"}, 1, "Engine core initialization failed. See root cause above. Failed core proc(s): {'EngineCore_DP0': 1}"},
		{"suffix without package", []string{"serve", qwen, "--speculative-config", `{"method":"suffix"}`}, 1, "ImportError: Arctic Inference is required for suffix decoding"},
		{"nvidia-smi other args", []string{"nvidia-smi", "-q"}, 2, "Invalid combination of input arguments"},
		{"python probe missing", []string{"python", "-c", "import arctic_inference"}, 1, "ModuleNotFoundError: No module named 'arctic_inference'"},
		{"python probe present", []string{"python", "-c", "import vllm; print(vllm.__version__)"}, 0, "0.15.1"},
		{"bench unknown option", []string{"bench", "serve", "--bogus"}, 2, "unrecognized arguments: --bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runSim(t, env, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d (want %d); output should contain %q:\n%s", code, tt.code, tt.want, out)
			}
		})
	}
	out, code := runSim(t, simEnv(t.TempDir(), "AUTOTUNE_SIM_PACKAGES=arctic-inference"), "python", "-c", "import importlib.util; assert importlib.util.find_spec('arctic_inference')")
	if code != 0 {
		t.Errorf("probe with the package installed: exit %d\n%s", code, out)
	}
}

func TestStartupFaults(t *testing.T) {
	tests := []struct {
		fault string
		want  []string
	}{
		{faultStartupCrash, []string{"EngineCore failed to start.", "RuntimeError: Engine core initialization failed."}},
		{faultOOMStartup, []string{"torch.OutOfMemoryError: CUDA out of memory.", "EngineCore failed to start."}},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			env := simEnv(t.TempDir(), "AUTOTUNE_SIM_FAULT="+tt.fault)
			out, code := runSim(t, env, "serve", qwen, "--port", strconv.Itoa(runnertest.Port(t)))
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if used := gpuUsed(t, env); used != 0 {
				t.Errorf("memory.used %d after a failed start", used)
			}
		})
	}
}

func TestMidBenchFaults(t *testing.T) {
	tests := []struct {
		fault    string
		exits    bool
		health   int
		wantLogs string
	}{
		{faultCrashMidBench, true, 0, "EngineCore encountered a fatal error."},
		{faultOOMMidBench, true, 0, "CUDA out of memory"},
		{faultUnhealthyMidBench, false, 503, "EngineDeadError"},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			env := simEnv(t.TempDir(), "AUTOTUNE_SIM_FAULT="+tt.fault)
			port := runnertest.Port(t)
			srv := startSim(t, env, "serve", qwen, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
			waitHealthy(t, srv, port)
			dir := t.TempDir()
			out, code := runSim(t, env, benchCmd(port, dir)...)
			if code != 0 {
				t.Fatalf("bench exit %d:\n%s", code, out)
			}
			m, _ := readBench(t, filepath.Join(dir, "bench.json"))
			if f := m["failed"].(float64); f == 0 || f == 200 || m["completed"].(float64)+f != 200 {
				t.Errorf("completed %v failed %v; a mid-run fault fails the rest", m["completed"], m["failed"])
			}
			if tt.exits {
				if code := srv.wait(t, 5*time.Second); code != 1 {
					t.Errorf("server exit %d, want 1", code)
				}
			} else if h := healthCode(port); h != tt.health {
				t.Errorf("/health = %d, want %d", h, tt.health)
			}
			if !strings.Contains(srv.out.String(), tt.wantLogs) {
				t.Errorf("server log lacks %q:\n%s", tt.wantLogs, srv.out.String())
			}
		})
	}
}

func TestSignalFaults(t *testing.T) {
	t.Run(faultIgnoreSIGTERM, func(t *testing.T) {
		env := simEnv(t.TempDir(), "AUTOTUNE_SIM_FAULT="+faultIgnoreSIGTERM)
		port := runnertest.Port(t)
		srv := startSim(t, env, "serve", qwen, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
		waitHealthy(t, srv, port)
		srv.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-srv.done:
			t.Fatal("server exited on SIGTERM despite ignore_sigterm")
		case <-time.After(300 * time.Millisecond):
		}
		syscall.Kill(-srv.cmd.Process.Pid, syscall.SIGKILL)
		srv.wait(t, 5*time.Second)
		if used := gpuUsed(t, env); used != 0 {
			t.Errorf("memory.used %d after SIGKILL", used)
		}
	})
	t.Run(faultHang, func(t *testing.T) {
		env := simEnv(t.TempDir(), "AUTOTUNE_SIM_FAULT="+faultHang)
		port := runnertest.Port(t)
		srv := startSim(t, env, "serve", qwen, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
		time.Sleep(300 * time.Millisecond) // ≈ 10 simulated minutes
		if h := healthCode(port); h != 0 {
			t.Errorf("/health answered %d from a hung server", h)
		}
		if used := gpuUsed(t, env); used == 0 {
			t.Error("a hung server should hold GPU memory")
		}
		srv.cmd.Process.Signal(syscall.SIGTERM)
		if code := srv.wait(t, 5*time.Second); code != 0 {
			t.Errorf("exit %d on SIGTERM, want 0", code)
		}
	})
	t.Run(faultForkHolder, func(t *testing.T) {
		env := simEnv(t.TempDir(), "AUTOTUNE_SIM_FAULT="+faultForkHolder)
		port := runnertest.Port(t)
		srv := startSim(t, env, "serve", qwen, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
		waitHealthy(t, srv, port)
		// Killing only the leader leaves the engine core holding the memory.
		srv.cmd.Process.Signal(syscall.SIGKILL)
		<-srv.done
		time.Sleep(50 * time.Millisecond)
		if used := gpuUsed(t, env); used < 13000 {
			t.Fatalf("memory.used %d after killing only the leader; the forked engine core should hold it", used)
		}
		// Killing the group frees it.
		syscall.Kill(-srv.cmd.Process.Pid, syscall.SIGKILL)
		deadline := time.Now().Add(5 * time.Second)
		for gpuUsed(t, env) != 0 {
			if time.Now().After(deadline) {
				t.Fatal("memory not released after the group kill")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestCompileCacheColdThenWarm(t *testing.T) {
	env := simEnv(t.TempDir())
	for i, want := range []string{"Compiling a graph for compile range (1, 2048)", "Directly load the compiled graph(s) for compile range (1, 2048) from the cache"} {
		port := runnertest.Port(t)
		srv := startSim(t, env, "serve", qwen, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
		waitHealthy(t, srv, port)
		srv.cmd.Process.Signal(syscall.SIGTERM)
		srv.wait(t, 5*time.Second)
		if !strings.Contains(srv.out.String(), want) {
			t.Errorf("start %d: log lacks %q", i+1, want)
		}
	}
}
