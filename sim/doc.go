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
// # Packages
//
// sim is a facade. sim/internal/model is the performance and memory model: vLLM 0.15.1's flag set and config
// resolution, memory, startup, the per-step cost and the discrete-event simulation of a benchmark, with its
// calibration; model.go gives the rest of autotune its Predict, Landscape and flag-set check.
// sim/internal/process is the process shell that runs the model behind real processes: `serve` with its HTTP
// server, `bench serve`, nvidia-smi, the python probe, the state the processes share and the faults
// (AUTOTUNE_SIM_FAULT). Main reads the environment once into a process.Config, which lists every variable the
// simulator reads (AUTOTUNE_SIM_STATE, _SPEED, _SEED, _ACCEPTANCE, _PACKAGES, _FAULT, _GPUS,
// CUDA_VISIBLE_DEVICES, VLLM_ALLOW_LONG_MAX_MODEL_LEN and VLLM_DISABLE_COMPILE_CACHE), and hands it down.
package sim
