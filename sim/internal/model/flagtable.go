package model

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// serveFlags is vLLM 0.15.1's `vllm serve` option set, in the order vLLM registers it (so that argparse's
// prefix matching and "ambiguous option" list the same candidates): make_arg_parser's own options, FrontendArgs'
// fields, then EngineArgs.add_cli_args and AsyncEngineArgs'. The names, short aliases, groups and how each option
// takes its value (a value; BooleanOptionalAction, which adds --no-<name>; store_true; nargs="+"; nargs="?")
// were extracted from vLLM's source at a2b877df6 (2026-01-27, just before v0.15.0: vllm/engine/arg_utils.py,
// vllm/entrypoints/openai/cli_args.py and the config dataclasses whose field types decide the argparse action).
// TestServeFlagsMatchReference holds the set against testdata/vllm-serve-flags-0.15.tsv. Options only in the
// v0.16.0 branch (--enable-flashinfer-autotune, --kernel-config, --specialize-active-lora,
// --weight-transfer-config) and later ones (--shutdown-timeout, --fail-on-environ-validation, the -sc alias,
// --performance-mode) are absent, so they fail with "unrecognized arguments" as on a real 0.15.1.
//
// Options the simulator models carry their type, choices, default and help; the others are marked unmodelled:
// they parse with the right arity (no choice or type check) and do not change what the simulator does. The
// optimization level is parsed as a string, as vLLM does (OptimizationLevel is an IntEnum, so _compute_kwargs
// gives it type=str): any value parses, and one outside 0-3 is refused later, by VllmConfig's validation.
var serveFlags = []flagSpec{
	{name: "--help", short: []string{"-h"}, kind: kHelp, group: "options", help: "show this help message and exit. --help=all lists every flag, --help=<Group> one group."},
	{name: "--headless", kind: kStoreTrue, group: "options", unmodelled: true},
	{name: "--api-server-count", short: []string{"-asc"}, kind: kInt, def: "None", group: "options", help: "How many API server processes to run."},
	{name: "--config", kind: kStr, def: "None", group: "options", help: "Read CLI options from a config file (YAML)."},
	{name: "--host", kind: kStr, def: "None", group: "Frontend", help: "Host name; None binds all interfaces."},
	{name: "--port", kind: kInt, def: "8000", group: "Frontend", help: "Port number."},
	{name: "--uds", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--uvicorn-log-level", kind: kStr, choices: []string{"critical", "error", "warning", "info", "debug", "trace"}, def: "info", group: "Frontend", help: "Log level for uvicorn."},
	{name: "--disable-uvicorn-access-log", kind: kBoolOpt, def: "False", group: "Frontend", help: "Disable uvicorn access log."},
	{name: "--disable-access-log-for-endpoints", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--allow-credentials", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--allowed-origins", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--allowed-methods", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--allowed-headers", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--api-key", kind: kStrList, group: "Frontend", unmodelled: true},
	{name: "--lora-modules", kind: kStrList, group: "Frontend", unmodelled: true},
	{name: "--chat-template", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--chat-template-content-format", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--trust-request-chat-template", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--default-chat-template-kwargs", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--response-role", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--ssl-keyfile", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--ssl-certfile", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--ssl-ca-certs", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--enable-ssl-refresh", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--ssl-cert-reqs", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--ssl-ciphers", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--root-path", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--middleware", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--return-tokens-as-token-ids", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--disable-frontend-multiprocessing", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--enable-request-id-headers", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--enable-auto-tool-choice", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--exclude-tools-when-tool-choice-none", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--tool-call-parser", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--tool-parser-plugin", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--tool-server", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--log-config-file", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--max-log-len", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--disable-fastapi-docs", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--enable-prompt-tokens-details", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--enable-server-load-tracking", kind: kBoolOpt, def: "False", group: "Frontend", help: "Track server load for the /load endpoint."},
	{name: "--enable-force-include-usage", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--enable-tokenizer-info-endpoint", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--enable-log-outputs", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--enable-log-deltas", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--h11-max-incomplete-event-size", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--h11-max-header-count", kind: kStr, group: "Frontend", unmodelled: true},
	{name: "--log-error-stack", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--tokens-only", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--enable-offline-docs", kind: kBoolOpt, group: "Frontend", unmodelled: true},
	{name: "--model", kind: kStr, def: "Qwen/Qwen3-0.6B", group: "ModelConfig", help: "Name or path of the model; prefer the positional model_tag."},
	{name: "--runner", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--convert", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--tokenizer", kind: kStr, def: "None", group: "ModelConfig", help: "Name or path of the tokenizer; defaults to the model."},
	{name: "--tokenizer-mode", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--trust-remote-code", kind: kBoolOpt, group: "ModelConfig", unmodelled: true},
	{name: "--dtype", kind: kStr, choices: []string{"auto", "half", "float16", "bfloat16", "float", "float32"}, def: "auto", group: "ModelConfig", help: "Data type for model weights and activations."},
	{name: "--seed", kind: kInt, def: "0", group: "ModelConfig", help: "Random seed for reproducibility."},
	{name: "--hf-config-path", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--allowed-local-media-path", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--allowed-media-domains", kind: kStrList, group: "ModelConfig", unmodelled: true},
	{name: "--revision", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--code-revision", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--tokenizer-revision", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--max-model-len", kind: kMaxLen, def: "None", group: "ModelConfig", help: "Model context length; accepts 1k/1K suffixes, -1 or auto fits to memory."},
	{name: "--quantization", short: []string{"-q"}, kind: kStr, def: "None", group: "ModelConfig", help: "Method used to quantize the weights; None means from the checkpoint."},
	{name: "--allow-deprecated-quantization", kind: kBoolOpt, def: "False", group: "ModelConfig", help: "Allow deprecated quantization methods."},
	{name: "--enforce-eager", kind: kBoolOpt, def: "False", group: "ModelConfig", help: "Always use eager-mode PyTorch: disables torch.compile and CUDA graphs."},
	{name: "--enable-return-routed-experts", kind: kBoolOpt, group: "ModelConfig", unmodelled: true},
	{name: "--max-logprobs", kind: kInt, def: "20", group: "ModelConfig", help: "Maximum number of log probabilities to return."},
	{name: "--logprobs-mode", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--disable-sliding-window", kind: kBoolOpt, group: "ModelConfig", unmodelled: true},
	{name: "--disable-cascade-attn", kind: kBoolOpt, group: "ModelConfig", unmodelled: true},
	{name: "--skip-tokenizer-init", kind: kBoolOpt, group: "ModelConfig", unmodelled: true},
	{name: "--enable-prompt-embeds", kind: kBoolOpt, group: "ModelConfig", unmodelled: true},
	{name: "--served-model-name", kind: kStrList, def: "None", group: "ModelConfig", help: "The model name(s) used in the API; the first is used in responses and metrics."},
	{name: "--config-format", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--hf-token", kind: kOptStr, group: "ModelConfig", unmodelled: true},
	{name: "--hf-overrides", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--pooler-config", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--logits-processor-pattern", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--generation-config", kind: kStr, def: "auto", group: "ModelConfig", help: "Folder of the generation config; auto loads it from the model, vllm uses vLLM defaults."},
	{name: "--override-generation-config", kind: kJSON, def: "{}", group: "ModelConfig", help: "Overrides of the generation config as JSON, e.g. '{\"temperature\": 0}'."},
	{name: "--enable-sleep-mode", kind: kBoolOpt, group: "ModelConfig", unmodelled: true},
	{name: "--model-impl", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--override-attention-dtype", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--logits-processors", kind: kStrList, group: "ModelConfig", unmodelled: true},
	{name: "--io-processor-plugin", kind: kStr, group: "ModelConfig", unmodelled: true},
	{name: "--load-format", kind: kStr, def: "auto", group: "LoadConfig", help: "Format of the model weights to load (auto, safetensors, pt, dummy, bitsandbytes, gguf, ...)."},
	{name: "--download-dir", kind: kStr, def: "None", group: "LoadConfig", help: "Directory to download and load the weights."},
	{name: "--safetensors-load-strategy", kind: kStr, group: "LoadConfig", unmodelled: true},
	{name: "--model-loader-extra-config", kind: kStr, group: "LoadConfig", unmodelled: true},
	{name: "--ignore-patterns", kind: kStrList, group: "LoadConfig", unmodelled: true},
	{name: "--use-tqdm-on-load", kind: kBoolOpt, group: "LoadConfig", unmodelled: true},
	{name: "--pt-load-map-location", kind: kStr, group: "LoadConfig", unmodelled: true},
	{name: "--attention-backend", kind: kStr, def: "None", group: "AttentionConfig", help: "Attention backend: FLASHINFER, TRITON_ATTN, FLEX_ATTENTION, FLASH_ATTN or auto."},
	{name: "--reasoning-parser", kind: kStr, group: "StructuredOutputsConfig", unmodelled: true},
	{name: "--reasoning-parser-plugin", kind: kStr, group: "StructuredOutputsConfig", unmodelled: true},
	{name: "--distributed-executor-backend", kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--pipeline-parallel-size", short: []string{"-pp"}, kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--master-addr", kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--master-port", kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--nnodes", short: []string{"-n"}, kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--node-rank", short: []string{"-r"}, kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--tensor-parallel-size", short: []string{"-tp"}, kind: kInt, def: "1", group: "ParallelConfig", help: "Number of tensor parallel groups."},
	{name: "--decode-context-parallel-size", short: []string{"-dcp"}, kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--dcp-kv-cache-interleave-size", kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--cp-kv-cache-interleave-size", kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--prefill-context-parallel-size", short: []string{"-pcp"}, kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--data-parallel-size", short: []string{"-dp"}, kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--data-parallel-rank", short: []string{"-dpn"}, kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--data-parallel-start-rank", short: []string{"-dpr"}, kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--data-parallel-size-local", short: []string{"-dpl"}, kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--data-parallel-address", short: []string{"-dpa"}, kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--data-parallel-rpc-port", short: []string{"-dpp"}, kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--data-parallel-backend", short: []string{"-dpb"}, kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--data-parallel-hybrid-lb", short: []string{"-dph"}, kind: kBoolOpt, group: "ParallelConfig", unmodelled: true},
	{name: "--data-parallel-external-lb", short: []string{"-dpe"}, kind: kBoolOpt, group: "ParallelConfig", unmodelled: true},
	{name: "--enable-expert-parallel", short: []string{"-ep"}, kind: kBoolOpt, group: "ParallelConfig", unmodelled: true},
	{name: "--all2all-backend", kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--enable-dbo", kind: kBoolOpt, group: "ParallelConfig", unmodelled: true},
	{name: "--ubatch-size", kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--dbo-decode-token-threshold", kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--dbo-prefill-token-threshold", kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--disable-nccl-for-dp-synchronization", kind: kBoolOpt, group: "ParallelConfig", unmodelled: true},
	{name: "--enable-eplb", kind: kBoolOpt, group: "ParallelConfig", unmodelled: true},
	{name: "--eplb-config", kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--expert-placement-strategy", kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--max-parallel-loading-workers", kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--ray-workers-use-nsight", kind: kBoolOpt, group: "ParallelConfig", unmodelled: true},
	{name: "--disable-custom-all-reduce", kind: kBoolOpt, group: "ParallelConfig", unmodelled: true},
	{name: "--worker-cls", kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--worker-extension-cls", kind: kStr, group: "ParallelConfig", unmodelled: true},
	{name: "--block-size", kind: kInt, choices: []string{"1", "8", "16", "32", "64", "128", "256"}, def: "None", group: "CacheConfig", help: "Size of a contiguous cache block in tokens; None means 16."},
	{name: "--gpu-memory-utilization", kind: kFloat, def: "0.9", group: "CacheConfig", help: "Fraction of total GPU memory this instance may use (0 < x <= 1)."},
	{name: "--kv-cache-memory-bytes", kind: kHInt, def: "None", group: "CacheConfig", help: "KV cache size in bytes per GPU; overrides --gpu-memory-utilization for KV sizing."},
	{name: "--swap-space", kind: kFloat, def: "4", group: "CacheConfig", help: "Size of the CPU swap space per GPU (GiB)."},
	{name: "--kv-cache-dtype", kind: kStr, choices: []string{"auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_inc", "fp8_ds_mla"}, def: "auto", group: "CacheConfig", help: "Data type for KV cache storage; auto uses the model dtype."},
	{name: "--num-gpu-blocks-override", kind: kStr, group: "CacheConfig", unmodelled: true},
	{name: "--enable-prefix-caching", kind: kBoolOpt, def: "None", group: "CacheConfig", help: "Whether to enable prefix caching; None means on for this model."},
	{name: "--prefix-caching-hash-algo", kind: kStr, choices: []string{"sha256", "sha256_cbor", "xxhash", "xxhash_cbor"}, def: "sha256", group: "CacheConfig", help: "Hash algorithm for prefix caching."},
	{name: "--cpu-offload-gb", kind: kFloat, def: "0", group: "CacheConfig", help: "Space in GiB to offload weights to the CPU."},
	{name: "--calculate-kv-scales", kind: kBoolOpt, def: "False", group: "CacheConfig", help: "[DEPRECATED] Calculate k_scale and v_scale dynamically for fp8 KV."},
	{name: "--kv-sharing-fast-prefill", kind: kBoolOpt, group: "CacheConfig", unmodelled: true},
	{name: "--mamba-cache-dtype", kind: kStr, group: "CacheConfig", unmodelled: true},
	{name: "--mamba-ssm-cache-dtype", kind: kStr, group: "CacheConfig", unmodelled: true},
	{name: "--mamba-block-size", kind: kStr, group: "CacheConfig", unmodelled: true},
	{name: "--mamba-cache-mode", kind: kStr, group: "CacheConfig", unmodelled: true},
	{name: "--kv-offloading-size", kind: kFloat, def: "None", group: "CacheConfig", help: "Size of the KV cache offloading buffer in GiB."},
	{name: "--kv-offloading-backend", kind: kStr, group: "CacheConfig", unmodelled: true},
	{name: "--limit-mm-per-prompt", kind: kStr, group: "MultiModalConfig", unmodelled: true},
	{name: "--enable-mm-embeds", kind: kBoolOpt, group: "MultiModalConfig", unmodelled: true},
	{name: "--media-io-kwargs", kind: kStr, group: "MultiModalConfig", unmodelled: true},
	{name: "--mm-processor-kwargs", kind: kStr, group: "MultiModalConfig", unmodelled: true},
	{name: "--mm-processor-cache-gb", kind: kStr, group: "MultiModalConfig", unmodelled: true},
	{name: "--mm-processor-cache-type", kind: kStr, group: "MultiModalConfig", unmodelled: true},
	{name: "--mm-shm-cache-max-object-size-mb", kind: kStr, group: "MultiModalConfig", unmodelled: true},
	{name: "--mm-encoder-only", kind: kBoolOpt, group: "MultiModalConfig", unmodelled: true},
	{name: "--mm-encoder-tp-mode", kind: kStr, group: "MultiModalConfig", unmodelled: true},
	{name: "--mm-encoder-attn-backend", kind: kStr, group: "MultiModalConfig", unmodelled: true},
	{name: "--interleave-mm-strings", kind: kBoolOpt, group: "MultiModalConfig", unmodelled: true},
	{name: "--skip-mm-profiling", kind: kBoolOpt, group: "MultiModalConfig", unmodelled: true},
	{name: "--video-pruning-rate", kind: kStr, group: "MultiModalConfig", unmodelled: true},
	{name: "--enable-lora", kind: kBoolOpt, group: "LoRAConfig", unmodelled: true},
	{name: "--max-loras", kind: kStr, group: "LoRAConfig", unmodelled: true},
	{name: "--max-lora-rank", kind: kStr, group: "LoRAConfig", unmodelled: true},
	{name: "--lora-dtype", kind: kStr, group: "LoRAConfig", unmodelled: true},
	{name: "--enable-tower-connector-lora", kind: kBoolOpt, group: "LoRAConfig", unmodelled: true},
	{name: "--max-cpu-loras", kind: kStr, group: "LoRAConfig", unmodelled: true},
	{name: "--fully-sharded-loras", kind: kBoolOpt, group: "LoRAConfig", unmodelled: true},
	{name: "--default-mm-loras", kind: kStr, group: "LoRAConfig", unmodelled: true},
	{name: "--show-hidden-metrics-for-version", kind: kStr, group: "ObservabilityConfig", unmodelled: true},
	{name: "--otlp-traces-endpoint", kind: kStr, group: "ObservabilityConfig", unmodelled: true},
	{name: "--collect-detailed-traces", kind: kStrList, group: "ObservabilityConfig", unmodelled: true},
	{name: "--kv-cache-metrics", kind: kBoolOpt, group: "ObservabilityConfig", unmodelled: true},
	{name: "--kv-cache-metrics-sample", kind: kStr, group: "ObservabilityConfig", unmodelled: true},
	{name: "--cudagraph-metrics", kind: kBoolOpt, group: "ObservabilityConfig", unmodelled: true},
	{name: "--enable-layerwise-nvtx-tracing", kind: kBoolOpt, group: "ObservabilityConfig", unmodelled: true},
	{name: "--enable-mfu-metrics", kind: kBoolOpt, group: "ObservabilityConfig", unmodelled: true},
	{name: "--enable-logging-iteration-details", kind: kBoolOpt, group: "ObservabilityConfig", unmodelled: true},
	{name: "--max-num-batched-tokens", kind: kHInt, def: "None", group: "SchedulerConfig", help: "Maximum number of tokens processed in one iteration; accepts 2k/2K suffixes."},
	{name: "--max-num-seqs", kind: kInt, def: "None", group: "SchedulerConfig", help: "Maximum number of sequences processed in one iteration."},
	{name: "--max-num-partial-prefills", kind: kInt, def: "1", group: "SchedulerConfig", help: "Maximum number of sequences that can be partially prefilled concurrently."},
	{name: "--max-long-partial-prefills", kind: kInt, def: "1", group: "SchedulerConfig", help: "Maximum number of long prompts prefilled concurrently."},
	{name: "--long-prefill-token-threshold", kind: kInt, def: "0", group: "SchedulerConfig", help: "A prompt longer than this many tokens counts as long."},
	{name: "--scheduling-policy", kind: kStr, choices: []string{"fcfs", "priority"}, def: "fcfs", group: "SchedulerConfig", help: "The scheduling policy."},
	{name: "--enable-chunked-prefill", kind: kBoolOpt, def: "None", group: "SchedulerConfig", help: "Chunk prefill requests by max_num_batched_tokens."},
	{name: "--disable-chunked-mm-input", kind: kBoolOpt, group: "SchedulerConfig", unmodelled: true},
	{name: "--scheduler-cls", kind: kStr, group: "SchedulerConfig", unmodelled: true},
	{name: "--disable-hybrid-kv-cache-manager", kind: kBoolOpt, group: "SchedulerConfig", unmodelled: true},
	{name: "--async-scheduling", kind: kBoolOpt, def: "None", group: "SchedulerConfig", help: "Overlap CPU scheduling with GPU execution; None means on unless incompatible."},
	{name: "--stream-interval", kind: kInt, def: "1", group: "SchedulerConfig", help: "Send streamed tokens every N tokens; the first and last are always sent at once."},
	{name: "--cudagraph-capture-sizes", kind: kIntList, def: "None", group: "CompilationConfig", help: "Batch sizes to capture CUDA graphs for."},
	{name: "--max-cudagraph-capture-size", kind: kInt, def: "None", group: "CompilationConfig", help: "Largest CUDA graph capture size; the default list is generated up to it."},
	{name: "--speculative-config", kind: kJSON, def: "None", group: "VllmConfig", help: "Speculative decoding configuration as JSON, e.g. '{\"method\":\"ngram\",\"num_speculative_tokens\":4}'."},
	{name: "--kv-transfer-config", kind: kStr, group: "VllmConfig", unmodelled: true},
	{name: "--kv-events-config", kind: kStr, group: "VllmConfig", unmodelled: true},
	{name: "--ec-transfer-config", kind: kStr, group: "VllmConfig", unmodelled: true},
	{name: "--compilation-config", short: []string{"-cc"}, kind: kJSON, def: "{}", group: "VllmConfig", help: "torch.compile and CUDA graph configuration as JSON or dotted keys (-cc.mode 3)."},
	{name: "--attention-config", short: []string{"-ac"}, kind: kJSON, def: "{}", group: "VllmConfig", help: "Attention configuration as JSON or dotted keys (-ac.backend X)."},
	{name: "--additional-config", kind: kStr, group: "VllmConfig", unmodelled: true},
	{name: "--structured-outputs-config", kind: kStr, group: "VllmConfig", unmodelled: true},
	{name: "--profiler-config", kind: kStr, group: "VllmConfig", unmodelled: true},
	{name: "--optimization-level", kind: kStr, def: "2", group: "VllmConfig", help: "0: no compile, no CUDA graphs; 1: compile + PIECEWISE; 2 and 3: FULL_AND_PIECEWISE. -O3 / -O 3 / -O=3."},
	{name: "--disable-log-stats", kind: kStoreTrue, def: "False", group: "options", help: "Disable the periodic statistics log line."},
	{name: "--aggregate-engine-logging", kind: kStoreTrue, group: "options", unmodelled: true},
	{name: "--enable-log-requests", kind: kBoolOpt, def: "False", group: "options", help: "Enable logging requests."},
	{name: "--disable-log-requests", kind: kBoolOpt, def: "True", group: "options", help: "[DEPRECATED] Disable logging requests."},
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
var groupOrder = []string{"options", "Frontend", "ModelConfig", "LoadConfig", "AttentionConfig",
	"StructuredOutputsConfig", "ParallelConfig", "CacheConfig", "MultiModalConfig", "LoRAConfig", "ObservabilityConfig",
	"SchedulerConfig", "CompilationConfig", "KernelConfig", "VllmConfig"}

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
	case kOptStr:
		inv = fmt.Sprintf("%s [%s]", f.name, f.metavar())
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
	if f.unmodelled {
		help = "(accepted by vLLM 0.15.1; the simulator does not model it)"
	}
	if f.kind != kHelp && !f.unmodelled {
		help += " (default: " + f.def + ")"
	}
	if len(inv) <= 20 {
		return fmt.Sprintf("  %-22s%s\n", inv, help)
	}
	return fmt.Sprintf("  %s\n                        %s\n", inv, help)
}

// ServeHelp renders `vllm serve --help[=what]`. "short" gives the grouped overview recent vLLM prints, "all"
// every flag, a group name that group, anything else the flags whose text contains it.
func ServeHelp(what string) string {
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
