package space

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/autotune/autotune/runner"
)

// The space derives levels from the benchmark's workload (a capture list containing the concurrency, a token
// budget of one full prefill wave, a max-model-len that fits a request), so runner.Workload is an input rather
// than a constant. Of it the space reads Model (the model `vllm bench serve --model` requests; a variant is
// served under it), MaxConcurrency, InputLen, OutputLen and ModelMaxLen (§16.4), and only these: workloadKey.

// workloadKey is the part of the workload the space depends on, under the JSON keys the space has always
// recorded (Space.JSON) and hashed (Space.Fingerprint): renaming a key would change every stored study's
// fingerprint.
type workloadKey struct {
	Model       string `json:"model"`
	Concurrency int    `json:"concurrency"`
	InputLen    int    `json:"input_len"`
	OutputLen   int    `json:"output_len"`
	ModelMaxLen int    `json:"model_max_len"`
}

func keyOf(w runner.Workload) workloadKey {
	return workloadKey{Model: w.Model, Concurrency: w.MaxConcurrency, InputLen: w.InputLen, OutputLen: w.OutputLen,
		ModelMaxLen: w.ModelMaxLen}
}

func checkWorkload(w runner.Workload) error {
	var errs []error
	if w.MaxConcurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency %d must be >= 1", w.MaxConcurrency))
	}
	if w.InputLen < 1 {
		errs = append(errs, fmt.Errorf("input length %d must be >= 1", w.InputLen))
	}
	if w.OutputLen < 1 {
		errs = append(errs, fmt.Errorf("output length %d must be >= 1", w.OutputLen))
	}
	if w.ModelMaxLen < 0 {
		errs = append(errs, fmt.Errorf("model max length %d must be >= 0", w.ModelMaxLen))
	} else if w.ModelMaxLen > 0 && w.ModelMaxLen < w.InputLen+w.OutputLen {
		errs = append(errs, fmt.Errorf("a request of %d+%d tokens does not fit the model's maximum length %d", w.InputLen, w.OutputLen, w.ModelMaxLen))
	}
	if len(errs) > 0 {
		return fmt.Errorf("space: workload: %w", errors.Join(errs...))
	}
	return nil
}

// reqLen is the length of one benchmark request: max-model-len may never be below it (§13.7).
func reqLen(w runner.Workload) int { return w.InputLen + w.OutputLen }

// Default returns the search space for this platform and workload: the built-in parameters, with every
// value this GPU or this vLLM cannot take left out (see Describe for what and why).
func Default(p Platform, w runner.Workload) (*Space, error) {
	return build(p, w, nil, "")
}

// builtinParams are the parameters of the default space, in sampling order: a parameter's condition only
// refers to parameters before it. Names are goptuna parameter names: never rename one.
func builtinParams(w runner.Workload) []*param {
	c := w.MaxConcurrency
	return []*param{
		{
			Name: "model", Render: renderModel, Domain: cat("default"), Default: "default",
			Help:   "model variant from a space file, served under the study's model name",
			Source: "§2.3 --served-model-name", check: anyValue,
		},
		{
			Name: "quantization", Flag: "--quantization", Render: renderValue,
			Domain: cat("default", "fp8", "bitsandbytes"), Default: "default",
			When:   []Cond{{Param: "model", In: []string{"default"}}},
			Help:   "online quantization of the unquantized checkpoint: fp8 = weight-only FP8 via Marlin below sm89, bitsandbytes = in-flight 4-bit",
			Source: "§3.1, §3.2", check: checkQuantization,
		},
		{
			Name: "dtype", Flag: "--dtype", Render: renderValue,
			Domain: cat("default", "float16", "bfloat16"), Default: "default",
			Help: "model dtype; the default (auto) takes the checkpoint's bf16 where the GPU has it", Source: "§4",
			check: choiceOf("--dtype"),
		},
		{
			Name: "speculative", Flag: "--speculative-config", Render: renderSpeculative,
			Domain: cat(append([]string{"default"}, specMethods...)...), Default: "default",
			Help:   "model-free speculative decoding (default: none)",
			Source: "§7", check: oneOf(specMethods...),
		},
		{
			Name: "num_speculative_tokens", Render: renderQuiet, Domain: intRange(2, 8),
			When:   []Cond{{Param: "speculative", In: []string{"ngram", "ngram_gpu"}}},
			Help:   "draft tokens per step (speculative-config num_speculative_tokens)",
			Source: "§7, §16.5 (k in 2..8)", check: intIn(1, maxSpeculativeTokens),
		},
		{
			Name: "prompt_lookup_min", Render: renderQuiet, Domain: intRange(1, 5),
			When:   []Cond{{Param: "speculative", In: []string{"ngram", "ngram_gpu"}}},
			Help:   "shortest n-gram matched (repaired to <= prompt_lookup_max)",
			Source: "§7", check: intIn(1, maxPromptLookup),
		},
		{
			Name: "prompt_lookup_max", Render: renderQuiet, Domain: intRange(1, 5),
			When:   []Cond{{Param: "speculative", In: []string{"ngram", "ngram_gpu"}}},
			Help:   "longest n-gram matched (vLLM's own default is 5)",
			Source: "§7", check: intIn(1, maxPromptLookup),
		},
		{
			Name: "max_num_seqs", Flag: "--max-num-seqs", Render: renderValue,
			Domain: cat(append([]string{"default"}, ints(seqsLevels(c))...)...), Default: "default",
			Help:   "scheduler batch limit; levels start at the benchmark concurrency",
			Source: "§5, §16.5", check: intIn(1, maxNumSeqs),
		},
		{
			Name: "max_num_batched_tokens", Flag: "--max-num-batched-tokens", Render: renderValue,
			Domain: cat(append([]string{"default"}, ints(mnbtLevels(c, w.InputLen))...)...), Default: "default",
			Help:   "token budget per step, log-spaced up to one full prefill wave (concurrency x input length)",
			Source: "§5, §16.4", check: intIn(1, maxBatchedTokens),
		},
		{
			Name: "max_model_len", Flag: "--max-model-len", Render: renderValue,
			Domain: cat(append([]string{"default"}, ints(mmlLevels(reqLen(w)))...)...), Default: "default",
			Help:   "context length; never below input+output of the workload",
			Source: "§2.3, §13.7", check: intIn(reqLen(w), maxModelLen),
		},
		{
			Name: "gpu_memory_utilization", Flag: "--gpu-memory-utilization", Render: renderValue,
			Domain: cat("default", "0.8", "0.95"), Default: "default",
			Help:   "fraction of GPU memory for vLLM; a startup-safety knob here, the KV cache is not a limit",
			Source: "§2.3, §16.4, cal §9", check: checkUtil,
		},
		{
			Name: "block_size", Flag: "--block-size", Render: renderValue,
			Domain: cat("default", "32", "64"), Default: "default",
			Help:   "KV block size (default 16); FlashInfer kernels take 16/32/64, Triton multiples of 16",
			Source: "§2.3, §16.5", check: checkBlockSize,
		},
		{
			Name: "kv_cache_dtype", Flag: "--kv-cache-dtype", Render: renderValue,
			Domain: cat("default", "fp8", "fp8_e4m3", "fp8_e5m2"), Default: "default",
			Help: "KV-cache storage dtype", Source: "§2.3, §8",
			check: choiceOf("--kv-cache-dtype"),
		},
		{
			Name: "attention_backend", Flag: "--attention-backend", Env: "VLLM_ATTENTION_BACKEND", Render: renderAttention,
			Domain: cat(append([]string{"default"}, attentionBackends...)...), Default: "default",
			Help:   "attention backend (default: vLLM's priority-list choice)",
			Source: "§9", check: oneOf(attentionBackends...),
		},
		{
			Name: "optimization", Flag: "--optimization-level", Render: renderOptimization,
			Domain: cat("default", "O1", "eager"), Default: "default",
			Help:   "torch.compile / CUDA graphs: default -O2 (FULL_AND_PIECEWISE), O1 (PIECEWISE only), eager (--enforce-eager, no graphs)",
			Source: "§2.3, §6.1, cal §5", check: oneOf(append(optimizationLevels(), "eager")...),
		},
		{
			Name: "cudagraph_capture", Flag: "--cudagraph-capture-sizes", Render: renderCUDAGraph,
			Domain: cat(append([]string{"default"}, captureLevels(c)...)...), Default: "default",
			When: []Cond{
				{Param: "optimization", In: []string{"eager", "O0"}, Not: true},
				{Param: "speculative", In: []string{"default"}},
			},
			Help:   "CUDA-graph capture sizes: max:N caps vLLM's ladder, upto:C lists sizes up to the concurrency, default+C adds it to vLLM's ladder",
			Source: "§6.3, cal §5", check: checkCapture,
		},
		{
			Name: "async_scheduling", Flag: "--async-scheduling", Render: renderSwitch,
			Domain: cat("default", "on", "off"), Default: "default",
			When:   []Cond{{Param: "speculative", In: []string{"default", "ngram_gpu"}}},
			Help:   "asynchronous scheduling; left to vLLM when ngram/suffix speculation is on (forcing it is refused)",
			Source: "§2.3, §7", check: oneOf("on", "off"),
		},
		{
			Name: "prefix_caching", Flag: "--enable-prefix-caching", Render: renderSwitch,
			Domain: cat("default", "off"), Default: "default",
			Help:   "prefix caching (on by default); random prompts never hit, so off only saves hashing",
			Source: "§2.3", check: oneOf("on", "off"),
		},
		{
			Name: "stream_interval", Flag: "--stream-interval", Render: renderValue,
			Domain: cat("default", "2", "4", "8", "16"), Default: "default",
			Help:   "tokens buffered per streamed chunk (default 1); lowers API-server CPU work",
			Source: "§2.3, §16.5", check: intIn(1, maxStreamInterval),
		},
		{
			Name: "performance_mode", Flag: "--performance-mode", Render: renderValue,
			Domain: cat("default", "throughput", "interactivity"), Default: "default",
			Help: "batching preset (default balanced)", Source: "§2.3, §16.5",
			check: choiceOf("--performance-mode"),
		},
	}
}

// specMethods are the model-free speculative methods the space knows, in domain order (§7).
var specMethods = []string{"ngram", "ngram_gpu", "suffix"}

// attentionBackends are the backends the space knows for this model, in vLLM's priority order (§9.1);
// backendReason says where each can run.
var attentionBackends = []string{"FLASH_ATTN", "FLASHINFER", "TRITON_ATTN", "FLEX_ATTENTION"}

// optimizationLevels are the optimization values rendered as --optimization-level N: "O" and each of the
// flag's choices.
func optimizationLevels() []string {
	var out []string
	for _, l := range argChoices["--optimization-level"] {
		for _, v := range l.values {
			out = append(out, "O"+v)
		}
	}
	return out
}

func cat(choices ...string) Domain { return Domain{Kind: Categorical, Choices: choices} }

func intRange(lo, hi int) Domain { return Domain{Kind: Int, Low: float64(lo), High: float64(hi)} }

func ints(ns []int) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strconv.Itoa(n)
	}
	return out
}

func uniqSorted(ns []int) []int {
	sort.Ints(ns)
	out := ns[:0]
	for i, n := range ns {
		if i == 0 || n != ns[i-1] {
			out = append(out, n)
		}
	}
	return out
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}

// seqsLevels: the concurrency itself (one slot per client), rounded up to the next capture size and to
// powers of two, as in §16.5's {50, 56, 64, 128, 256}. Fewer slots than clients would only queue requests.
func seqsLevels(c int) []int {
	return uniqSorted([]int{c, (c + 7) / 8 * 8, nextPow2(c), 2 * nextPow2(c)})
}

// mnbtLevels: log-spaced (powers of two from 1024) up to one full prefill wave, concurrency x input
// length (25,600 for 50 x 512, the contest winner's value, cal §3.1). All 50 requests of a wave arrive at
// once (§16.4), so a larger budget changes nothing.
func mnbtLevels(c, in int) []int {
	wave := c * in
	var out []int
	for p := 1024; p < wave; p *= 2 {
		out = append(out, p)
	}
	return uniqSorted(append(out, wave))
}

// mmlLevels: exactly one request (input+output), then powers of two up to 4096 (the seed guide's value).
func mmlLevels(req int) []int {
	out := []int{req}
	top := 4096
	if 2*req > top {
		top = 2 * req
	}
	for p := nextPow2(req + 1); p <= top; p *= 2 {
		out = append(out, p)
	}
	return uniqSorted(out)
}

// onLadder reports whether n is a size of vLLM's default capture ladder (see ladder).
func onLadder(n int) bool {
	l := ladder(n)
	return len(l) > 0 && l[len(l)-1] == n
}

// ladderCeil is the smallest ladder size >= n.
func ladderCeil(n int) int {
	for !onLadder(n) {
		n++
	}
	return n
}

// captureLevels: caps on vLLM's ladder that still hold a decode batch of the concurrency (a batch larger
// than the largest size runs without graphs, §6.3), a short explicit list ending at the concurrency (the
// contest winner's form, cal §3.1 step 2), and vLLM's own ladder plus the concurrency (§6.3: a batch of 50
// is otherwise padded to 56).
func captureLevels(c int) []string {
	var out []string
	caps := []int{ladderCeil(c)}
	for _, n := range []int{128, 256} {
		if n > caps[0] {
			caps = append(caps, n)
		}
	}
	for _, n := range caps {
		out = append(out, fmt.Sprintf("max:%d", n))
	}
	return append(out, fmt.Sprintf("upto:%d", c), fmt.Sprintf("default+%d", c))
}

// Value checkers, used for values a space file supplies.

func anyValue(string) error { return nil }

func oneOf(vals ...string) func(string) error {
	return func(v string) error {
		if indexOf(vals, v) < 0 {
			return fmt.Errorf("%q is not one of %s", v, strings.Join(vals, ", "))
		}
		return nil
	}
}

// Upper bounds of the integer parameters, for the values a space file may give (choices, fix, low, high). vLLM
// itself sets lower bounds only (pydantic ge=1, reference §10.1) except for the block size; without an upper
// bound a typo or a hostile file starts servers that allocate without limit (num_speculative_tokens 10^15
// made the simulated server grow to 4.4 GB and every benchmark hang). Each bound is far above any useful
// value, and says why.
const (
	// maxSpeculativeTokens: suffix decoding drafts at most its tree depth, 24 by default (§7); n-gram drafts
	// beyond a few dozen tokens are almost never all accepted, and every drafted token is verified every step.
	maxSpeculativeTokens = 64
	// maxPromptLookup: the n-gram length matched in the prompt; vLLM's default is 5 (§7).
	maxPromptLookup = 64
	// maxNumSeqs: vLLM's largest built-in default is 1024 (H100-class GPUs); 16x that.
	maxNumSeqs = 16384
	// maxBatchedTokens and maxModelLen: 2^21 tokens, twice the longest context of today's open models (1M).
	maxBatchedTokens = 1 << 21
	maxModelLen      = 1 << 21
	// maxStreamInterval: tokens per streamed chunk (§2.3); beyond the output length it changes nothing.
	maxStreamInterval = 1 << 16
	// maxBlockSize: vLLM 0.16's --block-size choices end at 256 (§2.3, v0.16.0:vllm/config/cache.py:22).
	maxBlockSize = 256
)

// intIn checks an integer in [min, max]. strconv.Atoi refuses what does not fit an int instead of wrapping.
func intIn(min, max int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("%s is outside the range of a 64-bit integer (the maximum here is %d)", v, max)
		}
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		if n < min {
			return fmt.Errorf("%d is below the minimum %d", n, min)
		}
		if n > max {
			return fmt.Errorf("%d is above the maximum %d", n, max)
		}
		return nil
	}
}

func checkUtil(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", v)
	}
	if !(f > 0 && f <= 1) {
		return fmt.Errorf("%s is outside (0, 1]: vLLM refuses it with \"Input should be less than or equal to 1\" (§10.1)", v)
	}
	return nil
}

func checkBlockSize(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%q is not an integer", v)
	}
	if n > maxBlockSize {
		return fmt.Errorf("%d is above %d, the largest block size vLLM offers (§2.3)", n, maxBlockSize)
	}
	if n < 16 || n%16 != 0 {
		return fmt.Errorf("%d is not a multiple of 16: neither FLASHINFER (16/32/64) nor TRITON_ATTN (multiples of 16) takes it (§2.3, §9.1)", n)
	}
	return nil
}

func checkQuantization(v string) error {
	if _, ok := quantMinCap[v]; !ok {
		return fmt.Errorf("%q is not a quantization method vLLM knows (§3.1): vLLM refuses it with \"Unknown quantization method: %s\"", v, v)
	}
	if !quantOnline[v] {
		return fmt.Errorf("%q needs a pre-quantized checkpoint (vLLM: \"Cannot find the config file for %s\", §3.2); add the checkpoint under models instead", v, v)
	}
	return nil
}

// checkCapture validates a cudagraph_capture value: default, max:N, upto:N, default+N or list:N,N,...
func checkCapture(v string) error {
	_, err := parseCapture(v)
	return err
}

type capture struct {
	kind string // "max", "upto", "default+", "list"
	n    int
	list []int
}

func parseCapture(v string) (capture, error) {
	bad := fmt.Errorf("%q is not a capture level (want max:N, upto:N, default+N or list:N,N,...)", v)
	var c capture
	var rest string
	switch {
	case strings.HasPrefix(v, "max:"):
		c.kind, rest = "max", strings.TrimPrefix(v, "max:")
	case strings.HasPrefix(v, "upto:"):
		c.kind, rest = "upto", strings.TrimPrefix(v, "upto:")
	case strings.HasPrefix(v, "default+"):
		c.kind, rest = "default+", strings.TrimPrefix(v, "default+")
	case strings.HasPrefix(v, "list:"):
		c.kind = "list"
		for _, f := range strings.Split(strings.TrimPrefix(v, "list:"), ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return c, bad
			}
			c.list = append(c.list, n)
		}
		c.list = uniqSorted(c.list)
		return c, nil
	default:
		return c, bad
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 {
		return c, bad
	}
	c.n = n
	return c, nil
}
