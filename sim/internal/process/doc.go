// Package process is the process shell of the SIMULATED vLLM (see package sim): the simulated `vllm serve`
// (main.go, server.go, routes.go, benchroute.go: startup phases and their log lines, GPU-memory records, the
// compile cache, a real HTTP server with /health, /ping, /v1/models, /version, /metrics, /v1/completions and
// the private /sim/v1/bench), `vllm bench serve` (bench*.go), nvidia-smi and the python probe (nvsmi.go), the
// state the processes share (state.go) and fault injection (faults.go). Every number comes from sim/internal/model, so a config
// answers here as it does in process (model.Predict).
//
// # Environment
//
// sim.Main reads the environment once into a Config (config.go, the one list of the variables) and hands it to
// Main, which passes it to every subcommand; nothing else here reads the environment.
//
// # GPU memory
//
// GPU memory is "released" exactly when the holding process is gone, as on a real GPU: a serving process
// writes its memory (MiB) to gpu/<pid> in the state directory once it holds memory; nvidia-smi sums the records
// whose process is alive (not a zombie, same start time) and removes the others. A new `serve` whose budget
// exceeds the free memory fails with vLLM's "Free memory on device cuda:0 (F/T GiB) on startup is less than
// desired GPU memory utilization (U, R GiB)" message.
//
// # Faults (AUTOTUNE_SIM_FAULT)
//
//	startup_crash        the engine core dies during init: "EngineCore failed to start." and
//	                     "RuntimeError: Engine core initialization failed. ...", exit 1
//	oom_startup          torch.OutOfMemoryError during memory profiling, exit 1
//	no_kernel_image      "RuntimeError: CUDA error: no kernel image is available for execution on the device" at
//	                     device init, whatever the config (an install without kernels for this GPU), exit 1
//	crash_mid_bench      half-way through a benchmark: "EngineCore encountered a fatal error.", the process exits 1,
//	                     the benchmark stream breaks off and the remaining requests fail
//	oom_mid_bench        the same, preceded by a CUDA out-of-memory error (vLLM issue #21410)
//	unhealthy_mid_bench  half-way through a benchmark the engine dies (EngineDeadError): /health answers 503,
//	                     the remaining and later requests fail, the process stays up until signalled
//	hang                 never becomes ready: holds GPU memory, never listens; exits 0 on SIGTERM
//	ignore_sigterm       ignores SIGTERM and SIGINT; only SIGKILL ends it
//	fork_holder          forks a child "engine core" (a re-exec of os.Executable() with the same leading
//	                     arguments and the hidden `engine-core` subcommand) in the same process group, which holds
//	                     the GPU-memory record until it is killed and does not exit when its parent dies
//	slow_health          /health answers after 2 s of wall time
//	slow_startup         every startup phase takes 10× longer
//	bench_bad_json       bench serve writes a truncated result JSON
//	bench_hang           bench serve never exits (until signalled)
package process
