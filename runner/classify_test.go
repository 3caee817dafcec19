package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The texts are vLLM's own, from docs/vllm.md (section in the comment), with the prefixes vLLM logs.
func TestClassifyStartup(t *testing.T) {
	const ec = "(EngineCore_DP0 pid=812) "
	cases := []struct {
		log  string
		exit int
		want Class
	}{
		// §2.1 argparse, exit 2
		{"usage: vllm serve [model_tag] [options]\nvllm: error: unrecognized arguments: --num-scheduler-steps 8", 2, InvalidFlag},
		{"vllm serve: error: argument --dtype: invalid choice: 'bf8' (choose from auto, half, float16, bfloat16, float, float32)", 2, InvalidFlag},
		{"vllm serve: error: ambiguous option: --max could match --max-model-len, --max-num-seqs", 2, InvalidFlag},
		{"vllm: error: unrecognized arguments: --foo", 1, StartupCrash}, // not argparse's exit status
		{"usage: vllm serve\nsome other exit 2", 2, StartupCrash},
		// §10.1 scheduler / field validation
		{ec + "ValueError: max_num_batched_tokens (1024) is smaller than max_model_len (2048). This effectively limits the maximum sequence length to max_num_batched_tokens and makes vLLM reject longer sequences. Please increase max_num_batched_tokens or decrease max_model_len.", 1, ConfigRefused},
		{"pydantic_core._pydantic_core.ValidationError: 1 validation error for SchedulerConfig\n  Value error, max_num_batched_tokens (32) must be greater than or equal to max_num_seqs (64). [type=value_error]", 1, ConfigRefused},
		{"pydantic_core._pydantic_core.ValidationError: 1 validation error for CacheConfig\ngpu_memory_utilization\n  Input should be less than or equal to 1 [type=less_than_equal]", 1, ConfigRefused},
		{"ValueError: User-specified max_model_len (65536) is greater than the derived max_model_len (max_position_embeddings=32768 in model's config.json). To allow overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1.", 1, ConfigRefused},
		{"NotImplementedError: Concurrent Partial Prefill is not supported. We recommend to remove Concurrent Partial Prefill from your config.", 1, ConfigRefused},
		{"ValueError: Cannot find the config file for awq", 1, ConfigRefused},
		{"ValueError: Quantization method specified in the model config (awq) does not match the quantization method specified in the `quantization` argument (gptq).", 1, ConfigRefused},
		{"ValueError: Unknown quantization method: int3. Must be one of ['awq', 'fp8', ...].", 1, ConfigRefused},
		{"ValueError: torch.float32 is not supported for quantization method awq. Supported dtypes: [torch.float16]", 1, ConfigRefused},
		{"ValueError: Currently, async scheduling is only supported with EAGLE/MTP kind of speculative decoding.", 1, ConfigRefused}, // 0.15 wording
		{"ValueError: prompt_lookup_min=4 must be <= prompt_lookup_max=2", 1, ConfigRefused},
		{"ValueError: attention_backend and attention_config.backend are mutually exclusive", 1, ConfigRefused}, // 0.15 arg_utils.py
		{"ValueError: Consider increasing max_num_batched_tokens or decreasing num_speculative_tokens", 1, ConfigRefused},
		// §4, §3.1, §9, §6.2, §8, §7, §16.2: this GPU or install cannot
		{ec + "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your Tesla T4 GPU has compute capability 7.5. You can use float16 instead by explicitly setting the `dtype` flag in CLI, for example: --dtype=half.", 1, UnsupportedOnGPU},
		{"ValueError: The quantization method modelopt is not supported for the current GPU. Minimum capability: 89. Current capability: 75.", 1, UnsupportedOnGPU},
		{"ValueError: No valid attention backend found for cuda with head_size=64, dtype=torch.float16. Reasons: {...}", 1, UnsupportedOnGPU},
		{"ValueError: Selected backend AttentionBackendEnum.FLASH_ATTN is not valid for this configuration. Reason: ['compute capability not supported']", 1, UnsupportedOnGPU},
		{"ValueError: CUDAGraphMode.FULL is not supported with FlexAttentionBackend backend; please try cudagraph_mode=PIECEWISE, and make sure compilation mode is VLLM_COMPILE", 1, UnsupportedOnGPU},
		{ec + "triton.compiler.errors.CompilationError: type fp8e4nv not supported in this architecture", 1, UnsupportedOnGPU},
		{"ImportError: Arctic Inference is required for suffix decoding. Install via `pip install arctic-inference==0.1.1`.", 1, UnsupportedOnGPU},
		{ec + "RuntimeError: CUDA error: invalid argument", 1, UnsupportedOnGPU},
		// memory
		{ec + "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 14.56 GiB", 1, OutOfMemory},
		{ec + "RuntimeError: CUDA error: out of memory", 1, OutOfMemory},
		{ec + "ValueError: Free memory on device cuda:0 (13.1/14.56 GiB) on startup is less than desired GPU memory utilization (0.98, 14.27 GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.", 1, OutOfMemory},
		{ec + "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.", 1, KVCacheTooSmall},
		{ec + "ValueError: To serve at least one request with the models's max seq len (32768), (0.38 GiB KV cache is needed, which is larger than the available KV cache memory (0.20 GiB).", 1, KVCacheTooSmall}, // 0.15.1's spelling
		{ec + "ValueError: To serve at least one request with the model's max seq len (32768), (0.38 GiB KV cache is needed, which is larger than the available KV cache memory (0.20 GiB). Based on the available memory, the estimated maximum model length is 17000. Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.", 1, KVCacheTooSmall},
		{ec + "ValueError: Cannot auto-fit max_model_len: not enough GPU memory available to serve even a single token.", 1, KVCacheTooSmall},
		// not the config's fault
		{"ImportError: libcudart.so.13: cannot open shared object file: No such file or directory", 1, PlatformUnusable},
		{ec + "RuntimeError: CUDA error: no kernel image is available for execution on the device", 1, PlatformUnusable},
		{"OSError: [Errno 98] Address already in use", 1, Harness},
		{ec + "AssertionError: Error in memory profiling. Initial free memory 14.2 GiB, current free memory 14.4 GiB. This happens when other processes sharing the same container release GPU memory while vLLM is profiling during initialization.", 1, Harness},
		// warnings are not evidence; the generic engine failure is no known cause
		{"WARNING 05-19 10:15:02 [compilation.py:1400] CUDAGraphMode.FULL is not supported with FlexAttentionBackend backend; setting cudagraph_mode=PIECEWISE\n" +
			ec + "ERROR EngineCore failed to start.\nRuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {'EngineCore_DP0': 1}", 1, StartupCrash},
		{"WARNING 05-19 10:15:02 [x.py:1] lowering utilization to avoid out of memory\nKilled", -1, StartupCrash},
		// INFO/DEBUG records that mention memory are not evidence (gpu_worker.py logs the free-memory numbers at INFO).
		{ec + "INFO 01-29 10:15:02 [gpu_worker.py:490] Free memory on device (14.2/14.56 GiB) on startup. Desired GPU memory utilization is (0.9, 13.1 GiB).\nKilled", -1, StartupCrash},
		{"DEBUG 01-29 10:15:02 [utils.py:1] retrying after out of memory in a probe\nKilled", -1, StartupCrash},
		// Python warnings (path:line: XxxWarning: ...) are not evidence either.
		{"/usr/lib/python3/dist-packages/torch/cuda/__init__.py:129: UserWarning: CUDA initialization: out of memory in a probe\nKilled", -1, StartupCrash},
		// The model cannot be fetched: the harness's side, whatever the config.
		{"huggingface_hub.errors.OfflineModeIsEnabled: Cannot reach https://huggingface.co/api/models/Qwen/Qwen2.5-0.5B: offline mode is enabled. To disable it, please unset the `HF_HUB_OFFLINE` environment variable.", 1, Harness},
		{"OSError: We couldn't connect to 'https://huggingface.co' to load this file", 1, Harness},
		{"Cannot access gated repo for url https://huggingface.co/meta-llama/Llama-3.2-1B-Instruct/resolve/main/config.json.", 1, Harness},
		{"ValueError: Invalid repository ID or local directory specified: 'Qwen/Qwen2.5-0.5B-Instrukt'.", 1, Harness},
		{"huggingface_hub.errors.RepositoryNotFoundError: 401 Client Error. (Request ID: Root=1-68a1df1f)\n\nRepository Not Found for url: https://huggingface.co/api/models/Qwen/Qwen2.5-0.5B-Instrukt/revision/main.", 1, Harness},
		{"huggingface_hub.utils._errors.RepositoryNotFoundError: 404 Client Error. (Request ID: Root=1-65a1)", 1, Harness},
		// vLLM probes optional files and logs a missing repo at DEBUG; the message's own lines carry no prefix.
		{"DEBUG 08-17 06:54:50 [repo_utils.py:243] File or repository not found in hf_hub_download: 404 Client Error. (Request ID: Root=1-68a1)\n\nRepository Not Found for url: https://huggingface.co/Qwen/Qwen2.5-0.5B/resolve/main/preprocessor_config.json.\nKilled", -1, StartupCrash},
		// Quantized-linear kernels that do not run on this GPU (a T4 is 7.5).
		{ec + "ValueError: Failed to find a kernel that can implement the WNA16 linear layer. Reasons: \n MacheteLinearKernel cannot implement due to: requires capability 90, current compute capability is 75", 1, UnsupportedOnGPU},
		{ec + "ValueError: Failed to find a kernel that can implement the ScaledMM linear layer. Reasons: \nCutlassScaledMMLinearKernel requires capability 75, current compute capability is 70", 1, UnsupportedOnGPU},
		{"ValueError: Marlin does not support weight_bits = uint4b8. Only types = [] are supported (for group_size = 128, device_capability = 70, zp = False).", 1, UnsupportedOnGPU},
		// A non-empty list is the checkpoint's type, not the GPU: no rule of this GPU's.
		{"ValueError: Marlin does not support weight_bits = uint8. Only types = [uint4] are supported (for group_size = 128, device_capability = 86, zp = True).", 1, StartupCrash},
		// vLLM's own extension built against another torch; the same ImportError at WARNING is vLLM tolerating it.
		{"ImportError: /usr/local/lib/python3.12/dist-packages/vllm/_C.abi3.so: undefined symbol: _ZN3c104cuda9SetDeviceEi", 1, PlatformUnusable},
		{"WARNING 06-13 11:42:20 _custom_ops.py:11] Failed to import from vllm._C with ImportError('/usr/local/lib/python3.8/dist-packages/vllm/_C.abi3.so: undefined symbol: _ZN5torch7LibraryC1E')\nKilled", -1, StartupCrash},
		{"ERROR:    [Errno 98] error while attempting to bind on address ('0.0.0.0', 8000): [errno 98] address already in use", 1, Harness},
		{"RuntimeError: Triton Error [CUDA]: device kernel image is invalid", 1, PlatformUnusable},
		{"ValueError: Loading /models/Phi-3-small-128k-instruct requires you to execute the configuration file in that repo on your local machine. Make sure you have read the code there to avoid malicious use, then set the option `trust_remote_code=True` to remove this error.", 1, ConfigRefused},
		{"ValueError: The repository /models/InternVL3-1B contains custom code which must be executed to correctly load the model.", 1, ConfigRefused},
		// Config checks found in the held-out batch.
		{"ValueError: Total number of attention heads (14) must be divisible by tensor parallel size (4).", 1, ConfigRefused},
		{"  Value error, Total number of attention heads (14) must be divisible by tensor parallel size (4). [type=value_error, input_value=ArgsKwargs((), {...}), input_type=ArgsKwargs]", 1, ConfigRefused},
		{"  Value error, something new that vLLM's config refuses [type=value_error]", 1, ConfigRefused},
		{"AssertionError: Invalid kv_cache_dtype: fp16. Valid values are: ('auto', 'bfloat16', 'fp8')", 1, ConfigRefused},
		{"ValueError: Model architectures ['EagleQwen2ForCausalLM'] are not supported for now. Supported architectures: dict_keys([...])", 1, ConfigRefused},
		{"ValueError: XFormers does not support attention logits soft capping.", 1, UnsupportedOnGPU},
		// From 2025-10 the --model text is a warning, and vLLM goes on.
		{"(APIServer pid=1) WARNING 10-20 03:21:02 [argparse_utils.py:191] With `vllm serve`, you should provide the model as a positional argument or in a config file instead of via the `--model` option.\nKilled", -1, StartupCrash},
		{"[2025-03-10T15:07:20Z] INFO 03-10 08:07:20 [worker.py:1] no out of memory so far\nKilled", -1, StartupCrash},
		{"vllm-1  | WARN 11-18 18:07:28 worker.py:1] out of memory is likely\nKilled", -1, StartupCrash},
	}
	for _, c := range cases {
		got, line := ClassifyStartup([]byte(c.log), c.exit)
		if (line == "") != (got == StartupCrash) || !strings.Contains(c.log, line) {
			t.Errorf("evidence %q for %q is not a line of the log", line, got)
		}
		if got != c.want {
			t.Errorf("ClassifyStartup(exit %d, %q) = %q (line %q), want %q", c.exit, clip(c.log, 80), got, line, c.want)
		}
	}
}

// vLLM's free-memory check names the free and the total memory; memory held beyond what its own process takes
// is another process's, which is not the config's fault.
func TestFreeMemoryFault(t *testing.T) {
	const tail = " on startup is less than desired GPU memory utilization (0.9, 13.1 GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes."
	for _, c := range []struct {
		line string
		want Class
	}{
		{"ValueError: Free memory on device cuda:0 (13.1/14.56 GiB)" + tail, OutOfMemory},                                   // a T4 with its own context
		{"ValueError: Free memory on device (19.77/22.05 GiB)" + tail, OutOfMemory},                                         // 10% taken at init (torch 2.11 CI)
		{"ValueError: Free memory on device (3.22/4.0 GiB)" + tail, OutOfMemory},                                            // 0.8 GiB on a 4 GiB card: under 1 GiB
		{"ValueError: Free memory on device cuda:0 (8.12/14.56 GiB)" + tail, Harness},                                       // a left-over server's 6 GiB
		{"ValueError: Free memory on device xpu:0 (0.22/30.3 GiB)" + tail, Harness},                                         // the GPU is someone else's
		{"ValueError: Free memory on device (59.32/79.15 GiB)" + tail, Harness},                                             // 25% held
		{"ValueError: Free memory on device (garbled) on startup is less than desired GPU memory utilization", OutOfMemory}, // no numbers: the config's
	} {
		got, line := ClassifyStartup([]byte(c.line), 1)
		if got != c.want || line == "" {
			t.Errorf("%q: got %q, want %q", c.line[:60], got, c.want)
		}
	}
	rl, _, _ := classify([]byte("ValueError: Free memory on device (0.49/79.32 GiB)"+tail), 1, startupRules)
	if rl.class != Harness || !strings.Contains(rl.why, "78.8 of 79.3 GiB") {
		t.Errorf("got %q, why %q", rl.class, rl.why)
	}
}

// The most specific rule wins over a generic one that wraps it, whatever the line order.
func TestClassifyPriority(t *testing.T) {
	log := "pydantic_core._pydantic_core.ValidationError: 1 validation error for VllmConfig\n" +
		"  Value error, Bfloat16 is only supported on GPUs with compute capability of at least 8.0."
	if rl, _, _ := classify([]byte(log), 1, startupRules); rl.class != UnsupportedOnGPU {
		t.Errorf("got %q", rl.class)
	}
	log = "RuntimeError: CUDA error: out of memory\nRuntimeError: CUDA error: invalid argument"
	if rl, _, _ := classify([]byte(log), 1, startupRules); rl.class != OutOfMemory {
		t.Errorf("got %q", rl.class)
	}
}

func TestClassifyBenchCrash(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "server.log")
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	v := crashVerdict("x", write("INFO ok\n(EngineCore_DP0 pid=1) ERROR EngineCore encountered a fatal error.\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB\n"))
	if v.class != OutOfMemory || !strings.Contains(v.evidence, "CUDA out of memory") {
		t.Errorf("%+v", v)
	}
	v = crashVerdict("x", write("INFO ok\nvllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue.\n"))
	if v.class != CrashedDuringBenchmark || !strings.Contains(v.evidence, "EngineDeadError") {
		t.Errorf("%+v", v)
	}
}

func TestLogTail(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "server.log")
	var b strings.Builder
	b.WriteString("ValueError: the cause, far up\n")
	for i := 0; i < 5000; i++ {
		b.WriteString("INFO a line of the server log that goes on for a while\n")
	}
	os.WriteFile(p, []byte(b.String()), 0o644)
	tail := logTail(p, "ValueError: the cause, far up")
	lines := strings.Split(tail, "\n")
	if !strings.Contains(lines[0], "ValueError: the cause, far up") {
		t.Errorf("first line %q does not hold the evidence", lines[0])
	}
	if len(lines) > tailLines+2 || len(tail) > tailBytes+1200 {
		t.Errorf("tail of %d lines / %d bytes", len(lines), len(tail))
	}
	if !strings.HasSuffix(tail, "goes on for a while") {
		t.Errorf("tail does not end with the log's end: %q", tail[len(tail)-40:])
	}
	// Evidence already in the tail is not repeated.
	if tail := logTail(p, "INFO a line of the server log that goes on for a while"); strings.Contains(tail, "[matched") {
		t.Errorf("evidence repeated: %q", tail[:80])
	}
}

// Every rule says where vLLM (or the layer below it) prints its text and for which versions, so that a rule can
// be checked against the source when vLLM changes.
func TestEveryRuleHasASource(t *testing.T) {
	for _, table := range [][]rule{startupRules, benchCrashRules, benchFailRules} {
		for _, r := range table {
			if r.src == "" || r.why == "" || (r.frag == "" && r.re == nil) {
				t.Errorf("rule %q (%s): needs a fragment, a why and a src", r.frag, r.class)
			}
		}
	}
}
