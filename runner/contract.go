package runner

import "time"

// This file is the contract between runner and its consumers (tuner, cmd; space and sim read Workload). Change it
// only together with them.
// The implementation provides:
//
//	func New(opts Options) *Runner
//	func (r *Runner) Run(ctx context.Context, t Trial) Result   // never panics; every failure is a Class
//	func (r *Runner) Probe(ctx context.Context) (Probe, error)
//	func ParseBench(data []byte) (*Bench, error)              // tolerant JSON parse of `vllm bench serve` output
//	func (r *Runner) StopStale(ctx context.Context, p Process) (stopped bool, err error)
//	    // stops the group of a server recorded by a dead run, only if p still names that same process
//	    // (PID alive, same start ticks, same PGID) or, when the leader is gone, if the group's survivors
//	    // carry p.Token in their environment; then waits for the port and GPU memory to be released
//	func (r *Runner) StopAll()                                // the second Ctrl-C: SIGKILL every group Run started
//	func CheckBench(b *Bench) (Class, string)                 // RequestsFailed when vLLM's benchmark exited 0 but failed
//	func ClassifyStartup(log []byte, exitCode int) (Class, string) // a server that exited before it was ready
//	func ModelMaxLen(model string, env []string) (int, string, error) // the model's own maximum length, as vLLM derives it
//	func Files(dir string) (serverLog, benchLog, benchJSON string)    // where Run writes a trial's files
//	func StartTicks(pid int) (uint64, error)                  // a process's start time, for the study's own identity
//	func Supported() error                                    // nil on Linux; ErrNeedsLinux elsewhere

// Workload is the `vllm bench serve` load, exactly as the user scores it, and the fact of the served model
// that the load must fit. Defaults: the seed's command. It is the one workload of autotune: space derives its
// levels from it and sim derives its simulated benchmark from it (sim.WorkloadOf).
type Workload struct {
	Model          string   `json:"model"`             // positional model of `vllm serve` and --model of the benchmark
	Tokenizer      string   `json:"tokenizer"`         // --tokenizer; empty means the model
	Backend        string   `json:"backend"`           // "openai"
	Endpoint       string   `json:"endpoint"`          // "/completions"
	Dataset        string   `json:"dataset_name"`      // "random"
	MaxConcurrency int      `json:"max_concurrency"`   // 50
	NumPrompts     int      `json:"num_prompts"`       // 200
	InputLen       int      `json:"random_input_len"`  // 512
	OutputLen      int      `json:"random_output_len"` // 512
	IgnoreEOS      bool     `json:"ignore_eos"`        // true
	RequestRate    string   `json:"request_rate"`      // "inf"
	ExtraArgs      []string `json:"extra_args,omitempty"`
	// ModelMaxLen is the served model's own maximum length (runner.ModelMaxLen: 32768 for Qwen2.5-0.5B); 0 when
	// unknown. No benchmark flag: the space prunes max-model-len by it and records it in its own JSON and
	// fingerprint. It stays out of this JSON, which studies store and compare on resume, so that studies stored
	// before it was here still resume.
	ModelMaxLen int `json:"-"`
}

// DefaultWorkload is the seed guide's benchmark for Qwen/Qwen2.5-0.5B.
func DefaultWorkload() Workload {
	return Workload{
		Model: "Qwen/Qwen2.5-0.5B", Tokenizer: "Qwen/Qwen2.5-0.5B", Backend: "openai", Endpoint: "/completions",
		Dataset: "random", MaxConcurrency: 50, NumPrompts: 200, InputLen: 512, OutputLen: 512, IgnoreEOS: true,
		RequestRate: "inf", ModelMaxLen: 32768,
	}
}

// DefaultHost and DefaultPort are where a server listens unless told otherwise: loopback, so that a study's
// servers are not reachable from the network, and vLLM's own default port (§2.3).
const (
	DefaultHost = "127.0.0.1"
	DefaultPort = 8000
)

// Options configure a Runner for a whole study.
type Options struct {
	VLLM      []string // the vllm executable and any leading arguments, e.g. {"autotune", "sim"}
	NvidiaSMI []string // the nvidia-smi executable and leading arguments; default {"nvidia-smi"}
	Python    []string // python that vLLM runs under, for package probes; default: next to VLLM, else python3
	Host      string   // default DefaultHost
	Port      int      // default DefaultPort
	Env       []string // the complete base environment of the server and the benchmark (KEY=VALUE)
	// GPUs, when set, are the GPU indices (as nvidia-smi numbers them) this runner's servers use: they get
	// CUDA_VISIBLE_DEVICES, and only these GPUs' memory is checked before a start and after a stop, so that
	// runners on the other GPUs of the machine (autotune --gpus) do not hold each other up. nil: every GPU.
	GPUs []int

	StartupTimeout time.Duration // default 10m
	BenchTimeout   time.Duration // default 20m
	StopGrace      time.Duration // SIGTERM to SIGKILL; default 30s
	ReleaseTimeout time.Duration // bound on waiting for the port and GPU memory to be released; default 2m
	ScrapeEvery    time.Duration // /metrics cadence of a benchmark watched by Trial.Prune; default 2s
}

// Trial is one server start plus one benchmark.
type Trial struct {
	Number   int
	Dir      string            // created if missing; holds server.log, bench.log, bench.json
	Model    string            // positional model; empty means Workload.Model
	Args     []string          // tuned `vllm serve` flags, without model, host and port
	Env      map[string]string // extra environment on top of Options.Env
	Workload Workload
	// OnStart, when set, is called once the server process exists, so the caller can record who to clean up
	// after a crash of its own (see StopStale).
	OnStart func(p Process)
	// Prune, when set, is the rule the benchmark is watched by (prune.go): the runner scrapes the server's
	// /metrics while the benchmark runs and stops it once the rule says its outcome is settled.
	Prune *PruneRule
}

// Process identifies a server we started, well enough to find it again after our own crash without ever
// touching a process we did not start: a PID can be reused, so its start time is part of the identity.
type Process struct {
	PID        int
	PGID       int
	StartTicks uint64 // field 22 of /proc/<pid>/stat: start time in clock ticks since boot
	Host       string
	Port       int
	// Token is a random value the server (and every process it forks) got in its environment as
	// AUTOTUNE_SERVER_TOKEN. It lets StopStale prove that processes left in the group after the leader died
	// (an orphaned engine core holding GPU memory) are ours. Empty in records written before it existed: then
	// only a live leader with the same PID, start ticks and PGID is proof.
	Token string
}

// Class is a failure class the tuner can act on. The empty Class means success.
type Class string

// The failure classes. Their text is stored in the database; do not rename them.
const (
	OK                     Class = ""
	InvalidFlag            Class = "invalid_flag"             // argparse exit 2
	ConfigRefused          Class = "config_refused"           // vLLM validation errors
	UnsupportedOnGPU       Class = "unsupported_on_gpu"       // bf16, quantization capability, attention backend
	OutOfMemory            Class = "out_of_memory"            // at startup or under load
	KVCacheTooSmall        Class = "kv_cache_too_small"       // no room for the KV cache / one max-length request
	StartupTimeout         Class = "startup_timeout"          // no /health 200 before the deadline
	StartupCrash           Class = "startup_crash"            // exited during startup without a known cause
	CrashedDuringBenchmark Class = "crashed_during_benchmark" // died or turned unhealthy under load
	RequestsFailed         Class = "requests_failed"          // the benchmark ran, but not every request succeeded
	BenchmarkFailed        Class = "benchmark_failed"         // the benchmark tool failed, hung, or wrote no usable JSON
	Interrupted            Class = "interrupted"              // our context was cancelled
	Harness                Class = "harness"                  // our side: port taken, GPU not free, exec failure, disk
	// PlatformUnusable: the installed vLLM cannot run on this machine at all (no kernel image for this GPU, a
	// CUDA driver too old for the install, vLLM not importable). No config can fix it: the study stops.
	PlatformUnusable Class = "platform_unusable"
	// Pruned: the benchmark was stopped early by Trial.Prune because its outcome was already settled (prune.go).
	Pruned Class = "pruned"
)

// ConfigFault reports whether the failure is evidence against the config (the sampler should move away),
// as opposed to a fault of the harness or an interruption, which say nothing about the config.
func (c Class) ConfigFault() bool {
	switch c {
	case InvalidFlag, ConfigRefused, UnsupportedOnGPU, OutOfMemory, KVCacheTooSmall, StartupTimeout,
		StartupCrash, CrashedDuringBenchmark, RequestsFailed, Pruned:
		return true
	}
	return false
}

// Result is everything one trial produced.
type Result struct {
	ServeArgv []string // the full command that started the server
	BenchArgv []string // the full benchmark command
	Bench     *Bench   // the parsed benchmark result; nil when none was produced

	Class   Class
	Message string // one line: what went wrong
	LogTail string // the lines of server.log or bench.log that prove the class

	Startup   time.Duration // start to /health 200
	Benchmark time.Duration
	Teardown  time.Duration // stop signal to port and GPU memory released

	ServerLog, BenchLog, BenchJSON string // paths
	Process                        Process

	// Watch is the pruning rule's verdict after every /metrics scrape of the benchmark (empty without
	// Trial.Prune); with Class Pruned the last one is the evidence.
	Watch []Verdict
}

// Keys of the benchmark's JSON (vLLM's names, docs/vllm.md §13.8) that autotune judges and reports: the SLA's
// P99s are in Bench.Latency, and a record's stored JSON (Bench.JSON) holds them all.
const (
	KeyOutputThroughput = "output_throughput"
	KeyP99TPOT          = "p99_tpot_ms"
	KeyP99TTFT          = "p99_ttft_ms"
	KeyMeanTPOT         = "mean_tpot_ms"
	KeyMeanTTFT         = "mean_ttft_ms"
)

// Bench is the parsed JSON that `vllm bench serve --save-result` writes (docs/vllm.md §13.8).
type Bench struct {
	Date                  string
	Backend               string
	ModelID               string
	TokenizerID           string
	NumPrompts            int
	RequestRate           string // "inf" or a number as text
	MaxConcurrency        int
	Duration              float64
	Completed             int
	Failed                int
	TotalInputTokens      int
	TotalOutputTokens     int
	RequestThroughput     float64
	OutputThroughput      float64
	TotalTokenThroughput  float64
	MaxOutputTokensPerS   float64
	MaxConcurrentRequests float64

	// Latency holds every `<stat>_<metric>_ms` key, e.g. "p99_tpot_ms", "mean_ttft_ms", "median_itl_ms".
	Latency map[string]float64
	// SpecDecode holds the `spec_decode_*` scalar keys when the server exposed them; nil otherwise.
	SpecDecode map[string]float64
	// Raw is the whole object as decoded (NaN and Infinity as float64), for keys not modelled above.
	Raw map[string]any
}

// Probe is what the study learns about the machine once, before its first trial.
type Probe struct {
	GPUs        []GPU
	VLLMVersion string          // from `vllm --version`
	ServeHelp   string          // the text of `vllm serve --help=all` (or --help)
	ServeFlags  map[string]bool // long flags found in ServeHelp, with leading "--"
	Packages    map[string]bool // optional packages found, by pip name (ArcticInference)
}

// ArcticInference is the pip name of the package that vLLM's suffix decoding needs (Probe.Packages' key).
const ArcticInference = "arctic-inference"

// GPU is one line of `nvidia-smi --query-gpu=name,compute_cap,memory.total,memory.used --format=csv,noheader,nounits`.
type GPU struct {
	Name           string
	ComputeCap     float64
	MemoryTotalMiB int
	MemoryUsedMiB  int
}
