// Package runner runs one autotune trial on real hardware: it starts `vllm serve`, waits until it is ready,
// runs `vllm bench serve` against it, parses the result, stops the server, makes sure its port and GPU memory
// are free again, and classifies every failure. It also probes the machine once per study (Probe) and stops a
// server left behind by a dead run (StopStale). It is Linux-only (process groups, parent-death signal, /proc).
// Every flag, error text, endpoint and JSON key it relies on comes from docs/vllm.md (vLLM 0.15.1), cited as §N.
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
//     Once ready, and again after the benchmark, every socket listening on the port (for H or a wildcard
//     address) must be held by a process of the server's group (/proc/net/tcp and /proc/*/fd): two servers
//     with SO_REUSEPORT share a port and the kernel spreads connections between them, so another listener is a
//     Harness failure naming its process, and the trial's numbers are not the config's (listeners.go).
//  4. Run `<VLLM...> bench serve` with the workload (see Runner.Run) into bench.log and bench.json, in its own
//     group, while watching the server: its exit or a /health 503 (EngineDeadError) stops the benchmark at
//     once, as do BenchTimeout and ctx. Missing or corrupt JSON with the server still up: one more run.
//  5. Validate what vLLM's benchmark does not (it exits 0 when every request failed): completed ==
//     num_prompts, failed == 0, output_throughput > 0. If every request failed and every error the benchmark printed
//     is a refused connection or a 404, nothing of the trial's answered: Harness, not requests_failed.
//  6. Stop, on every path (ctx cancelled and panics included): SIGTERM to the group, StopGrace for the leader,
//     then SIGKILL to the group until no live process is left in it (a forked engine core can outlive the
//     leader), then reap the leader: its unreaped zombie keeps the group ID from being reused meanwhile, so no
//     signal can reach a process we did not start. Then poll, with backoff and no fixed sleep, bounded by
//     ReleaseTimeout, until the port binds and the GPU memory is back near its baseline. A release that does
//     not happen is a Harness failure whatever the trial did (an interrupted trial stays Interrupted).
//     StopAll (the second Ctrl-C) cuts all of this short: SIGKILL to every group not yet reaped, no grace, no
//     waiting for the release; the trial returns Interrupted and later ones start nothing.
//
// # Classification
//
// A server that exits before it is ready is classified by the first rule, in this order, that a line of the
// end of server.log matches (records logged at INFO, DEBUG or WARNING level are never evidence: vLLM warns
// and carries on for some of these, and logs its free-memory numbers at INFO). Result.LogTail keeps the matching line and the last 40 lines / 8 KiB of the log.
//
//	the rule table (startupRules in classify.go), each rule with its vLLM source and version range
//	no rule matches                                                startup_crash
//
// The rules are checked against real logs, not texts written here: testdata/failures holds verbatim excerpts
// of vLLM logs from public issues and CI runs (vLLM 0.6 to 0.29, T4/sm75 ones among them), each with its
// source URL and the class a person gives it, and TestRealFailureCorpus wants every one classified right.
// Faults no config can fix (no kernel image for this GPU, a CUDA driver or runtime that does not match the
// install, vLLM not importable) are platform_unusable: the tuner stops the study at once.
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
