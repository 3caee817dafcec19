package runner

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autotune/autotune/runner/runnertest"
)

// fake is one test's world: its fake machine (port, GPU, vllm) and trial directory.
type fake struct {
	t    *testing.T
	m    *runnertest.Machine
	dir  string
	port int
	opts Options
}

// newFake is a world whose machine is cfg, and whose processes get env besides what the machine needs (which
// includes runnertest.TrackChildren's entry: anything the test started and left alive fails it). Its time limits
// only bound waiting: a loaded machine must not turn them into verdicts. Tests of a limit set it themselves.
func newFake(t *testing.T, cfg runnertest.Config, env ...string) *fake {
	t.Helper()
	m := runnertest.NewMachine(t, cfg)
	f := &fake{t: t, m: m, dir: t.TempDir(), port: m.Port}
	f.opts = Options{
		VLLM:           m.VLLM,
		NvidiaSMI:      m.NvidiaSMI,
		Python:         m.Python,
		Port:           m.Port,
		Env:            append(append([]string{}, m.Env...), env...),
		StartupTimeout: time.Minute,
		BenchTimeout:   time.Minute,
		StopGrace:      300 * time.Millisecond,
		ReleaseTimeout: 30 * time.Second,
	}
	return f
}

func (f *fake) runner() *Runner {
	r := New(f.opts)
	r.watchEvery = 50 * time.Millisecond
	r.scrapeEvery = 50 * time.Millisecond
	return r
}

// trial is a trial with server flags args and benchmark ExtraArgs bench.
func (f *fake) trial(args []string, bench ...string) Trial {
	w := DefaultWorkload()
	w.ExtraArgs = bench
	return Trial{Number: 1, Dir: filepath.Join(f.dir, "trial-1"), Args: args, Workload: w}
}

// assertClean checks that nothing of the trial survives: no live process in the server's group, and the port
// and GPU memory are free.
func (f *fake) assertClean(res Result) {
	f.t.Helper()
	if pg := res.Process.PGID; pg > 0 {
		deadline := time.Now().Add(30 * time.Second)
		// No live process: a zombie holds no memory, port or file (groupAlive's rule too), and reapOrphans reaps
		// it when it gets to it, which under load can take longer than this deadline.
		for alive, _ := groupAlive(pg); alive; alive, _ = groupAlive(pg) {
			if time.Now().After(deadline) {
				m, _ := groupMembers(pg)
				f.t.Errorf("process group %d survives the trial: %v", pg, m)
				syscall.Kill(-pg, syscall.SIGKILL)
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// The benchmark's group is not in Result: find its processes by the trial directory in their argv.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, file := range procs {
		cmdline, err := os.ReadFile(file)
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(file)))
		if err != nil || pid == os.Getpid() || !strings.Contains(string(cmdline), f.dir) {
			continue
		}
		if st, err := readStat(pid); err == nil && st.live() {
			f.t.Errorf("process %d survives the trial: %q", pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	if err := checkPort("127.0.0.1", f.port); err != nil {
		f.t.Errorf("port not free after the trial: %v", err)
	}
	if used := f.m.HeldMiB(); used != 0 {
		f.t.Errorf("GPU memory not released after the trial: %d MiB", used)
	}
}

func wantClass(t *testing.T, res Result, want Class) {
	t.Helper()
	if res.Class != want {
		t.Fatalf("class = %q, want %q\nmessage: %s\nlog tail:\n%s", res.Class, want, res.Message, res.LogTail)
	}
}

func TestRunSuccess(t *testing.T) {
	t.Parallel()
	f := newFake(t, runnertest.Config{})
	var started []Process
	readyAfter := 200 * time.Millisecond
	tr := f.trial(runnertest.Serve{ReadyAfter: readyAfter, EngineMiB: 2000, SelfMiB: 500}.Args("--max-num-seqs", "64"))
	tr.OnStart = func(p Process) { started = append(started, p) }
	r := f.runner()
	t0 := time.Now()
	res := r.Run(context.Background(), tr)
	took := time.Since(t0)
	wantClass(t, res, OK)
	f.assertClean(res)

	if len(started) != 1 || started[0] != res.Process {
		t.Fatalf("OnStart got %v, Result.Process %v", started, res.Process)
	}
	r.liveMu.Lock()
	tracked := len(r.live)
	r.liveMu.Unlock()
	if tracked != 0 {
		t.Errorf("the runner still tracks %d servers after the trial (StopAll could signal a reused group ID)", tracked)
	}
	p := res.Process
	if p.PID <= 0 || p.PGID != p.PID || p.StartTicks == 0 || p.Host != "127.0.0.1" || p.Port != f.port || len(p.Token) != 32 {
		t.Errorf("Process = %+v", p)
	}
	if res.Startup < readyAfter || res.Benchmark <= 0 || res.Teardown <= 0 || res.Startup+res.Benchmark+res.Teardown > took {
		t.Errorf("Startup %v (the server took %v to get ready), Benchmark %v, Teardown %v: not parts of the %v the run took",
			res.Startup, readyAfter, res.Benchmark, res.Teardown, took)
	}
	if res.Bench == nil || res.Bench.OutputThroughput != runnertest.OutputThroughput(64) || res.Bench.Latency["p99_e2el_ms"] != 8300.5 {
		t.Errorf("Bench = %+v", res.Bench)
	}
	if res.LogTail != "" || res.Message != "" {
		t.Errorf("success with message %q, tail %q", res.Message, res.LogTail)
	}
	wantServe := append(append([]string{}, f.opts.VLLM...), "serve", "Qwen/Qwen2.5-0.5B", "--host", "127.0.0.1",
		"--port", strconv.Itoa(f.port))
	wantServe = append(wantServe, tr.Args...)
	if !reflect.DeepEqual(res.ServeArgv, wantServe) {
		t.Errorf("ServeArgv = %q\nwant %q", res.ServeArgv, wantServe)
	}
	for _, file := range []string{res.ServerLog, res.BenchLog, res.BenchJSON} {
		if _, err := os.Stat(file); err != nil {
			t.Error(err)
		}
	}
	if log, _ := os.ReadFile(res.ServerLog); !strings.Contains(string(log), "Application startup complete.") {
		t.Errorf("server.log lacks the server's output:\n%s", log)
	}
}

func TestBenchArgv(t *testing.T) {
	r := New(Options{VLLM: []string{"/opt/autotune", "sim"}, Port: 8123})
	w := DefaultWorkload()
	w.ExtraArgs = []string{"--seed", "1"}
	got := r.benchArgv(w, "/tmp/t1")
	want := strings.Fields(`/opt/autotune sim bench serve --base-url http://127.0.0.1:8123/v1 --backend openai
		--endpoint /completions --model Qwen/Qwen2.5-0.5B --tokenizer Qwen/Qwen2.5-0.5B --dataset-name random
		--max-concurrency 50 --num-prompts 200 --random-input-len 512 --random-output-len 512 --ignore-eos
		--request-rate inf --save-result --result-dir /tmp/t1 --result-filename bench.json
		--percentile-metrics ttft,tpot,itl,e2el --metric-percentiles 50,90,99 --seed 1`)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("benchArgv =\n%q\nwant\n%q", got, want)
	}
	// A zero Workload is the default one; a partial one is completed, its tokenizer being its model.
	if got := (Workload{}).withDefaults(); !reflect.DeepEqual(got, DefaultWorkload()) {
		t.Errorf("zero workload = %+v", got)
	}
	got2 := (Workload{Model: "m", NumPrompts: 10}).withDefaults()
	if got2.Tokenizer != "m" || got2.NumPrompts != 10 || got2.MaxConcurrency != 50 || got2.IgnoreEOS {
		t.Errorf("partial workload = %+v", got2)
	}
	// Every field counts as set, not only some: these were once replaced by the whole default.
	if got := (Workload{RequestRate: "10"}).withDefaults(); got.RequestRate != "10" || got.IgnoreEOS {
		t.Errorf("request rate only: %+v", got)
	}
	if got := (Workload{Endpoint: "/chat/completions"}).withDefaults(); got.Endpoint != "/chat/completions" || got.Model != "Qwen/Qwen2.5-0.5B" {
		t.Errorf("endpoint only: %+v", got)
	}
}

func TestRunEnvironmentIsExplicit(t *testing.T) {
	t.Setenv("RUNNER_SHOULD_NOT_LEAK", "1") // in this process, not in Options.Env
	f := newFake(t, runnertest.Config{}, "FROM_OPTIONS=a", "OVERRIDDEN=options")
	dump := filepath.Join(f.dir, "env")
	tr := f.trial(runnertest.Serve{EnvDump: dump}.Args())
	tr.Env = map[string]string{"OVERRIDDEN": "trial", "FROM_TRIAL": "b"}
	res := f.runner().Run(context.Background(), tr)
	wantClass(t, res, OK)
	f.assertClean(res)
	data, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if _, ok := env["RUNNER_SHOULD_NOT_LEAK"]; ok {
		t.Error("the server inherited the parent's environment")
	}
	if env["FROM_OPTIONS"] != "a" || env["FROM_TRIAL"] != "b" || env["OVERRIDDEN"] != "trial" ||
		env[tokenEnv] != res.Process.Token {
		t.Errorf("server environment = %v", env)
	}
}

func TestRunStartupFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want Class
		in   string // expected in Message
	}{
		{"unknown flag", []string{"--no-such-flag"}, InvalidFlag, "unrecognized arguments: --no-such-flag"},
		{"bf16", runnertest.Serve{EngineMiB: 1000, StartupError: runnertest.StartupBF16}.Args(), UnsupportedOnGPU, "Bfloat16"},
		{"oom", runnertest.Serve{EngineMiB: 1000, StartupError: runnertest.StartupOOM}.Args(), OutOfMemory, "CUDA out of memory"},
		{"kv", runnertest.Serve{StartupError: runnertest.StartupNoKVCache}.Args(), KVCacheTooSmall, "No available memory for the cache blocks"},
		{"config", runnertest.Serve{StartupError: runnertest.StartupBatchTooSmall}.Args(), ConfigRefused, "must be greater than or equal to max_num_seqs"},
		{"unknown crash", runnertest.Serve{EngineMiB: 1000, EngineIgnoresTerm: true,
			StartupError: "RuntimeError: something nobody has seen before"}.Args(), StartupCrash, "exit status 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, runnertest.Config{})
			res := f.runner().Run(context.Background(), f.trial(c.args))
			wantClass(t, res, c.want)
			f.assertClean(res)
			if !strings.Contains(res.Message, c.in) {
				t.Errorf("message %q lacks %q", res.Message, c.in)
			}
			if res.LogTail == "" || len(res.LogTail) > tailBytes+2048 {
				t.Errorf("log tail of %d bytes:\n%s", len(res.LogTail), res.LogTail)
			}
			if res.Startup != 0 || res.Bench != nil {
				t.Errorf("Startup %v, Bench %v after a failed start", res.Startup, res.Bench)
			}
		})
	}
}

// TestRunStartupTimeout: a server that never gets ready is stopped at StartupTimeout, and so is its engine,
// which ignores SIGTERM. A server that ignores SIGTERM too gets StopGrace before the SIGKILL; that needs the
// server to have set up its signal handling before the timeout, which a loaded machine may delay past a short
// limit: the limit grows until the server was seen ignoring the SIGTERM.
func TestRunStartupTimeout(t *testing.T) {
	t.Parallel()
	for _, ignoreTerm := range []bool{false, true} {
		t.Run("ignore-term="+strconv.FormatBool(ignoreTerm), func(t *testing.T) {
			t.Parallel()
			for limit := 400 * time.Millisecond; ; limit *= 4 {
				f := newFake(t, runnertest.Config{})
				f.opts.StartupTimeout = limit
				s := runnertest.Serve{NeverReady: true, EngineMiB: 3000, EngineIgnoresTerm: true, IgnoreTerm: ignoreTerm}
				res := f.runner().Run(context.Background(), f.trial(s.Args()))
				wantClass(t, res, StartupTimeout)
				f.assertClean(res)
				if !ignoreTerm {
					return
				}
				if f.m.Saw(runnertest.TermIgnored) {
					if res.Teardown < f.opts.StopGrace {
						t.Errorf("Teardown %v shorter than the grace a TERM-ignoring server gets", res.Teardown)
					}
					return
				}
				if limit > 20*time.Second {
					t.Fatalf("no SIGTERM reached the server once it could ignore one, even with a StartupTimeout of %v", limit)
				}
			}
		})
	}
}

// A server that exits on SIGTERM but leaves its engine (which ignores SIGTERM) running: the group is swept.
func TestRunOrphanedEngineIsKilled(t *testing.T) {
	t.Parallel()
	f := newFake(t, runnertest.Config{})
	res := f.runner().Run(context.Background(), f.trial(runnertest.Serve{EngineMiB: 4000, Orphan: true,
		EngineIgnoresTerm: true}.Args()))
	wantClass(t, res, OK)
	f.assertClean(res)
}

// TestRunDuringBenchmark: what happens to the server or the benchmark while the benchmark runs. A benchmark that
// hangs stands for one the runner must stop itself: were it waited for, the trial would end as hung instead.
func TestRunDuringBenchmark(t *testing.T) {
	t.Parallel()
	engine := runnertest.Serve{EngineMiB: 3000}
	withEngine := func(s runnertest.Serve) runnertest.Serve { s.EngineMiB = engine.EngineMiB; return s }
	hang := runnertest.Bench{Hang: true}
	cases := []struct {
		name  string
		serve runnertest.Serve
		bench runnertest.Bench
		want  Class
		in    string
	}{
		{"crash", withEngine(runnertest.Serve{CrashOnBench: true}), hang, CrashedDuringBenchmark, "exited during the benchmark"},
		{"crash oom", withEngine(runnertest.Serve{CrashOnBench: true, CrashOOM: true}), hang, OutOfMemory, "CUDA out of memory"},
		{"503", withEngine(runnertest.Serve{UnhealthyOnBench: true}), hang, CrashedDuringBenchmark, "503"},
		{"hang", engine, hang, BenchmarkFailed, "benchmark hung"},
		{"bench exit 1", runnertest.Serve{}, runnertest.Bench{Exit: 1}, BenchmarkFailed, "exit status 1"},
		{"truncated json", runnertest.Serve{}, runnertest.Bench{Result: runnertest.ResultTruncated}, BenchmarkFailed, "no usable bench.json twice"},
		{"no json", runnertest.Serve{}, runnertest.Bench{Result: runnertest.ResultNone}, BenchmarkFailed, "no usable bench.json twice"},
		{"all requests failed", runnertest.Serve{}, runnertest.Bench{Result: runnertest.ResultBadRequest}, RequestsFailed, "200 of 200 requests failed"},
		// Refused connections (or 404s) on every request: nothing of the trial's served them, a harness fault.
		{"all requests refused", runnertest.Serve{}, runnertest.Bench{Result: runnertest.ResultRefused}, Harness, "no server or another program answered"},
		{"truncated once", runnertest.Serve{}, runnertest.Bench{Result: runnertest.ResultTruncatedOnce}, OK, ""},
		{"nan", runnertest.Serve{}, runnertest.Bench{Result: runnertest.ResultNaN}, OK, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, runnertest.Config{})
			if c.want == BenchmarkFailed && c.bench.Hang {
				f.opts.BenchTimeout = 1500 * time.Millisecond // the limit under test; the benchmark never ends by itself
			}
			res := f.runner().Run(context.Background(), f.trial(c.serve.Args(), c.bench.Args()...))
			wantClass(t, res, c.want)
			f.assertClean(res)
			if !strings.Contains(res.Message, c.in) {
				t.Errorf("message %q lacks %q", res.Message, c.in)
			}
			switch c.want {
			case OK:
				if res.Bench == nil {
					t.Error("no Bench")
				}
			case RequestsFailed:
				if res.Bench == nil || res.Bench.Failed != 200 {
					t.Errorf("Bench = %+v", res.Bench)
				}
				if !strings.Contains(res.LogTail, "Failed requests during benchmark run detected") {
					t.Errorf("log tail lacks the failed requests:\n%s", res.LogTail)
				}
			case BenchmarkFailed:
				if c.name == "bench exit 1" && !strings.Contains(res.LogTail, "the tokenizer could not be loaded") {
					t.Errorf("log tail lacks the benchmark's error:\n%s", res.LogTail)
				}
			case OutOfMemory:
				if !strings.Contains(res.LogTail, "CUDA out of memory") {
					t.Errorf("log tail lacks the OOM:\n%s", res.LogTail)
				}
			}
			if strings.HasPrefix(c.name, "truncated") {
				log, _ := os.ReadFile(res.BenchLog)
				if n := strings.Count(string(log), "Serving Benchmark Result"); n != 2 {
					t.Errorf("benchmark ran %d times, want 2 (one retry)", n)
				}
			}
		})
	}
}

// TestRunInterrupted: a trial interrupted while its server starts, or during the benchmark, stops the server and
// its engine (which ignores SIGTERM). The interrupt comes when the fake reaches the phase, not after a timer.
func TestRunInterrupted(t *testing.T) {
	t.Parallel()
	for _, phase := range []string{"startup", "benchmark"} {
		t.Run(phase, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, runnertest.Config{})
			s := runnertest.Serve{EngineMiB: 3000, EngineIgnoresTerm: true}
			var bench runnertest.Bench
			at := runnertest.BenchRequest
			if phase == "startup" {
				s.NeverReady, at = true, runnertest.Serving
			} else {
				bench.Hang = true
			}
			ctx, cancel := context.WithCancel(context.Background())
			reached := f.m.Await(t, at)
			go func() { <-reached; cancel() }()
			res := f.runner().Run(ctx, f.trial(s.Args(), bench.Args()...))
			wantClass(t, res, Interrupted)
			f.assertClean(res)
			if phase == "benchmark" && res.Startup == 0 {
				t.Error("interrupted before the benchmark")
			}
		})
	}
	t.Run("before start", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, runnertest.Config{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res := f.runner().Run(ctx, f.trial(nil))
		wantClass(t, res, Interrupted)
		if res.Process.PID != 0 {
			t.Error("a server was started")
		}
	})
}

func TestRunPortTaken(t *testing.T) {
	t.Parallel()
	f := newFake(t, runnertest.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(f.port))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	res := f.runner().Run(context.Background(), f.trial(nil))
	wantClass(t, res, Harness)
	if !strings.Contains(res.Message, "port "+strconv.Itoa(f.port)) || !strings.Contains(res.Message, "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("message %q does not name the port and its holder", res.Message)
	}
	if res.Process.PID != 0 {
		t.Error("a server was started")
	}
	// The listener is untouched.
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("the port's owner was disturbed: %v", err)
	}
	c.Close()
}

func TestRunGPUBusyBeforeStart(t *testing.T) {
	t.Parallel()
	f := newFake(t, runnertest.Config{IdleMiB: 9000}) // memory held by something that is not ours
	res := f.runner().Run(context.Background(), f.trial(nil))
	wantClass(t, res, Harness)
	if !strings.Contains(res.Message, "left over") || !strings.Contains(res.Message, "9000 of 15360 MiB") {
		t.Errorf("message %q", res.Message)
	}
	if res.Process.PID != 0 {
		t.Error("a server was started")
	}

	// A small idle use (a notebook's CUDA context) is a baseline, not a left-over.
	g := newFake(t, runnertest.Config{IdleMiB: 400})
	res = g.runner().Run(context.Background(), g.trial(runnertest.Serve{EngineMiB: 3000}.Args()))
	wantClass(t, res, OK)
	g.assertClean(res)
}

// The engine escapes the server's process group: its memory is never released, which is a harness fault
// with a clear message, not a hang.
func TestRunMemoryNotReleased(t *testing.T) {
	t.Parallel()
	f := newFake(t, runnertest.Config{})
	f.opts.ReleaseTimeout = 500 * time.Millisecond // the limit under test: the memory is never released
	res := f.runner().Run(context.Background(), f.trial(runnertest.Serve{EngineMiB: 3000, EngineEscapes: true,
		Orphan: true}.Args()))
	// Kill the escaped engine ourselves (the runner's sweep of the server's group cannot reach it).
	for _, pid := range f.m.EnginePIDs() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	wantClass(t, res, Harness)
	if !strings.Contains(res.Message, "GPU memory not released") || !strings.Contains(res.Message, "the trial itself succeeded") {
		t.Errorf("message %q", res.Message)
	}
}

func TestRunHarnessFailures(t *testing.T) {
	t.Parallel()
	t.Run("no vllm", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, runnertest.Config{})
		f.opts.VLLM = []string{filepath.Join(f.dir, "no-such-vllm")}
		res := f.runner().Run(context.Background(), f.trial(nil))
		wantClass(t, res, Harness)
		if !strings.Contains(res.Message, "start vllm serve") {
			t.Errorf("message %q", res.Message)
		}
	})
	t.Run("nvidia-smi fails", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, runnertest.Config{SMIFails: true})
		res := f.runner().Run(context.Background(), f.trial(nil))
		wantClass(t, res, Harness)
		if !strings.Contains(res.Message, "nvidia-smi") || !strings.Contains(res.Message, "exit status 9") {
			t.Errorf("message %q", res.Message)
		}
	})
	t.Run("OnStart panics", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, runnertest.Config{})
		tr := f.trial(runnertest.Serve{EngineMiB: 2000}.Args())
		tr.OnStart = func(Process) { panic("boom") }
		res := f.runner().Run(context.Background(), tr)
		wantClass(t, res, Harness)
		f.assertClean(res)
		if !strings.Contains(res.Message, "boom") {
			t.Errorf("message %q", res.Message)
		}
	})
}

// The runner overhead of one trial against an instant fake: everything but the server's own startup and the
// benchmark itself (the figure in the package doc).
func BenchmarkRunOverhead(b *testing.B) {
	m := runnertest.NewMachine(b, runnertest.Config{})
	r := New(Options{VLLM: m.VLLM, NvidiaSMI: m.NvidiaSMI, Port: m.Port, Env: m.Env})
	dir := b.TempDir()
	var overhead, startup, bench time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		res := r.Run(context.Background(), Trial{Dir: filepath.Join(dir, strconv.Itoa(i))})
		if res.Class != OK {
			b.Fatalf("%s: %s\n%s", res.Class, res.Message, res.LogTail)
		}
		overhead += time.Since(t0) - res.Startup - res.Benchmark
		startup += res.Startup
		bench += res.Benchmark
	}
	b.ReportMetric(float64(overhead.Milliseconds())/float64(b.N), "overhead-ms/trial")
	b.ReportMetric(float64(startup.Milliseconds())/float64(b.N), "startup-ms/trial")
	b.ReportMetric(float64(bench.Milliseconds())/float64(b.N), "bench-ms/trial")
}

// A benchmark watched by a PruneRule stops once /metrics shows its P99 TTFT lost, with the evidence (it would
// never end by itself); when the TTFT stays in bounds it runs to its end, which comes once the watcher has read
// /metrics three times (so its verdicts are recorded); without the rule nothing watches it.
func TestRunPrunesSettledBenchmark(t *testing.T) {
	t.Parallel()
	rule := &PruneRule{NumPrompts: 200, OutputLen: 512, MaxP99TTFT: 2}
	for _, c := range []struct {
		name  string
		late  int
		bench runnertest.Bench
		rule  *PruneRule
		want  Class
		watch bool
	}{
		{"ttft lost", 5, runnertest.Bench{Hang: true}, rule, Pruned, true},
		{"ttft within", 2, runnertest.Bench{UntilScrapes: 3}, rule, OK, true},
		{"no rule", 5, runnertest.Bench{}, nil, OK, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, runnertest.Config{})
			tr := f.trial(runnertest.Serve{LateTTFT: c.late}.Args(), c.bench.Args()...)
			tr.Prune = c.rule
			res := f.runner().Run(context.Background(), tr)
			if res.Class != c.want {
				t.Fatalf("class %q (%s), want %q", res.Class, res.Message, c.want)
			}
			if c.want == Pruned {
				last := res.Watch[len(res.Watch)-1]
				if !last.Prune || last.Rule != "ttft" || last.TTFTLate != 5 || !strings.Contains(res.Message, "P99 TTFT lost") || res.Bench != nil {
					t.Errorf("pruned with %+v, message %q, bench %v", last, res.Message, res.Bench)
				}
			}
			if (len(res.Watch) > 0) != c.watch {
				t.Errorf("%d verdicts recorded, want some: %v", len(res.Watch), c.watch)
			}
		})
	}
}
