// Package runner runs one autotune trial on real hardware: it starts `vllm serve`, waits until it is ready,
// runs `vllm bench serve` against it, parses the result, stops the server, makes sure its port and GPU memory
// are free again, and classifies every failure. It also probes the machine once per study (Probe) and stops a
// server left behind by a dead run (StopStale). It is Linux-only (process groups, parent-death signal, /proc).
// Every flag, error text, endpoint and JSON key it relies on comes from shared/reference/vllm.md (vLLM 0.15.1).
//
// # A trial
//
//  1. Checks: the port must bind without SO_REUSEPORT (vLLM binds with SO_REUSEPORT, so a left-over server
//     would not stop a new one and would answer part of the benchmark; a port held by anything is a Harness
//     failure naming the holder, which is never touched), and nvidia-smi must show every GPU's memory.used
//     near its idle baseline: the lowest value this Runner has seen, limit min(baseline, 5%) + 5% of the GPU
//     (768 MiB on a T4), so memory already held at the first look never counts as idle.
//  2. Start `<VLLM...> serve MODEL --host H --port P <Trial.Args>` as the leader of a new process group, with
//     SIGKILL as parent-death signal (forked from a goroutine locked to its OS thread for the child's lifetime,
//     go.dev/issue/27505), the environment Options.Env + Trial.Env + AUTOTUNE_SERVER_TOKEN and nothing else,
//     stdout and stderr to server.log. Trial.OnStart gets the Process right away.
//  3. Poll GET /health (10 ms, doubling to 100 ms; 1 s per request) until 200, the process exits (seen at
//     once: a reaper goroutine waits on it), StartupTimeout passes or ctx is done.
//  4. Run `<VLLM...> bench serve` with the workload (see Runner.Run) into bench.log and bench.json, in its own
//     group, while watching the server: its exit or a /health 503 (EngineDeadError) stops the benchmark at
//     once, as do BenchTimeout and ctx. Missing or corrupt JSON with the server still up: one more run.
//  5. Validate what vLLM's benchmark does not (it exits 0 when every request failed): completed ==
//     num_prompts, failed == 0, output_throughput > 0.
//  6. Stop, on every path (ctx cancelled and panics included): SIGTERM to the group, StopGrace for the leader,
//     then SIGKILL to the group until no live process is left in it (a forked engine core can outlive the
//     leader), then reap the leader: its unreaped zombie keeps the group ID from being reused meanwhile, so no
//     signal can reach a process we did not start. Then poll, with backoff and no fixed sleep, bounded by
//     ReleaseTimeout, until the port binds and the GPU memory is back near its baseline. A release that does
//     not happen is a Harness failure whatever the trial did (an interrupted trial stays Interrupted).
//
// # Classification
//
// A server that exits before it is ready is classified by the first rule, in this order, that a line of the
// end of server.log matches (lines logged at WARNING level are never evidence: vLLM warns and carries on for
// some of these). Result.LogTail keeps the matching line and the last 40 lines / 8 KiB of the log.
//
//	fragment (reference vllm.md)                                  class
//	exit status 2 and `error: unrecognized arguments:`            invalid_flag
//	    / `invalid choice:` / `ambiguous option`    (§2.1)
//	`libcudart.so.13: cannot open shared object file`  (§1.3)      harness (the install, not the config)
//	`Address already in use`                           (§10.1)     harness (another program took the port)
//	`Error in memory profiling`                        (§10.1)     harness (someone else freed GPU memory)
//	`No available memory for the cache blocks`                     kv_cache_too_small
//	`To serve at least one request with the model's max seq len`   kv_cache_too_small
//	`Cannot auto-fit max_model_len`                                kv_cache_too_small
//	`out of memory` (any case)                                     out_of_memory
//	`Free memory on device`                                        out_of_memory (see below)
//	`Bfloat16 is only supported on GPUs with compute capability of at least 8.0`   unsupported_on_gpu
//	`is not supported for the current GPU. Minimum capability:`    unsupported_on_gpu
//	`No valid attention backend found for cuda with`               unsupported_on_gpu
//	/Selected backend .* is not valid for this configuration/      unsupported_on_gpu
//	/CUDAGraphMode\.\w+ is not supported with .*backend/           unsupported_on_gpu
//	`fp8e4nv`                                                      unsupported_on_gpu
//	`Arctic Inference is required for suffix decoding`             unsupported_on_gpu (see below)
//	`NVVM_ERROR_INVALID_OPTION`                                    unsupported_on_gpu
//	`CUDA error: invalid argument` (FlashInfer on SM75)            unsupported_on_gpu
//	/max_num_batched_tokens \(\d+\) is smaller than max_model_len/ config_refused
//	/max_num_batched_tokens \(\d+\) must be greater than or equal to max_num_seqs/  config_refused
//	`User-specified max_model_len`                                 config_refused
//	`Concurrent Partial Prefill is not supported`                  config_refused
//	`Cannot find the config file for`                              config_refused
//	`does not match the quantization method specified`            config_refused
//	`Unknown quantization method:`                                 config_refused
//	`is not supported for quantization method`                     config_refused
//	`async scheduling is only supported with EAGLE/MTP/Draft Model/NGram GPU kind of speculative decoding`
//	                                                               config_refused
//	/prompt_lookup_min=\S+ must be <= prompt_lookup_max/           config_refused
//	`Consider increasing max_num_batched_tokens or decreasing num_speculative_tokens`  config_refused
//	`are mutually exclusive`                                       config_refused
//	`should be provided as the first positional argument`          config_refused
//	`validation error for ` (pydantic, any other field check)      config_refused
//	none of the above                                              startup_crash
//
// The other classes: no /health 200 within StartupTimeout is startup_timeout; a server that exits or answers
// /health 503 during the benchmark is out_of_memory when server.log says `out of memory` (any case), else
// crashed_during_benchmark; a benchmark whose JSON shows failed requests (or no throughput) while the server
// stayed up is requests_failed; a benchmark that exits non-zero, hangs past BenchTimeout or leaves no usable
// JSON twice is benchmark_failed (with the tail of bench.log); a cancelled ctx is interrupted, after the
// server was stopped all the same; port taken, GPU busy before the start, exec failure, disk, memory not
// released after the stop are harness.
//
// Choices. "Free memory on device ... is less than desired GPU memory utilization" means some other process
// holds GPU memory, or the utilization asked for is more than the GPU has free. The check before the start
// has made sure that no left-over server holds memory, so here it is the config's fault: out_of_memory. A
// missing optional package (arctic-inference for suffix decoding) says "not available on this machine", as
// a GPU limit does: unsupported_on_gpu, so the sampler moves away from it.
//
// # Cost
//
// The runner's own overhead per trial, everything but the server's startup and the benchmark itself, measured
// by BenchmarkRunOverhead against an instant fake (a server ready at once, a benchmark that writes its JSON
// at once; nvidia-smi is a fake too) on a 2-vCPU Xeon: about 15 ms per trial (34 ms wall in all). On real
// hardware add two nvidia-smi queries (before the start and once the server is gone; tens of ms each with
// persistence mode on) and at most ~100 ms of readiness polling lag, well under 0.3 s per trial. Teardown has
// no fixed sleep: it ends as soon as the port and the memory are free.
package runner
