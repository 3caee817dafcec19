package runner

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// rule is one row of the classification table: a fragment of a log line (reference vllm.md §10.1 and the
// sections it points to) and the class it proves.
type rule struct {
	class Class
	frag  string         // literal fragment, matched case-sensitively...
	re    *regexp.Regexp // ...or a pattern, when the text has variable parts
	fold  bool           // match frag case-insensitively (frag is lower case)
	exit2 bool           // evidence only when the process exited with status 2 (argparse)
	why   string         // what it means, for Result.Message
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

func (r rule) pattern() string {
	if r.re != nil {
		return r.re.String()
	}
	return r.frag
}

// startupRules classify a server that exited before /health answered 200. The first rule, in table order,
// that matches any line wins; so specific messages come before the generic ones that may wrap them (a
// pydantic "validation error for" around a more specific ValueError). Lines logged at WARNING level are never
// evidence: vLLM warns about some of these situations and carries on (e.g. a CUDAGraphMode downgrade).
var startupRules = []rule{
	// argparse (§2.1): exit status 2 before anything is loaded.
	{class: InvalidFlag, exit2: true, frag: "error: unrecognized arguments:", why: "vllm serve rejected a flag"},
	{class: InvalidFlag, exit2: true, frag: "invalid choice:", why: "vllm serve rejected a flag value"},
	{class: InvalidFlag, exit2: true, frag: "ambiguous option", why: "vllm serve rejected an abbreviated flag"},

	// Not the config's fault (§1.3, §10.1): the install or the machine.
	{class: Harness, frag: "libcudart.so.13: cannot open shared object file", why: "the vLLM install does not match the CUDA driver (CUDA-13 wheel on a CUDA-12 driver)"},
	{class: Harness, frag: "Address already in use", why: "another program took the port"},
	{class: Harness, frag: "Error in memory profiling", why: "another process released GPU memory while vLLM was profiling"},

	// KV cache (§10.1, t4-calibration §9.6).
	{class: KVCacheTooSmall, frag: "No available memory for the cache blocks", why: "no memory left for the KV cache"},
	{class: KVCacheTooSmall, frag: "To serve at least one request with the model's max seq len", why: "KV cache smaller than one max-length request"},
	{class: KVCacheTooSmall, frag: "Cannot auto-fit max_model_len", why: "--max-model-len auto cannot fit a single token"},

	// Memory (§10.1). "Free memory on device": the check before the start made sure no left-over server holds
	// the GPU, so the utilization asked for is more than this GPU has free: the config's fault.
	{class: OutOfMemory, fold: true, frag: "out of memory", why: "CUDA out of memory"},
	{class: OutOfMemory, frag: "Free memory on device", why: "--gpu-memory-utilization is more than the GPU has free"},

	// This GPU or this install cannot do it (§3.1, §4, §7, §8, §9, §16.2).
	{class: UnsupportedOnGPU, frag: "Bfloat16 is only supported on GPUs with compute capability of at least 8.0", why: "bfloat16 needs compute capability 8.0"},
	{class: UnsupportedOnGPU, frag: "is not supported for the current GPU. Minimum capability:", why: "quantization method needs a newer GPU"},
	{class: UnsupportedOnGPU, frag: "No valid attention backend found for cuda with", why: "no attention backend fits"},
	{class: UnsupportedOnGPU, re: regexp.MustCompile(`Selected backend .* is not valid for this configuration`), why: "attention backend not valid here"},
	{class: UnsupportedOnGPU, re: regexp.MustCompile(`CUDAGraphMode\.\w+ is not supported with .*backend`), why: "CUDA graph mode not supported by the attention backend"},
	{class: UnsupportedOnGPU, frag: "fp8e4nv", why: "fp8 (e4m3) needs compute capability 8.9"},
	{class: UnsupportedOnGPU, frag: "Arctic Inference is required for suffix decoding", why: "suffix decoding needs the arctic-inference package, not installed here"},
	{class: UnsupportedOnGPU, frag: "NVVM_ERROR_INVALID_OPTION", why: "CUTLASS-DSL compile failed for this GPU"},
	{class: UnsupportedOnGPU, frag: "CUDA error: invalid argument", why: "kernel launch failed on this GPU (FlashInfer on SM75)"},

	// vLLM refused the config (§2.3, §3.2, §7, §10.1).
	{class: ConfigRefused, re: regexp.MustCompile(`max_num_batched_tokens \(\d+\) is smaller than max_model_len`), why: "max_num_batched_tokens below max_model_len without chunked prefill"},
	{class: ConfigRefused, re: regexp.MustCompile(`max_num_batched_tokens \(\d+\) must be greater than or equal to max_num_seqs`), why: "max_num_batched_tokens below max_num_seqs"},
	{class: ConfigRefused, frag: "User-specified max_model_len", why: "max_model_len above the model's limit"},
	{class: ConfigRefused, frag: "Concurrent Partial Prefill is not supported", why: "partial prefill flags are not supported"},
	{class: ConfigRefused, frag: "Cannot find the config file for", why: "quantization method needs a pre-quantized checkpoint"},
	{class: ConfigRefused, frag: "does not match the quantization method specified", why: "quantization method differs from the checkpoint's"},
	{class: ConfigRefused, frag: "Unknown quantization method:", why: "unknown quantization method"},
	{class: ConfigRefused, frag: "is not supported for quantization method", why: "dtype not supported by the quantization method"},
	{class: ConfigRefused, frag: "async scheduling is only supported with EAGLE/MTP/Draft Model/NGram GPU kind of speculative decoding", why: "async scheduling with this speculative method"},
	{class: ConfigRefused, re: regexp.MustCompile(`prompt_lookup_min=\S+ must be <= prompt_lookup_max`), why: "prompt_lookup_min above prompt_lookup_max"},
	{class: ConfigRefused, frag: "Consider increasing max_num_batched_tokens or decreasing num_speculative_tokens", why: "token budget too small for speculative decoding"},
	{class: ConfigRefused, frag: "are mutually exclusive", why: "two flags that exclude each other"},
	{class: ConfigRefused, frag: "should be provided as the first positional argument", why: "model not given positionally"},
	{class: ConfigRefused, frag: "validation error for ", why: "vLLM's config validation failed"},
}

// benchCrashRules classify a server that died or turned unhealthy under load: out of memory, or a crash.
var benchCrashRules = []rule{
	{class: OutOfMemory, fold: true, frag: "out of memory", why: "CUDA out of memory under load"},
	{class: CrashedDuringBenchmark, frag: "EngineDeadError", why: "engine died"},
	{class: CrashedDuringBenchmark, frag: "EngineCore encountered a fatal error", why: "engine died"},
}

// benchFailRules find the line that proves a failed benchmark in bench.log (§13.7).
var benchFailRules = []rule{
	{class: RequestsFailed, frag: "Failed requests during benchmark run detected", why: "requests failed"},
	{class: RequestsFailed, frag: "All requests failed", why: "all requests failed"},
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
			if strings.Contains(line, "WARNING") {
				continue
			}
			if r.match(line, lower[i]) {
				return r, strings.TrimSpace(strings.TrimRight(line, "\r")), true
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
