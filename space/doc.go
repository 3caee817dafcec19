// Package space is autotune's search space: the `vllm serve` parameters worth tuning for one GPU, one
// vLLM version and one benchmark workload, their exact flag spellings, the conditions under which they
// apply, the rules vLLM enforces between them, and space files that change all of this.
//
// Every flag, value and rule comes from docs/vllm.md (cited as §N) and docs/t4-calibration.md (cited as
// "cal §N"), never from memory.
//
// # Using it
//
//	sp, err := space.Default(platform, runner.DefaultWorkload())  // or space.Load("space.yaml", ...)
//	cfg, err := sp.Sample(trial)                                  // *goptuna.Trial is a Suggester
//	internal, err := sp.Encode(sp.KnownGood()[0].Params)          // for study.EnqueueTrial
//	d := sp.Describe()                                            // for `autotune space`
//
// A Config's Args are the tuned flags only; the runner adds the model, --host and --port.
//
// # Parameters
//
// Names are goptuna parameter names, stored in study databases: they are never renamed. Most parameters
// are categorical and include the choice "default", meaning "flag omitted, vLLM decides". The baseline
// (every parameter at "default", no flags) is then a point of the space that TPE learns from, and
// numeric levels are log-spaced or taken from the calibration notes rather than drawn from wide ranges
// that a 40-trial budget cannot cover. Levels derived from the workload use its concurrency C, input
// length I and output length O (50, 512, 512 for the scored benchmark).
//
//	name                    flag                                   domain (C=50, I=O=512, T4)          applies when
//	model                   positional + --served-model-name       default | <space-file variants>     -
//	quantization            --quantization                         default | fp8 | bitsandbytes         model = default
//	dtype                   --dtype                                default | float16 | bfloat16         -
//	speculative             --speculative-config (compact JSON)    default | ngram | ngram_gpu | suffix -
//	num_speculative_tokens  (speculative-config key)               int [2, 8]                           speculative in {ngram, ngram_gpu}
//	prompt_lookup_min       (speculative-config key)               int [1, 5]                           speculative in {ngram, ngram_gpu}
//	prompt_lookup_max       (speculative-config key)               int [1, 5]                           speculative in {ngram, ngram_gpu}
//	max_num_seqs            --max-num-seqs                         default | C, ⌈C⌉₈, 2^k ≥ C, 2^(k+1)   -
//	max_num_batched_tokens  --max-num-batched-tokens               default | 2^k from 1024, C×I         -
//	max_model_len           --max-model-len                        default | I+O, 2^k up to 4096        -
//	gpu_memory_utilization  --gpu-memory-utilization               default | 0.8 | 0.95                 -
//	block_size              --block-size                           default | 32 | 64                    -
//	kv_cache_dtype          --kv-cache-dtype                       default | fp8 | fp8_e4m3 | fp8_e5m2  -
//	attention_backend       --attention-backend (env before 0.15)  default | FLASH_ATTN | FLASHINFER | TRITON_ATTN | FLEX_ATTENTION
//	optimization            --optimization-level N | --enforce-eager   default | O1 | eager             -
//	cudagraph_capture       --cudagraph-capture-sizes … | --max-cudagraph-capture-size N (--cuda-graph-sizes before 0.13)
//	                                                               default | max:N | upto:C | default+C optimization ≠ eager, speculative = default
//	async_scheduling        --async-scheduling | --no-async-scheduling  default | on | off              speculative in {default, ngram_gpu}
//	prefix_caching          --no-enable-prefix-caching             default | off                        -
//	stream_interval         --stream-interval                      default | 2 | 4 | 8 | 16             -
//	performance_mode        --performance-mode                     default | throughput | interactivity -
//
// Why these levels: max_num_seqs starts at C because fewer slots than clients only queue requests (§16.5
// proposes 50, 56, 64, 128, 256). The token budget stops at one full prefill wave C×I (25,600, the
// contest winner's value, cal §3.1): all C requests of a wave arrive together (§16.4), so a larger budget
// changes nothing. max_model_len starts at exactly I+O (a request must fit, §13.7; the winner ran 1024).
// gpu-memory-utilization is a startup-safety knob here, not a throughput knob (§16.4). Capture sizes:
// max:N caps vLLM's ladder (1, 2, 4, every 8 below 256, every 16 above, §6.3) at a ladder size that
// still holds a decode batch of C; upto:C is the explicit list 1, 2, 4, 8, …, C (the winner's +13%,
// cal §5); default+C is vLLM's own ladder with C added, so that a batch of 50 is no longer padded to 56.
// Explicit lists are rendered as one argv element per size (argparse nargs="+", "list of int" in §2.3);
// sizes above max_num_batched_tokens are left out, as vLLM itself does (§6.3).
//
// Conditional parameters are drawn only when they apply: the n-gram knobs only for an n-gram method;
// capture sizes neither in eager mode (no graphs at all, §2.3 --enforce-eager) nor with speculative
// decoding, where a decode step is C×(1+k) tokens and vLLM's default maximum already scales with 1+k
// (§6.3, §7); async scheduling not with ngram or suffix speculation, which vLLM refuses to force (§7).
// quantization applies to the study's own unquantized checkpoint only: a variant brings its own.
//
// # Constraints
//
// goptuna needs one fixed domain per parameter name, so limits that depend on other parameters are kept
// by domains, conditions or repair, never by domains that change from trial to trial. Repaired values are
// what Config.Params records. Check and Validate return the message vLLM would print (see Rules):
//
//   - max_num_batched_tokens >= max_num_seqs: "max_num_batched_tokens (A) must be greater than or equal
//     to max_num_seqs (B)." (§10.1). Repair: the budget is raised to max_num_seqs.
//   - with --no-enable-chunked-prefill, max_num_batched_tokens >= max_model_len (§10.1). Repair.
//   - with LoRA and speculative decoding, max_num_batched_tokens >= max_num_seqs×(k+1): "Consider
//     increasing max_num_batched_tokens or decreasing num_speculative_tokens" (§7). Repair.
//   - max_model_len >= I+O, or every request fails with "This model's maximum context length is N
//     tokens…" (§13.7); and <= the model's own length (§10.1). Domain.
//   - prompt_lookup_min <= prompt_lookup_max: "prompt_lookup_min=… must be <= prompt_lookup_max=…" (§7).
//     Repair: min is lowered to max.
//   - speculative decoding (ngram, suffix) with --async-scheduling: "Currently, async scheduling is only
//     supported with EAGLE/MTP/Draft Model/NGram GPU kind of speculative decoding" (§7). Condition: async
//     scheduling is left to vLLM, which turns it off itself.
//   - capture sizes <= max_num_batched_tokens (§6.3); never both --cudagraph-capture-sizes and
//     --max-cudagraph-capture-size (upstream raises "customized max_cudagraph_capture_size(=X) should be
//     consistent with the max value of cudagraph_capture_sizes(=Y)"). Render.
//   - --enforce-eager disables CUDA graphs ("Enforce eager set, disabling torch.compile and CUDAGraphs",
//     §2.3): capture sizes are not drawn. Condition.
//   - everything refused by this GPU or version (below) never enters the space. Pruning.
//
// # GPU and version awareness
//
// Default(platform, workload) drops what this platform cannot take, each with a Dropped reason. A value is
// judged by rendering it alone and running the rules that hold for one value (rules.go, those enforced by
// "pruning" or "domain"), so each platform fact is written once, in its rule; only vLLM's defaults (values
// that would change nothing) and autotune's own memory and spelling limits have tables of their own
// (redundantReason, wasteReason). What is dropped:
// bfloat16 below compute capability 8.0 (§4); FLASH_ATTN below 8.0 ("FA2 is only supported on devices
// with compute capability >= 8", §9.1); FLASHINFER on sm75 from 0.24 (PR #45375, §9.2); fp8 KV caches
// below sm89 (fp8e4nv, no gain on this workload, §8); quantization methods above the GPU's capability
// (§3.1) and methods that need a pre-quantized checkpoint (§3.2); suffix decoding without the
// arctic-inference package (§7); values vLLM's defaults already give (FLASHINFER on a T4 with 0.15, the
// GPU's own batch defaults of §5, async scheduling on); gpu-memory-utilization levels that leave less
// memory outside the budget than vLLM's CUDA graphs take there (cal §9.3); and flags this vLLM does not
// have. Flags are looked up in Platform.ServeFlags (the `vllm serve --help=all` text) when the probe read
// it, else in a version table built from the dated changes of §1.2/§2.4, conservatively: a change counts
// from the first release the reference shows to contain it. Renamed options are translated:
// --cuda-graph-sizes before 0.13 (PR #30396), VLLM_ATTENTION_BACKEND before 0.15 (PR #32812). An
// unknown version is taken to be 0.15.1, the pinned contest version, and said so in Describe's notes.
//
// # Space files
//
// A space file (--space FILE) is YAML or JSON (JSON is read by the same YAML parser, go.yaml.in/yaml/v3,
// which keeps line numbers for errors). Top-level keys: params, env, models. Errors name the file and
// the field path, e.g. `space.yaml: params.max_num_seqs.choices[2]: "x" is not an integer`.
//
//	params:
//	  max_num_seqs:                # edit a built-in parameter
//	    choices: [default, 50, 64] # replace its choices ("default" = flag omitted)
//	  num_speculative_tokens:
//	    low: 2                     # change a numeric range
//	    high: 6
//	  gpu_memory_utilization:
//	    fix: 0.9                   # fix a value: not searched, rendered in every config, baseline included
//	  stream_interval:
//	    drop: true                 # leave the parameter out (vLLM's default)
//	  disable_log_stats:           # add a parameter: flag or env, and a domain
//	    flag: --disable-log-stats
//	    render: switch             # value (default): --flag V; switch: on -> --flag, off -> --no-flag;
//	    choices: [default, "on"]   # list: --flag V1 V2 …; json: --flag '<compact JSON>'
//	  sampler:
//	    env: VLLM_USE_FLASHINFER_SAMPLER
//	    choices: [default, "0"]
//	    when: {attention_backend: [default]}   # condition on parameters defined before it
//	  max_tokens_scale:
//	    flag: --some-int-flag
//	    type: int                  # categorical (default) | int | step_int | float | discrete_float | log_float
//	    low: 1
//	    high: 8
//	env:                           # environment of every server, baseline included
//	  VLLM_CACHE_ROOT: /content/drive/vllm-cache
//	models:                        # model variants: the categorical parameter "model"
//	  awq:
//	    model: Qwen/Qwen2.5-0.5B-Instruct-AWQ
//	    args: [--quantization, awq_marlin]
//	    env: {}
//
// A variant is served as `vllm serve <model> --served-model-name <study model> <args>`, so the
// benchmark still finds it (§2.3). Fixed values that this platform cannot take are errors; searched
// values it cannot take are dropped with their reason, like built-in ones. See examples/space.yaml.
//
// # Known-good points
//
// KnownGood returns starting points from the calibration notes, labelled "known-good: <source>": the
// seed guide's server config, the contest winner's stock-flag steps 1 and 2 (max-num-seqs = C, token
// budget C×I, max-model-len I+O, capture list up to C, block size 32; cal §3.1), and suffix decoding
// (cal §3.2) where arctic-inference is installed. Encode turns one into goptuna's internal representation
// for Study.EnqueueTrial: categorical values become choice indices, numbers stay numbers (goptuna keeps
// log-uniform values unlogged); goptuna then replays them as fixed parameters, and Sample returns
// exactly that config.
package space
