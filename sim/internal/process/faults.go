package process

// Fault names for AUTOTUNE_SIM_FAULT (a comma list; off by default). See the package documentation.
const (
	FaultStartupCrash      = "startup_crash"       // engine core dies during init: "EngineCore failed to start.", exit 1
	FaultOOMStartup        = "oom_startup"         // torch.OutOfMemoryError while profiling memory, exit 1
	FaultNoKernelImage     = "no_kernel_image"     // the install has no kernels for this GPU: every config fails at device init, exit 1
	FaultCrashMidBench     = "crash_mid_bench"     // "EngineCore encountered a fatal error." half-way through a benchmark, exit 1
	FaultOOMMidBench       = "oom_mid_bench"       // CUDA OOM under load half-way through a benchmark, exit 1
	FaultUnhealthyMidBench = "unhealthy_mid_bench" // engine dead half-way through a benchmark: /health 503, requests fail, process stays
	FaultHang              = "hang"                // never becomes ready (stops after graph capture) until signalled
	FaultIgnoreSIGTERM     = "ignore_sigterm"      // ignores SIGTERM and SIGINT; only SIGKILL ends it
	FaultForkHolder        = "fork_holder"         // a child "engine core" holds the GPU memory and outlives the server
	FaultSlowHealth        = "slow_health"         // /health answers after 2 s of wall time
	FaultSlowStartup       = "slow_startup"        // every startup phase takes 10× longer
	FaultBenchBadJSON      = "bench_bad_json"      // bench serve writes a truncated result JSON
	FaultBenchHang         = "bench_hang"          // bench serve never finishes (until signalled)
)

// AllFaults lists every fault name.
var AllFaults = []string{FaultStartupCrash, FaultOOMStartup, FaultNoKernelImage, FaultCrashMidBench, FaultOOMMidBench,
	FaultUnhealthyMidBench, FaultHang, FaultIgnoreSIGTERM, FaultForkHolder, FaultSlowHealth, FaultSlowStartup,
	FaultBenchBadJSON, FaultBenchHang}

// faultSet is the faults switched on (Config.Faults).
type faultSet map[string]bool

// midBench reports whether a fault strikes half-way through a benchmark.
func (f faultSet) midBench() string {
	for _, n := range []string{FaultCrashMidBench, FaultOOMMidBench, FaultUnhealthyMidBench} {
		if f[n] {
			return n
		}
	}
	return ""
}
