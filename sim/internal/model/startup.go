package model

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Startup-time model of vLLM 0.15.1 serving Qwen2.5-0.5B on a T4 (t4-calibration.md §6) and the log lines of
// each phase (vllm.md §11.2). Seconds, before AUTOTUNE_SIM_SPEED.
const (
	tAPIImports    = 8.0                                                                               // API server start and imports until the config is built [D, part of the ≈14 s of §6.1]
	tEngineSpawn   = 6.0                                                                               // engine core spawn and imports: 10:13:16 → 10:13:30 ≈ 14 s in all [M §6.1]
	tDeviceInit    = 0.8                                                                               // device init, before "Starting to load model" [D]
	tWeightLoad    = 4.43                                                                              // "Loading weights took 4.43 seconds" (safetensors, 0.99 GB) [M §6.1]
	tModelLoadRest = 2.06                                                                              // "Model loading took 0.93 GiB memory and 6.49 seconds" minus the load [M §6.1]
	tDynamo        = 8.80                                                                              // "Dynamo bytecode transform time: 8.80 s" [M §6.1]
	tCompileWarm   = 1.13                                                                              // load compiled graph from the cache ("torch.compile takes 9.94 s in total") [M §6.1]
	tCompileCold   = 17.0                                                                              // Inductor compile of the (1, mnbt) range when the cache is cold: 25–35 s in all [D §6.3]
	tProfileKV     = 2.0                                                                               // profiling, KV alloc and FlashInfer warm-up [M §6.1]
	tCaptureFixed  = 1.5                                                                               // graph capture set-up; with tCapturePer: 5 s for the default 86 graphs [M §6.1]
	tCapturePer    = 0.04                                                                              // s per captured graph (≈24 graphs/s) [M §6.1, §6.3]
	tInitRest      = 0.66                                                                              // rest of "init engine ... took 19.53 s" at the defaults [M §6.1]
	tAPIUp         = 5.9                                                                               // init engine done → API server up; ≈46 s in all at the defaults [M §6.1]
	tQuantOnline   = 1.5                                                                               // in-flight quantization of the fp16 checkpoint (fp8, bitsandbytes) [D assumption]
	startupJitter  = 0.03                                                                              // relative standard deviation of every phase [D assumption]
	Banner         = "autotune sim: SIMULATED vLLM 0.15.1 on a simulated Tesla T4 — not a measurement" // the first line of every server log
	BenchRoute     = "/sim/v1/bench"                                                                   // the simulated server's private route that runs a whole benchmark
)

// LogEvent is one line of the server's output at a simulated time since the process started.
type LogEvent struct {
	At      float64
	Proc    string // "APIServer" or "EngineCore_DP0"
	Level   string // INFO, WARNING, ERROR
	Src     string // file:line as vLLM prints it
	Msg     string
	HoldGiB float64 // when > 0: from now on the process holds this much GPU memory
	Stderr  bool    // tracebacks go to stderr
	Listen  bool    // the API server binds its socket before printing this line
	Compile bool    // the compile cache entry is written now
}

// StartPlan is the simulated startup of one server.
type StartPlan struct {
	Events         []LogEvent
	ReadyAt        float64 // seconds until /health answers 200; 0 when the start fails
	FailAt         float64
	Fail           *Failure
	Mem            MemPlan
	Cold           bool
	CompileSeconds float64
	Graphs         [2]int // PIECEWISE, FULL
}

// PlanStartup lays out the startup of a resolved engine (e nil when resolution failed with fail). others is the
// GPU memory held by other processes; cold says the compile cache misses; cacheDir is shown in the log.
func PlanStartup(a *ServeArgs, e *Engine, fail *Failure, othersGiB float64, cold bool, cacheDir string, rng *rand.Rand) StartPlan {
	var p StartPlan
	t := 0.0
	j := func(d float64) float64 {
		if rng == nil {
			return d
		}
		return d * (1 + startupJitter*rng.NormFloat64())
	}
	api := func(level, src, msg string) {
		p.Events = append(p.Events, LogEvent{At: t, Proc: "APIServer", Level: level, Src: src, Msg: msg})
	}
	eng := func(level, src, msg string) {
		p.Events = append(p.Events, LogEvent{At: t, Proc: "EngineCore_DP0", Level: level, Src: src, Msg: msg})
	}
	hold := func(g float64) {
		p.Events = append(p.Events, LogEvent{At: t, HoldGiB: g})
	}
	failNow := func(f *Failure) StartPlan {
		p.Fail, p.FailAt = f, t
		if f.Engine {
			eng("ERROR", "core.py:1157", "EngineCore failed to start.")
			p.Events = append(p.Events, LogEvent{At: t, Proc: "EngineCore_DP0", Level: "ERROR", Src: "core.py:1157",
				Msg: "Traceback (most recent call last):\n" + indentDetail(f), Stderr: true})
			p.Events = append(p.Events, LogEvent{At: t + 0.3, Proc: "APIServer", Level: "", Stderr: true,
				Msg: "Traceback (most recent call last):\n  File \"vllm/v1/engine/utils.py\", line 1187, in wait_for_engine_startup\nRuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {'EngineCore_DP0': 1}"})
			p.FailAt = t + 0.3
		} else {
			p.Events = append(p.Events, LogEvent{At: t, Proc: "APIServer", Stderr: true,
				Msg: "Traceback (most recent call last):\n" + indentDetail(f)})
		}
		return p
	}

	var memFail *Failure
	at := func(ph Phase) *Failure {
		for _, f := range []*Failure{fail, memFail} {
			if f != nil && f.Phase == ph {
				return f
			}
		}
		if e != nil && e.LateFail != nil && e.LateFail.Phase == ph {
			return e.LateFail
		}
		return nil
	}
	model := "?"
	if e != nil {
		model = e.Model
	} else if a != nil && a.Model != "" {
		model = a.Model
	}
	api("INFO", "utils.py:286", fmt.Sprintf("vLLM server version %s, serving model %s", VLLMVersion, model))
	if a != nil {
		api("INFO", "utils.py:213", "non-default args: "+nonDefaultArgs(a))
	}
	t += j(tAPIImports)
	if fail != nil && fail.Phase <= PhaseConfig {
		return failNow(fail)
	}
	if fail != nil && e == nil {
		return failNow(fail)
	}
	api("INFO", "model.py:547", "Resolved architecture: Qwen2ForCausalLM")
	api("INFO", "model.py:1510", fmt.Sprintf("Using max model len %d", e.MaxModelLen))
	for _, w := range e.Warnings {
		api("WARNING", "config.py:0", w)
	}
	for _, i := range e.Infos {
		api("INFO", "scheduler.py:238", i)
	}
	t += j(tEngineSpawn)
	eng("INFO", "core.py:93", fmt.Sprintf("Initializing a V1 LLM engine (v%s) with config: model='%s', served_model_name=%s, dtype=torch.%s, max_seq_len=%d, quantization=%s, enforce_eager=%s, kv_cache_dtype=%s, compilation_config={'mode': %d, 'cudagraph_mode': %s, 'max_cudagraph_capture_size': %d}",
		VLLMVersion, e.Model, e.ServedName, e.Dtype, e.MaxModelLen, pyNone(e.Quant), pyBool(e.Eager()), e.KVDtype, e.CompileMode, e.CGMode, e.MaxCaptureSize()))
	t += j(tDeviceInit)
	mem, mf := PlanMemory(e, othersGiB)
	p.Mem, memFail = mem, mf
	if f := at(PhaseDevice); f != nil {
		return failNow(f)
	}
	hold(ctxInitGiB)
	eng("INFO", "gpu_model_runner.py:5007", "Starting to load model "+e.Model+"...")
	if e.Backend == "FLASHINFER" {
		eng("INFO", "cuda.py:290", "FA2 is only supported on devices with compute capability >= 8")
	}
	if e.LateFail != nil && e.LateFail.Phase == PhaseLoad && strings.Contains(e.LateFail.Message, "backend") {
		return failNow(e.LateFail)
	}
	eng("INFO", "cuda.py:372", fmt.Sprintf("Using %s attention backend out of potential backends: ('FLASHINFER', 'TRITON_ATTN', 'FLEX_ATTENTION')", e.Backend))
	if f := at(PhaseLoad); f != nil {
		t += j(1.0)
		return failNow(f)
	}
	load := tWeightLoad
	if e.LoadFormat == "dummy" {
		load = 0.3
	} else if e.Weights != "fp16" && e.Weights != "fp32" {
		load *= weightsGiB(e.Weights) / weightsGiB("fp16")
	}
	if e.Quant == "fp8" || e.Quant == "bitsandbytes" {
		load += tQuantOnline
	}
	load = j(load)
	rest := j(tModelLoadRest)
	t += load
	eng("INFO", "default_loader.py:398", fmt.Sprintf("Loading weights took %.2f seconds", load))
	t += rest
	eng("INFO", "gpu_model_runner.py:5102", fmt.Sprintf("Model loading took %.2f GiB memory and %.2f seconds", mem.WeightsGiB, load+rest))
	hold(ctxInitGiB + mem.WeightsGiB)
	initStart := t
	if e.CompileMode > 0 {
		eng("INFO", "backends.py:1090", fmt.Sprintf("Using cache directory: %s for vLLM's torch.compile", cacheDir))
		dyn := j(tDynamo)
		t += dyn
		eng("INFO", "backends.py:1149", fmt.Sprintf("Dynamo bytecode transform time: %.2f s", dyn))
		var comp float64
		if e.CompileMode == 3 {
			if cold {
				comp = j(tCompileCold)
				t += comp
				eng("INFO", "backends.py:394", fmt.Sprintf("Compiling a graph for compile range (1, %d) takes %.2f s", e.MNBT, comp))
			} else {
				comp = j(tCompileWarm)
				t += comp
				eng("INFO", "backends.py:293", fmt.Sprintf("Directly load the compiled graph(s) for compile range (1, %d) from the cache, took %.3f s", e.MNBT, comp))
			}
		}
		p.CompileSeconds = dyn + comp
		p.Cold = cold && e.CompileMode == 3
		p.Events = append(p.Events, LogEvent{At: t, Compile: true})
		eng("INFO", "monitor.py:34", fmt.Sprintf("torch.compile takes %.2f s in total", p.CompileSeconds))
	}
	if f := at(PhaseCompile); f != nil {
		t += j(0.5)
		return failNow(f)
	}
	t += j(tProfileKV)
	if f := at(PhaseProfile); f != nil {
		return failNow(f)
	}
	eng("INFO", "gpu_worker.py:462", fmt.Sprintf("Available KV cache memory: %.2f GiB", mem.KVGiB))
	eng("INFO", "kv_cache_utils.py:1733", fmt.Sprintf("GPU KV cache size: %s tokens", withCommas(mem.KVTokens)))
	eng("INFO", "kv_cache_utils.py:1738", fmt.Sprintf("Maximum concurrency for %s tokens per request: %.2fx",
		withCommas(int64(mem.MaxModelLen)), float64(mem.KVTokens)/float64(mem.MaxModelLen)))
	hold(mem.BudgetGiB)
	pw, full := e.NumGraphs()
	p.Graphs = [2]int{pw, full}
	if pw+full > 0 {
		capT := j(tCaptureFixed + tCapturePer*float64(pw+full))
		if pw > 0 {
			eng("INFO", "gpu_model_runner.py:6479", fmt.Sprintf("Capturing CUDA graphs (mixed prefill-decode, PIECEWISE): 100%%|██████████| %d/%d", pw, pw))
		}
		if full > 0 {
			eng("INFO", "gpu_model_runner.py:6479", fmt.Sprintf("Capturing CUDA graphs (decode, FULL): 100%%|██████████| %d/%d", full, full))
		}
		t += capT
		if f := at(PhaseCapture); f != nil {
			return failNow(f)
		}
		eng("INFO", "gpu_model_runner.py:6418", fmt.Sprintf("Graph capturing finished in %.0f secs, took %.2f GiB", capT, mem.GraphGiB))
	}
	hold(mem.HeldGiB)
	t += j(tInitRest)
	eng("INFO", "core.py:285", fmt.Sprintf("init engine (profile, create kv cache, warmup model) took %.2f seconds (compilation: %.2f s)", t-initStart, p.CompileSeconds))
	t += j(tAPIUp)
	host := e.Host
	if host == "" {
		host = "0.0.0.0"
	}
	api("INFO", "api_server.py:1350", "Supported tasks: ['generate']")
	p.Events = append(p.Events, LogEvent{At: t, Proc: "APIServer", Level: "INFO", Src: "api_server.py:599",
		Msg: fmt.Sprintf("Starting vLLM API server 0 on http://%s:%d", host, e.Port), Listen: true})
	api("INFO", "launcher.py:37", "Available routes are:")
	for _, r := range []string{"/health, Methods: GET", "/ping, Methods: GET, POST", "/metrics, Methods: GET", "/version, Methods: GET",
		"/v1/models, Methods: GET", "/v1/completions, Methods: POST", BenchRoute + ", Methods: POST"} {
		api("INFO", "launcher.py:46", "Route: "+r)
	}
	api("INFO", "", "Started server process [%PID%]")
	api("INFO", "", "Waiting for application startup.")
	api("INFO", "", "Application startup complete.")
	p.ReadyAt = t
	return p
}

func indentDetail(f *Failure) string {
	if f.Engine {
		return "  File \"vllm/v1/engine/core.py\", line 1148, in run_engine_core\n" + f.Text()
	}
	return "  File \"vllm/engine/arg_utils.py\", in create_engine_config\n" + f.Text()
}

func pyNone(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// FormatLog renders a log line as vLLM does: "(APIServer pid=123) INFO 02-09 10:13:16 [utils.py:286] msg".
func FormatLog(ev LogEvent, pid, engPID int, stamp string) string {
	if ev.Src == "" && ev.Proc == "APIServer" && ev.Level != "" {
		return fmt.Sprintf("(APIServer pid=%d) %s:     %s", pid, ev.Level, strings.ReplaceAll(ev.Msg, "%PID%", fmt.Sprint(pid)))
	}
	p := pid
	if ev.Proc == "EngineCore_DP0" {
		p = engPID
	}
	if ev.Level == "" {
		return ev.Msg
	}
	return fmt.Sprintf("(%s pid=%d) %s %s [%s] %s", ev.Proc, p, ev.Level, stamp, ev.Src, ev.Msg)
}
