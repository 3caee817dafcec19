package sim

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// serveFlags is vLLM 0.15.1's `vllm serve` flag set as far as reference/vllm.md documents it: every flag of
// §2.3 that existed in 0.15/0.16, plus the ones §2.4 says were still present then (--swap-space,
// --disable-log-requests, --calculate-kv-scales). Flags removed before 0.15 (--cuda-graph-sizes,
// --num-scheduler-steps, --use-v2-block-manager, --preemption-mode, --max-seq-len-to-capture, ...) and flags
// added after 0.15/0.16 (--performance-mode) are absent, so they fail with "unrecognized arguments" as they do on
// a real 0.15.1. Choices follow v0.16.0 where the reference gives them (--block-size, --kv-cache-dtype).
var serveFlags = []flagSpec{
	{name: "--help", short: []string{"-h"}, kind: kHelp, group: "options", help: "show this help message and exit. --help=all lists every flag, --help=<Group> one group."},

	// Frontend (vllm/entrypoints/openai/cli_args.py)
	{name: "--host", kind: kStr, def: "None", group: "Frontend", help: "Host name; None binds all interfaces."},
	{name: "--port", kind: kInt, def: "8000", group: "Frontend", help: "Port number."},
	{name: "--uvicorn-log-level", kind: kStr, choices: []string{"critical", "error", "warning", "info", "debug", "trace"}, def: "info", group: "Frontend", help: "Log level for uvicorn."},
	{name: "--disable-uvicorn-access-log", kind: kBoolOpt, def: "False", group: "Frontend", help: "Disable uvicorn access log."},
	{name: "--api-server-count", short: []string{"-asc"}, kind: kInt, def: "None", group: "Frontend", help: "How many API server processes to run."},
	{name: "--config", kind: kStr, def: "None", group: "Frontend", help: "Read CLI options from a config file (YAML)."},
	{name: "--enable-server-load-tracking", kind: kBoolOpt, def: "False", group: "Frontend", help: "Track server load for the /load endpoint."},
	{name: "--enable-log-requests", kind: kBoolOpt, def: "False", group: "Frontend", help: "Enable logging requests."},
	{name: "--disable-log-requests", kind: kBoolOpt, def: "True", group: "Frontend", help: "[DEPRECATED] Disable logging requests."},

	// ModelConfig (vllm/config/model.py)
	{name: "--model", kind: kStr, def: "Qwen/Qwen3-0.6B", group: "ModelConfig", help: "Name or path of the model; prefer the positional model_tag."},
	{name: "--served-model-name", kind: kStrList, def: "None", group: "ModelConfig", help: "The model name(s) used in the API; the first is used in responses and metrics."},
	{name: "--tokenizer", kind: kStr, def: "None", group: "ModelConfig", help: "Name or path of the tokenizer; defaults to the model."},
	{name: "--seed", kind: kInt, def: "0", group: "ModelConfig", help: "Random seed for reproducibility."},
	{name: "--dtype", kind: kStr, choices: []string{"auto", "half", "float16", "bfloat16", "float", "float32"}, def: "auto", group: "ModelConfig", help: "Data type for model weights and activations."},
	{name: "--max-model-len", kind: kMaxLen, def: "None", group: "ModelConfig", help: "Model context length; accepts 1k/1K suffixes, -1 or auto fits to memory."},
	{name: "--quantization", short: []string{"-q"}, kind: kStr, def: "None", group: "ModelConfig", help: "Method used to quantize the weights; None means from the checkpoint."},
	{name: "--allow-deprecated-quantization", kind: kBoolOpt, def: "False", group: "ModelConfig", help: "Allow deprecated quantization methods."},
	{name: "--enforce-eager", kind: kBoolOpt, def: "False", group: "ModelConfig", help: "Always use eager-mode PyTorch: disables torch.compile and CUDA graphs."},
	{name: "--max-logprobs", kind: kInt, def: "20", group: "ModelConfig", help: "Maximum number of log probabilities to return."},
	{name: "--generation-config", kind: kStr, def: "auto", group: "ModelConfig", help: "Folder of the generation config; auto loads it from the model, vllm uses vLLM defaults."},
	{name: "--override-generation-config", kind: kJSON, def: "{}", group: "ModelConfig", help: "Overrides of the generation config as JSON, e.g. '{\"temperature\": 0}'."},

	// LoadConfig (vllm/config/load.py)
	{name: "--load-format", kind: kStr, def: "auto", group: "LoadConfig", help: "Format of the model weights to load (auto, safetensors, pt, dummy, bitsandbytes, gguf, ...)."},
	{name: "--download-dir", kind: kStr, def: "None", group: "LoadConfig", help: "Directory to download and load the weights."},

	// ParallelConfig
	{name: "--tensor-parallel-size", kind: kInt, def: "1", group: "ParallelConfig", help: "Number of tensor parallel groups."},

	// CacheConfig (vllm/config/cache.py)
	{name: "--block-size", kind: kInt, choices: []string{"1", "8", "16", "32", "64", "128", "256"}, def: "None", group: "CacheConfig", help: "Size of a contiguous cache block in tokens; None means 16."},
	{name: "--gpu-memory-utilization", kind: kFloat, def: "0.9", group: "CacheConfig", help: "Fraction of total GPU memory this instance may use (0 < x <= 1)."},
	{name: "--kv-cache-memory-bytes", kind: kHInt, def: "None", group: "CacheConfig", help: "KV cache size in bytes per GPU; overrides --gpu-memory-utilization for KV sizing."},
	{name: "--swap-space", kind: kFloat, def: "4", group: "CacheConfig", help: "Size of the CPU swap space per GPU (GiB)."},
	{name: "--kv-cache-dtype", kind: kStr, choices: []string{"auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_inc", "fp8_ds_mla"}, def: "auto", group: "CacheConfig", help: "Data type for KV cache storage; auto uses the model dtype."},
	{name: "--enable-prefix-caching", kind: kBoolOpt, def: "None", group: "CacheConfig", help: "Whether to enable prefix caching; None means on for this model."},
	{name: "--prefix-caching-hash-algo", kind: kStr, choices: []string{"sha256", "sha256_cbor", "xxhash", "xxhash_cbor"}, def: "sha256", group: "CacheConfig", help: "Hash algorithm for prefix caching."},
	{name: "--calculate-kv-scales", kind: kBoolOpt, def: "False", group: "CacheConfig", help: "[DEPRECATED] Calculate k_scale and v_scale dynamically for fp8 KV."},
	{name: "--cpu-offload-gb", kind: kFloat, def: "0", group: "CacheConfig", help: "Space in GiB to offload weights to the CPU."},
	{name: "--kv-offloading-size", kind: kFloat, def: "None", group: "CacheConfig", help: "Size of the KV cache offloading buffer in GiB."},

	// SchedulerConfig (vllm/config/scheduler.py)
	{name: "--max-num-batched-tokens", kind: kHInt, def: "None", group: "SchedulerConfig", help: "Maximum number of tokens processed in one iteration; accepts 2k/2K suffixes."},
	{name: "--max-num-seqs", kind: kInt, def: "None", group: "SchedulerConfig", help: "Maximum number of sequences processed in one iteration."},
	{name: "--max-num-partial-prefills", kind: kInt, def: "1", group: "SchedulerConfig", help: "Maximum number of sequences that can be partially prefilled concurrently."},
	{name: "--max-long-partial-prefills", kind: kInt, def: "1", group: "SchedulerConfig", help: "Maximum number of long prompts prefilled concurrently."},
	{name: "--long-prefill-token-threshold", kind: kInt, def: "0", group: "SchedulerConfig", help: "A prompt longer than this many tokens counts as long."},
	{name: "--enable-chunked-prefill", kind: kBoolOpt, def: "None", group: "SchedulerConfig", help: "Chunk prefill requests by max_num_batched_tokens."},
	{name: "--scheduling-policy", kind: kStr, choices: []string{"fcfs", "priority"}, def: "fcfs", group: "SchedulerConfig", help: "The scheduling policy."},
	{name: "--async-scheduling", kind: kBoolOpt, def: "None", group: "SchedulerConfig", help: "Overlap CPU scheduling with GPU execution; None means on unless incompatible."},
	{name: "--stream-interval", kind: kInt, def: "1", group: "SchedulerConfig", help: "Send streamed tokens every N tokens; the first and last are always sent at once."},

	// VllmConfig / CompilationConfig (vllm/config/vllm.py, compilation.py)
	{name: "--optimization-level", short: []string{"-O"}, kind: kInt, choices: []string{"0", "1", "2", "3"}, def: "2", group: "VllmConfig", help: "0: no compile, no CUDA graphs; 1: compile + PIECEWISE; 2 and 3: FULL_AND_PIECEWISE. -O3 / -O 3 / -O=3."},
	{name: "--compilation-config", short: []string{"-cc"}, kind: kJSON, def: "{}", group: "VllmConfig", help: "torch.compile and CUDA graph configuration as JSON or dotted keys (-cc.mode 3)."},
	{name: "--cudagraph-capture-sizes", kind: kIntList, def: "None", group: "CompilationConfig", help: "Batch sizes to capture CUDA graphs for."},
	{name: "--max-cudagraph-capture-size", kind: kInt, def: "None", group: "CompilationConfig", help: "Largest CUDA graph capture size; the default list is generated up to it."},
	{name: "--speculative-config", short: []string{"-sc"}, kind: kJSON, def: "None", group: "VllmConfig", help: "Speculative decoding configuration as JSON, e.g. '{\"method\":\"ngram\",\"num_speculative_tokens\":4}'."},
	{name: "--attention-backend", kind: kStr, def: "None", group: "VllmConfig", help: "Attention backend: FLASHINFER, TRITON_ATTN, FLEX_ATTENTION, FLASH_ATTN or auto."},
	{name: "--attention-config", short: []string{"-ac"}, kind: kJSON, def: "{}", group: "VllmConfig", help: "Attention configuration as JSON or dotted keys (-ac.backend X)."},

	// ObservabilityConfig / misc
	{name: "--disable-log-stats", kind: kStoreTrue, def: "False", group: "ObservabilityConfig", help: "Disable the periodic statistics log line."},
	{name: "--shutdown-timeout", kind: kInt, def: "0", group: "Frontend", help: "Seconds to wait for in-flight requests on shutdown; 0 aborts them."},
	{name: "--fail-on-environ-validation", kind: kBoolOpt, def: "False", group: "Frontend", help: "Fail on unknown VLLM_* environment variables."},
}

var (
	flagIndexOnce sync.Once
	flagIdx       map[string]optRef
	optStrs       []string
)

func buildFlagIndex() {
	flagIdx = map[string]optRef{}
	for i := range serveFlags {
		f := &serveFlags[i]
		flagIdx[f.name] = optRef{spec: f}
		optStrs = append(optStrs, f.name)
		if f.kind == kBoolOpt {
			no := "--no-" + strings.TrimPrefix(f.name, "--")
			flagIdx[no] = optRef{spec: f, neg: true}
			optStrs = append(optStrs, no)
		}
		for _, s := range f.short {
			flagIdx[s] = optRef{spec: f}
		}
	}
}

func flagIndex() map[string]optRef {
	flagIndexOnce.Do(buildFlagIndex)
	return flagIdx
}

// optionStrings are the long option strings in registration order (argparse's prefix search order).
func optionStrings() []string {
	flagIndexOnce.Do(buildFlagIndex)
	return optStrs
}

// ServeFlagNames lists every long flag `vllm serve` accepts in the simulated 0.15.1, with "--" and the --no-x
// forms, sorted.
func ServeFlagNames() []string {
	out := append([]string(nil), optionStrings()...)
	sort.Strings(out)
	return out
}

// groupOrder is the order of the groups in --help=all.
var groupOrder = []string{"options", "Frontend", "ModelConfig", "LoadConfig", "ParallelConfig", "CacheConfig",
	"SchedulerConfig", "CompilationConfig", "VllmConfig", "ObservabilityConfig"}

const serveDescription = "Launch a local OpenAI-compatible API server to serve LLM completions via HTTP.\n" +
	"(autotune sim: a SIMULATED vLLM 0.15.1 on a simulated Tesla T4; nothing it reports is a measurement.)"

// helpLine renders one flag the way argparse's HelpFormatter does.
func helpLine(f *flagSpec) string {
	var inv string
	switch f.kind {
	case kHelp:
		inv = "-h, --help"
	case kBoolOpt:
		inv = f.name + ", --no-" + strings.TrimPrefix(f.name, "--")
	case kStoreTrue:
		inv = f.name
	case kIntList, kStrList:
		mv := f.metavar()
		inv = fmt.Sprintf("%s %s [%s ...]", f.name, mv, mv)
	default:
		mv := f.metavar()
		if len(f.choices) > 0 {
			mv = "{" + strings.Join(f.choices, ",") + "}"
		}
		parts := []string{f.name + " " + mv}
		for _, s := range f.short {
			parts = append(parts, s+" "+mv)
		}
		inv = strings.Join(parts, ", ")
	}
	help := f.help
	if f.kind != kHelp {
		help += " (default: " + f.def + ")"
	}
	if len(inv) <= 20 {
		return fmt.Sprintf("  %-22s%s\n", inv, help)
	}
	return fmt.Sprintf("  %s\n                        %s\n", inv, help)
}

// serveHelp renders `vllm serve --help[=what]`. "short" gives the grouped overview recent vLLM prints, "all"
// every flag, a group name that group, anything else the flags whose text contains it.
func serveHelp(what string) string {
	var b strings.Builder
	b.WriteString(serveUsage + "\n\n" + serveDescription + "\n\n")
	b.WriteString("positional arguments:\n  model_tag             The model tag to serve (optional if specified in config) (default: None)\n\n")
	if what == "short" || what == "" {
		b.WriteString("options:\n")
		b.WriteString(helpLine(&serveFlags[0]))
		b.WriteString("\nConfig Groups:\n")
		for _, g := range groupOrder[1:] {
			b.WriteString("  " + g + "\n")
		}
		b.WriteString("\nUse `--help=<ConfigGroup>` to explore options by section (e.g., --help=ModelConfig, --help=Frontend)\n")
		b.WriteString("Use `--help=all` to show all available flags at once\n")
		return b.String()
	}
	for _, g := range groupOrder {
		var lines []string
		for i := range serveFlags {
			f := &serveFlags[i]
			if f.group != g {
				continue
			}
			line := helpLine(f)
			switch {
			case what == "all", strings.EqualFold(what, g):
			case strings.Contains(strings.ToLower(line), strings.ToLower(what)):
			default:
				continue
			}
			lines = append(lines, line)
		}
		if len(lines) == 0 {
			continue
		}
		b.WriteString(g + ":\n")
		for _, l := range lines {
			b.WriteString(l)
		}
		b.WriteString("\n")
	}
	return b.String()
}
