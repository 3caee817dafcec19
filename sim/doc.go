// Package sim is a SIMULATED vLLM 0.15.1 serving Qwen/Qwen2.5-0.5B on a simulated Tesla T4. It is the server
// behind `autotune --simulate` and behind every test that needs something to tune. Nothing it prints or writes
// is a measurement of real hardware: the first line of every server log says so
// ("autotune sim: SIMULATED vLLM 0.15.1 on a simulated Tesla T4 — not a measurement"), the benchmark JSON
// carries "simulated": true, /version and /v1/models carry "simulated": true, and /metrics starts with a
// comment saying it is simulated.
//
// # Command line
//
// Main is called by cmd/autotune for `autotune sim <args...>`, so that autotune's own binary can stand in for
// the `vllm` executable, for nvidia-smi and for the Python package probe:
//
//	autotune sim serve MODEL [flags]     vllm serve: vLLM 0.15.1's flag set, argparse behaviour, startup log,
//	                                     real HTTP server (/health, /ping, /v1/models, /version, /metrics,
//	                                     /v1/completions, and the private /sim/v1/bench); exit 0 on SIGTERM/SIGINT
//	autotune sim serve --help[=all|GROUP]
//	autotune sim bench serve [options]   vllm bench serve against the simulated server
//	autotune sim --version               0.15.1
//	autotune sim nvidia-smi --query-gpu=name,compute_cap,memory.total,memory.used --format=csv,noheader,nounits
//	autotune sim python -c CODE          exits 0 if CODE imports only installed packages, else ModuleNotFoundError
//
// Every flag, message text and JSON key comes from docs/vllm.md; every number of the model from
// docs/t4-calibration.md (a bare §N in this package cites that file; "vllm.md §N" cites docs/vllm.md).
//
// For other packages: ParseServeArgs and CheckServeArgs parse an argv under the 0.15.1 flag set (the error is
// argparse's text); Predict runs the whole model in process, without processes or sleeping, and returns either
// vLLM's refusal or the benchmark's metrics; ServeFlagNames lists the accepted flags.
//
// # Environment
//
// Main reads the environment once into a Config (env.go), which lists every variable the simulator reads
// (AUTOTUNE_SIM_STATE, _SPEED, _SEED, _ACCEPTANCE, _PACKAGES, _FAULT, _GPUS, CUDA_VISIBLE_DEVICES and vLLM's
// VLLM_ALLOW_LONG_MAX_MODEL_LEN and VLLM_DISABLE_COMPILE_CACHE), and hands it to every subcommand.
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
//
// # The model
//
// sim/internal/model is the performance and memory model: vLLM 0.15.1's flag set and config resolution, memory,
// startup, the per-step cost and the discrete-event simulation of a benchmark, with its calibration; model.go
// gives the rest of autotune its Predict, Landscape and flag-set check.
package sim
