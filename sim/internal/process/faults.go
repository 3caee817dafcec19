package process

// Fault names for AUTOTUNE_SIM_FAULT (a comma list; off by default). See the package documentation.
const (
	faultStartupCrash      = "startup_crash"       // engine core dies during init: "EngineCore failed to start.", exit 1
	faultOOMStartup        = "oom_startup"         // torch.OutOfMemoryError while profiling memory, exit 1
	faultNoKernelImage     = "no_kernel_image"     // the install has no kernels for this GPU: every config fails at device init, exit 1
	faultCrashMidBench     = "crash_mid_bench"     // "EngineCore encountered a fatal error." half-way through a benchmark, exit 1
	faultOOMMidBench       = "oom_mid_bench"       // CUDA OOM under load half-way through a benchmark, exit 1
	faultUnhealthyMidBench = "unhealthy_mid_bench" // engine dead half-way through a benchmark: /health 503, requests fail, process stays
	faultHang              = "hang"                // never becomes ready (stops after graph capture) until signalled
	faultIgnoreSIGTERM     = "ignore_sigterm"      // ignores SIGTERM and SIGINT; only SIGKILL ends it
	faultForkHolder        = "fork_holder"         // a child "engine core" holds the GPU memory and outlives the server
	faultSlowHealth        = "slow_health"         // /health answers after 2 s of wall time
	faultSlowStartup       = "slow_startup"        // every startup phase takes 10× longer
	faultBenchBadJSON      = "bench_bad_json"      // bench serve writes a truncated result JSON
	faultBenchHang         = "bench_hang"          // bench serve never finishes (until signalled)
)

// allFaults lists every fault name (TestEveryFaultIsDocumented holds the package comment to it).
var allFaults = []string{faultStartupCrash, faultOOMStartup, faultNoKernelImage, faultCrashMidBench, faultOOMMidBench,
	faultUnhealthyMidBench, faultHang, faultIgnoreSIGTERM, faultForkHolder, faultSlowHealth, faultSlowStartup,
	faultBenchBadJSON, faultBenchHang}

// faultSet is the faults switched on (Config.Faults).
type faultSet map[string]bool

// midBench reports whether a fault strikes half-way through a benchmark.
func (f faultSet) midBench() string {
	for _, n := range []string{faultCrashMidBench, faultOOMMidBench, faultUnhealthyMidBench} {
		if f[n] {
			return n
		}
	}
	return ""
}
