package runner

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// rule is one row of the classification table: a fragment of an error line and the class it proves. src says
// where the text comes from and for which versions it holds, checked against vLLM's history (a fork of
// vllm-project/vllm up to upstream commit 2a69949bd, 2026-04-02) and proven by the real logs in
// testdata/failures; "0.15" means the tree at the v0.15.0 release (2026-01-29).
type rule struct {
	class Class
	frag  string         // literal fragment, matched case-sensitively...
	re    *regexp.Regexp // ...or a pattern, when the text has variable parts
	fold  bool           // match frag case-insensitively (frag is lower case)
	exit2 bool           // evidence only when the process exited with status 2 (argparse)
	why   string         // what it means, for Result.Message
	src   string         // where vLLM (or the layer below it) prints it, and in which versions
	// decide, when set, reads the matched line and may give another class and meaning than class and why
	// (the numbers in the line tell whose fault it is).
	decide func(line string) (Class, string)
}

func (r rule) match(line, lower string) bool {
	switch {
	case r.re != nil:
		return r.re.MatchString(line)
	case r.fold:
		return strings.Contains(lower, r.frag)
	default:
		return strings.Contains(line, r.frag)
	}
}

// startupRules classify a server that exited before /health answered 200. The first rule, in table order,
// that matches an error line wins, wherever the line is: the root cause is often far above the last traceback
// line (the front end's "Engine core initialization failed. See root cause above"), and wrappers repeat it. So
// specific messages come before the generic ones that may wrap them (a pydantic "validation error for" or
// "Value error, " around a more specific ValueError), and the faults that are not the config's come first of
// all: the platform's (the study stops) and the harness's (the trial does not count), since vLLM wraps those in
// the same ValueErrors as its config checks. Log records at INFO, DEBUG or WARNING level and Python warnings are
// never evidence (see NotEvidence).
var startupRules = []rule{
	// argparse: exit status 2 before anything is loaded.
	{class: InvalidFlag, exit2: true, frag: "error: unrecognized arguments:", why: "vllm serve rejected a flag", src: "argparse, every version"},
	{class: InvalidFlag, exit2: true, frag: "invalid choice:", why: "vllm serve rejected a flag value", src: "argparse, every version"},
	{class: InvalidFlag, exit2: true, frag: "ambiguous option", why: "vllm serve rejected an abbreviated flag", src: "argparse, every version"},

	// This install cannot run on this machine at all: no config can fix it, the study stops.
	{class: PlatformUnusable, frag: "no kernel image is available for execution on the device", why: "the installed vLLM/PyTorch has no kernels for this GPU", src: "CUDA runtime via torch, every version"},
	{class: PlatformUnusable, frag: "The NVIDIA driver on your system is too old", why: "the NVIDIA driver is older than the CUDA runtime of the installed PyTorch", src: "torch._C._cuda_init, every version"},
	{class: PlatformUnusable, frag: "CUDA driver version is insufficient for CUDA runtime version", why: "the NVIDIA driver is older than the CUDA runtime of the install", src: "CUDA runtime, every version"},
	{class: PlatformUnusable, re: regexp.MustCompile(`libcudart\.so\.\d+: cannot open shared object file`), why: "the vLLM install does not match the CUDA driver (e.g. a CUDA-13 wheel on a CUDA-12 driver)", src: "dynamic loader; reference vllm.md §1.3 (CUDA-13 default wheels from 2026-04-23)"},
	{class: PlatformUnusable, re: regexp.MustCompile(`No module named '?vllm`), why: "vLLM is not importable in this environment", src: "Python import system, every version"},
	// A compiled extension of vLLM (vllm/_C.abi3.so, _moe_C, vllm_flash_attn) built against another torch. vLLM
	// logs the same ImportError as a WARNING from _custom_ops.py when the extension is optional; warnings are
	// never evidence, so only the raising form counts.
	{class: PlatformUnusable, re: regexp.MustCompile(`/vllm/\S*\.so: undefined symbol`), why: "vLLM's compiled extension does not match the installed torch (undefined symbol)", src: "dynamic loader on `import vllm._C` (vllm/platforms/cuda.py), every version"},
	// CUDA_ERROR_INVALID_IMAGE: the driver cannot load the code the installed Triton produced (a driver older than
	// Triton's PTX), the sibling of "no kernel image is available".
	{class: PlatformUnusable, frag: "device kernel image is invalid", why: "the CUDA driver cannot load the kernels the installed Triton builds", src: "CUDA driver via triton (\"Triton Error [CUDA]: device kernel image is invalid\"), every version"},
	{class: PlatformUnusable, frag: "is too old to be supported by the triton GPU compiler", why: "Triton does not support this GPU", src: "triton, every version vLLM ships with"},

	// Not the config's fault: the machine or a neighbour.
	// uvicorn's own bind error writes the errno text in lower case ("[errno 98] address already in use").
	{class: Harness, fold: true, frag: "address already in use", why: "another program took the port", src: "Python socket.bind in api_server.py / utils get_open_port, uvicorn, every version"},
	// The model cannot be fetched: the hub is unreachable, offline mode is on without a cached copy, or the
	// token does not open a gated repo. The model is the study's, not the config's; a retry may succeed.
	{class: Harness, frag: "offline mode is enabled", why: "the model hub is unreachable (HF_HUB_OFFLINE) and the model is not cached", src: "huggingface_hub OfflineModeIsEnabled, every version"},
	{class: Harness, re: regexp.MustCompile(`host=\\?'huggingface\.co\\?'.*Max retries exceeded|Failed to resolve \\?'huggingface\.co|We couldn't connect to 'https://huggingface\.co'`), why: "the model hub is unreachable", src: "requests/urllib3 under huggingface_hub, transformers hub.py, every version"},
	{class: Harness, frag: "Cannot access gated repo", why: "the model is gated and the token does not open it", src: "huggingface_hub GatedRepoError, every version"},
	{class: Harness, frag: "Invalid repository ID or local directory specified", why: "the model is neither a reachable hub repo nor a local folder", src: "vllm/transformers_utils/config.py, from 32c3b6bfd (2025-02-25)"},
	// The hub answers 401/404 for the model repo (a wrong id, or a private repo without a token). Only the
	// exception's class name is evidence: vllm/transformers_utils/repo_utils.py logs the same error's text at
	// DEBUG when it probes an optional file, and the text runs on over lines that carry no DEBUG prefix.
	{class: Harness, frag: "RepositoryNotFoundError: ", why: "the hub does not know the model repo, or the token does not open it", src: "huggingface_hub RepositoryNotFoundError (utils._errors, later errors), every version vLLM ships with"},
	{class: Harness, frag: "Error in memory profiling", why: "another process released GPU memory while vLLM was profiling", src: "vllm/v1/worker/gpu_worker.py determine_available_memory, 0.8 to at least 0.29"},

	// KV cache.
	{class: KVCacheTooSmall, frag: "No available memory for the cache blocks", why: "no memory left for the KV cache", src: "vllm/worker/worker.py (V0) and vllm/v1/core/kv_cache_utils.py (V1), every version"},
	// "models's" is vLLM's own typo (kv_cache_utils.py from 69d765f5a, 2025-01-17, through 0.16 and at least
	// 2026-04-02); later versions print "model's". Both spellings are real.
	{class: KVCacheTooSmall, re: regexp.MustCompile(`To serve at least one request with the models?'s max seq len`), why: "KV cache smaller than one max-length request", src: "vllm/v1/core/kv_cache_utils.py, V1 from 2024-10 (models's from 2025-01-17 to at least 2026-04)"},
	{class: KVCacheTooSmall, frag: "is larger than the maximum number of tokens that can be stored in KV cache", why: "KV cache smaller than one max-length request", src: "vllm/worker/worker.py raise_if_cache_size_invalid, V0 engine until its removal (2025-09-20, c99db8c8d)"},
	{class: KVCacheTooSmall, frag: "Cannot auto-fit max_model_len", why: "--max-model-len auto cannot fit a single token", src: "vllm/v1/core/kv_cache_utils.py, 0.15 and later"},

	// Memory. The "Free memory on device" check is an error only in its raising form: gpu_worker.py logs the
	// same words at INFO after a successful profile ("Free memory on device (F/T GiB) on startup. Desired ...").
	{class: OutOfMemory, fold: true, frag: "out of memory", why: "CUDA out of memory", src: "torch / CUDA / NCCL, every version"},
	{class: OutOfMemory, re: regexp.MustCompile(`Free memory on device .*on startup is less than desired GPU memory utilization`), why: "--gpu-memory-utilization is more than the GPU has free", src: "vllm/v1/worker/utils.py request_memory (gpu_worker.py before), 0.10 to at least 2026-04", decide: freeMemoryFault},

	// This GPU cannot do what the config asks.
	{class: UnsupportedOnGPU, frag: "Bfloat16 is only supported on GPUs with compute capability of at least 8.0", why: "bfloat16 needs compute capability 8.0", src: "vllm/platforms/cuda.py, every version"},
	{class: UnsupportedOnGPU, frag: "is not supported for the current GPU. Minimum capability:", why: "quantization method needs a newer GPU", src: "vllm/config (quantization capability check), every version"},
	{class: UnsupportedOnGPU, frag: "No valid attention backend found for", why: "no attention backend fits", src: "vllm/platforms/cuda.py get_attn_backend_cls, 0.12 and later"},
	{class: UnsupportedOnGPU, re: regexp.MustCompile(`Selected backend .* is not valid for this configuration`), why: "attention backend not valid here", src: "vllm/platforms/cuda.py, 0.12 and later"},
	{class: UnsupportedOnGPU, re: regexp.MustCompile(`CUDAGraphMode\.\w+ is not supported with .*backend`), why: "CUDA graph mode not supported by the attention backend", src: "vllm/v1/worker/gpu_model_runner.py / vllm/config/compilation.py, 0.10.2 and later"},
	{class: UnsupportedOnGPU, frag: "FlashAttention only supports Ampere GPUs or newer", why: "the FlashAttention kernel needs compute capability 8.0", src: "vllm_flash_attn / flash-attn, every version"},
	{class: UnsupportedOnGPU, frag: "fp8e4nv", why: "fp8 (e4m3) needs compute capability 8.9", src: "triton (\"type fp8e4nv not supported in this architecture\" / \"fp8e4nv data type is not supported on CUDA arch < 89\")"},
	{class: UnsupportedOnGPU, frag: "Arctic Inference is required for suffix decoding", why: "suffix decoding needs the arctic-inference package, not installed here", src: "vllm/config/speculative.py, 0.12 and later"},
	{class: UnsupportedOnGPU, frag: "NVVM_ERROR_INVALID_OPTION", why: "CUTLASS-DSL compile failed for this GPU", src: "reference vllm.md §16.2"},
	// Turing and Volta had only XFormers in V0, which lacked soft capping (gemma-2).
	{class: UnsupportedOnGPU, frag: "does not support attention logits soft capping", why: "the attention backend this GPU can use lacks logits soft capping", src: "vllm/attention/backends (XFormers, V0), 805a8a75f (2024-08-01) to f9ecbb18b (2024-12-17)"},
	{class: UnsupportedOnGPU, frag: "CUDA error: invalid argument", why: "kernel launch failed on this GPU (FlashInfer on SM75)", src: "flashinfer issue #3620 (SM75 prefill)"},
	// No quantized-linear kernel of this install can run the layer here; the reasons that follow name each
	// kernel's required compute capability (on a T4: Machete and CUTLASS W4A8 need 9.0, Marlin 8.0 before
	// 9187de9fa).
	{class: UnsupportedOnGPU, re: regexp.MustCompile(`Failed to find a kernel that can implement the (WNA16|ScaledMM) linear layer`), why: "no quantization kernel of this install runs this layer on this GPU", src: "vllm/model_executor/layers/quantization/kernels (WNA16 from 86e9c8df2, 2024-09-23; ScaledMM from 56fe4c297, 2025-01-08), vllm/model_executor/kernels/linear from 6af03f239 (2026-02-24)"},
	// Marlin's type check with an empty list: the GPU is below Marlin's minimum (8.0, then 7.5 from 9187de9fa,
	// 2025-12-19). A non-empty list is the checkpoint's type, not the GPU, and is left to the generic rules.
	{class: UnsupportedOnGPU, re: regexp.MustCompile(`Marlin does not support weight_bits = \S+ Only types = \[\] are supported`), why: "the Marlin kernel does not run on this GPU", src: "vllm/model_executor/layers/quantization/utils/marlin_utils.py, from a8d604ca2 (2024-08-02)"},

	// vLLM refused the config.
	{class: ConfigRefused, re: regexp.MustCompile(`max_num_batched_tokens \(\d+\) is smaller than max_model_len`), why: "max_num_batched_tokens below max_model_len without chunked prefill", src: "vllm/config/scheduler.py, every V1 version"},
	{class: ConfigRefused, re: regexp.MustCompile(`max_num_batched_tokens \(\d+\) must be greater than or equal to max_num_seqs`), why: "max_num_batched_tokens below max_num_seqs", src: "vllm/config/scheduler.py, every version"},
	{class: ConfigRefused, frag: "User-specified max_model_len", why: "max_model_len above the model's limit", src: "vllm/config/model.py (config.py before 0.10), every version"},
	{class: ConfigRefused, frag: "Concurrent Partial Prefill is not supported", why: "partial prefill flags are not supported", src: "vllm/engine/arg_utils.py _raise_unsupported_error, 0.10 to at least 0.15"},
	{class: ConfigRefused, frag: "Cannot find the config file for", why: "quantization method needs a pre-quantized checkpoint", src: "vllm/model_executor/model_loader/weight_utils.py, every version"},
	{class: ConfigRefused, frag: "does not match the quantization method specified", why: "quantization method differs from the checkpoint's", src: "vllm/config/model.py, every version"},
	{class: ConfigRefused, frag: "Unknown quantization method:", why: "unknown quantization method", src: "vllm/config/model.py, every version"},
	{class: ConfigRefused, frag: "is not supported for quantization method", why: "dtype not supported by the quantization method", src: "vllm/config (quantization dtype check), every version"},
	// 0.15 prints "... only supported with EAGLE/MTP kind of speculative decoding."; 0.16 adds "Draft Model",
	// later versions "NGram GPU": match the part every version prints.
	{class: ConfigRefused, frag: "Currently, async scheduling is only supported with", why: "async scheduling with this speculative method", src: "vllm/config/vllm.py, 0.11 and later (the method list grows by version)"},
	{class: ConfigRefused, re: regexp.MustCompile(`prompt_lookup_min=\S+ must be <= prompt_lookup_max`), why: "prompt_lookup_min above prompt_lookup_max", src: "vllm/config/speculative.py"},
	{class: ConfigRefused, frag: "Consider increasing max_num_batched_tokens or decreasing num_speculative_tokens", why: "token budget too small for speculative decoding", src: "vllm/engine/arg_utils.py, 0.15"},
	{class: ConfigRefused, frag: "are mutually exclusive", why: "two flags that exclude each other", src: "vllm/engine/arg_utils.py, 0.15 (attention_backend / cudagraph sizes)"},
	{class: ConfigRefused, frag: "should be provided as the first positional argument", why: "model not given positionally", src: "vllm/utils/argparse_utils.py, after 0.16"},
	// 0.8 ends "... positional argument instead of via the `--model` option", 0.8.5 to 0.10 "... positional argument
	// or in a config file instead of via ..."; from d00d65299 (2025-10-03) the same words are a WARNING.
	{class: ConfigRefused, frag: "you should provide the model as a positional argument", why: "model not given positionally", src: "vllm/entrypoints/cli/serve.py, then vllm/utils FlexibleArgumentParser, ValueError 0.8 to 0.10"},
	// The model ships its own code and the command lacks --trust-remote-code.
	{class: ConfigRefused, re: regexp.MustCompile(`(?i)requires you to execute the \w+ file in that repo|contains custom code which must be executed`), why: "the model needs --trust-remote-code", src: "transformers dynamic_module_utils.resolve_trust_remote_code (under vllm/transformers_utils/config.py), every version"},
	{class: ConfigRefused, frag: "must be divisible by tensor parallel size", why: "the model's attention heads do not divide by --tensor-parallel-size", src: "vllm/config/model.py verify_with_parallel_config (config.py before 2025-09-19), every version"},
	{class: ConfigRefused, frag: "Invalid kv_cache_dtype", why: "the attention backend refused the KV cache dtype", src: "vllm/v1/attention/selector.py, from b30dfa03c (2025-11-11)"},
	// The model's or the speculative draft's architecture: with the model's, the baseline fails and the study
	// stops there; with a draft's, another speculative config may start.
	{class: ConfigRefused, re: regexp.MustCompile(`Model architectures \[.*\] are not supported for now`), why: "this vLLM does not support the model architecture (the model's or the speculative draft's)", src: "vllm/model_executor/models/registry.py (config.py before 2024-10), every version"},
	{class: ConfigRefused, frag: "VLLM_USE_V1=1 is not supported with", why: "the V1 engine refused a feature the config asks for", src: "vllm/engine/arg_utils.py _raise_or_fallback, 0.8 to 0.10 (V0 fallback era)"},
	{class: ConfigRefused, frag: "validation error for ", why: "vLLM's config validation failed", src: "pydantic around vLLM's config dataclasses, 0.10 and later"},
	// pydantic prints a ValueError raised in a validator as "Value error, <message>", on its own line under the
	// "validation error for" line or alone where a log or an issue keeps only the message.
	{class: ConfigRefused, re: regexp.MustCompile(`(^|\s)Value error, `), why: "vLLM's config validation failed", src: "pydantic around vLLM's config dataclasses, 0.10 and later"},
}

// freeMemoryNumbers reads "(free/total GiB)" from vLLM's free-memory check.
var freeMemoryNumbers = regexp.MustCompile(`\(([0-9.]+)/([0-9.]+) GiB\)`)

// freeMemoryFault decides whose fault vLLM's "Free memory on device (F/T GiB) on startup is less than desired
// GPU memory utilization" is. vLLM measures F after its own CUDA context and communicators are up, which take
// up to about a tenth of the GPU (2.28 of 22.05 GiB in a torch-2.11 CI run, pytorch#175666). Memory in use
// beyond twice that, and beyond 1 GiB (more than a display or a context holds; a left-over vLLM holds its
// weights and KV cache), belongs to another process: a harness fault, not --gpu-memory-utilization's. Below it,
// the utilization asks for more than this GPU has, which a smaller value fixes.
func freeMemoryFault(line string) (Class, string) {
	const why = "--gpu-memory-utilization is more than the GPU has free"
	m := freeMemoryNumbers.FindStringSubmatch(line)
	if m == nil {
		return OutOfMemory, why
	}
	free, err1 := strconv.ParseFloat(m[1], 64)
	total, err2 := strconv.ParseFloat(m[2], 64)
	if err1 != nil || err2 != nil || total <= 0 || free > total {
		return OutOfMemory, why
	}
	if used := total - free; used > max(1, total/5) {
		return Harness, fmt.Sprintf("another process holds %.1f of %.1f GiB of the GPU at startup", used, total)
	}
	return OutOfMemory, why
}

// benchCrashRules classify a server that died or turned unhealthy under load: out of memory, or a crash.
var benchCrashRules = []rule{
	{class: OutOfMemory, fold: true, frag: "out of memory", why: "CUDA out of memory under load", src: "torch / CUDA, every version"},
	{class: CrashedDuringBenchmark, frag: "EngineDeadError", why: "engine died", src: "vllm/v1/engine/exceptions.py, V1"},
	{class: CrashedDuringBenchmark, frag: "EngineCore encountered a fatal error", why: "engine died", src: "vllm/v1/engine/core.py, V1"},
}

// benchFailRules find the line that proves a failed benchmark in bench.log (§13.7).
var benchFailRules = []rule{
	{class: RequestsFailed, frag: "Failed requests during benchmark run detected", why: "requests failed", src: "vllm/benchmarks/serve.py"},
	{class: RequestsFailed, frag: "All requests failed", why: "all requests failed", src: "vllm/benchmarks/serve.py"},
}

// logRecord matches a vLLM log record at a level that is never evidence, after an optional process prefix
// ("(EngineCore_DP0 pid=812) "), container prefix ("vllm-1  | ") or CI timestamp ("[2025-03-10T15:07:20Z] "):
// "INFO 05-19 10:15:02 [x.py:1] ...", and the older form without brackets ("INFO 11-18 18:07:28 engine.py:366] ...").
var logRecord = regexp.MustCompile(`^(?:.*?[)|\]] +)?(?:INFO|DEBUG|WARNING|WARN) +\d\d-\d\d \d\d:\d\d:\d\d`)

// pythonWarning matches a line printed by Python's warnings module: "path.py:123: UserWarning: ...".
var pythonWarning = regexp.MustCompile(`\.py:\d+: [A-Za-z]*Warning: `)

// NotEvidence reports whether a log line can never prove a failure: an INFO, DEBUG or WARNING record (vLLM warns
// about situations it then handles, e.g. a CUDAGraphMode downgrade, and logs free memory at INFO), or a Python
// warning (torch and transformers warn through the warnings module and go on). The classification skips such
// lines, and report's Trial.Proof leaves them out of the lines it shows as proof.
func NotEvidence(line string) bool {
	return strings.Contains(line, "WARNING") || logRecord.MatchString(line) || pythonWarning.MatchString(line)
}

// ClassifyStartup classifies the log of a `vllm serve` that exited with exitCode before it was ready, as Run
// does: the class, and the log line that proves it. With no known cause in the log it returns StartupCrash and
// an empty line. It is exported for harnesses that reproduce a startup without a process (searchq's in-process
// simulator), so that they see the same classes the real runner reports.
func ClassifyStartup(log []byte, exitCode int) (Class, string) {
	if rl, line, ok := classify(log, exitCode, startupRules); ok {
		return rl.class, line
	}
	return StartupCrash, ""
}

// maxScan bounds how much of the end of a log the classifier reads: errors that end a process are at its end.
const maxScan = 2 << 20

// classify returns the first rule (table order) that a line of log matches, with that line.
func classify(log []byte, exitCode int, rules []rule) (rule, string, bool) {
	if len(log) > maxScan {
		log = log[len(log)-maxScan:]
	}
	lines := strings.Split(string(log), "\n")
	lower := strings.Split(strings.ToLower(string(log)), "\n")
	if len(lower) != len(lines) { // ToLower changed a byte length (invalid UTF-8): fall back per line
		lower = make([]string, len(lines))
		for i, l := range lines {
			lower[i] = strings.ToLower(l)
		}
	}
	for _, r := range rules {
		if r.exit2 && exitCode != 2 {
			continue
		}
		for i, line := range lines {
			if NotEvidence(line) {
				continue
			}
			if r.match(line, lower[i]) {
				line = strings.TrimSpace(strings.TrimRight(line, "\r"))
				if r.decide != nil {
					r.class, r.why = r.decide(line)
				}
				return r, line, true
			}
		}
	}
	return rule{}, "", false
}

// readLogEnd reads at most the last max bytes of the file at path.
func readLogEnd(path string, max int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		if _, err := f.Seek(fi.Size()-max, io.SeekStart); err != nil {
			return nil
		}
	}
	data, _ := io.ReadAll(io.LimitReader(f, max))
	return data
}

// Bounds of Result.LogTail.
const (
	tailLines = 40
	tailBytes = 8 << 10
)

// logTail is the evidence kept in Result.LogTail: the matching line (when there is one and the tail does not
// already hold it), then the last 40 lines / 8 KiB of the log.
func logTail(path, evidence string) string {
	data := readLogEnd(path, tailBytes)
	if int64(len(data)) == tailBytes { // started mid-line
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	tail := strings.Join(lines, "\n")
	var b strings.Builder
	if evidence != "" && !strings.Contains(tail, evidence) {
		fmt.Fprintf(&b, "[matched in %s] %s\n[...]\n", path, clip(evidence, 1024))
	}
	b.WriteString(tail)
	return b.String()
}
