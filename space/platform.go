package space

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// This file knows what a GPU and a vLLM version can take. Every entry cites docs/vllm.md (§ numbers)
// or docs/t4-calibration.md ("cal §").

// Version is a vLLM release number. Suffixes (rc1, .dev12+g..., +cu129) are ignored.
type Version struct{ Major, Minor, Patch int }

var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?`)

// ParseVersion reads "0.15.1", "v0.10.2", "0.20.2+cu129", "0.11.0rc1".
func ParseVersion(s string) (Version, error) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, fmt.Errorf("space: %q is not a vLLM version", s)
	}
	var v Version
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, nil
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

func ver(minor int) Version { return Version{0, minor, 0} }

// pinnedVersion is assumed when the probe could not read the version: the contest pin (§1.1).
var pinnedVersion = Version{0, 15, 1}

// A span is the range of versions known to have something: [since, until). The bounds are conservative:
// "since" is the first release that the reference shows to contain the change (a change merged between two
// known releases counts from the later one), so that an uncertain flag is left out rather than costing a
// server start that exits with "unrecognized arguments" (§2.1).
type span struct {
	since, until Version // zero value: no bound
	source       string
}

func (s span) has(v Version) bool {
	if s.since != (Version{}) && v.Less(s.since) {
		return false
	}
	if s.until != (Version{}) && !v.Less(s.until) {
		return false
	}
	return true
}

func (s span) String() string {
	switch {
	case s.since != (Version{}) && s.until != (Version{}):
		return fmt.Sprintf(">= %s and < %s", s.since, s.until)
	case s.since != (Version{}):
		return fmt.Sprintf(">= %s", s.since)
	case s.until != (Version{}):
		return fmt.Sprintf("< %s", s.until)
	}
	return "all versions"
}

// flagSpans lists the flags this package renders whose presence depends on the version. Flags not listed
// here are in every version autotune supports (V1 on a T4 starts with ~0.10.2, §1.1). Used only when the
// help text could not be read (Platform.ServeFlags == nil), as §2.2 recommends.
var flagSpans = map[string]span{
	// PR #26016 (2025-10-24) added these; 0.13 is the first release known to have them, since it removed
	// their predecessor --cuda-graph-sizes (PR #30396, "for v0.13") (§1.2, §6.4).
	"--cudagraph-capture-sizes":    {since: ver(13), source: "§1.2 PR #26016, §6.4"},
	"--max-cudagraph-capture-size": {since: ver(13), source: "§1.2 PR #26016, §6.4"},
	"--cuda-graph-sizes":           {until: ver(13), source: "§1.2 PR #30396 (removed for v0.13)"},
	// PR #26847 (2025-11-27) made -O<n> the optimization level, before PR #30396 of 0.13 (§1.2).
	"--optimization-level": {since: ver(13), source: "§1.2 PR #26847"},
	// PR #27869 (2025-11-14) (§1.2, §2.3).
	"--stream-interval": {since: ver(13), source: "§1.2 PR #27869"},
	// The flag replaces VLLM_ATTENTION_BACKEND, removed by PR #32812 (2026-01-21) in 0.15 (§1.2, §9.1).
	"--attention-backend": {since: ver(15), source: "§1.2 PR #32812, §9.1"},
	// PR #34936 (2026-02-25), after the v0.16.0 branch (2026-02-12): not in 0.15/0.16 (§1.2, §2.3).
	"--performance-mode": {since: ver(17), source: "§1.2 PR #34936"},
}

// envSpans lists environment variables the space may set, by version.
var envSpans = map[string]span{
	// Removed by PR #32812 (2026-01-21); "removed" in 0.15/0.16 (§1.2, §9.1).
	"VLLM_ATTENTION_BACKEND": {until: ver(15), source: "§1.2 PR #32812, §9.1"},
}

// featureSpans lists version-dependent values that no help text shows (JSON values, behaviours).
var featureSpans = map[string]span{
	// PR #25784 (2025-11-03); stated present in 0.15/0.16 (§1.2, §7).
	"spec:suffix": {since: ver(13), source: "§1.2 PR #25784, §7"},
	// PR #29184 (2026-03-08): not in 0.15/0.16 (§1.2, §7).
	"spec:ngram_gpu": {since: ver(17), source: "§1.2 PR #29184, §7"},
	// FlashInfer became a default CUDA dependency with PR #26443 (2025-10-09); T4 auto-selects it from
	// about 0.11.1/0.12 (§1.1). Before that it is there only if the probe found the package.
	"flashinfer-bundled": {since: ver(12), source: "§1.1, §1.2 PR #26443"},
	// PR #45375 (2026-06-12) raised FlashInfer's minimum to SM80: 0.24.0 (§1.1, §9.2).
	"flashinfer-sm75": {until: ver(24), source: "§1.1 (0.24.0), §9.2 PR #45375"},
	// Async scheduling is on by default in 0.15.1 (§2.3 "None, which means enabled unless incompatible";
	// cal §11). For older versions the reference does not say, so --async-scheduling stays a choice.
	"async-default-on": {since: ver(15), source: "§2.3, cal §11"},
	// From v0.21.0 CUDA-graph memory is estimated inside the gpu-memory-utilization budget (§1.1, cal §9.3).
	"graphs-in-budget": {since: ver(21), source: "§1.1, cal §9.3"},
	// gpu-memory-utilization default 0.90 -> 0.92 (PR #38284, 2026-04-21). The first release after that
	// date is not named by the reference; 0.21 (CUDA-graph profiling default, after 2026-04-21) is used.
	"gpu-util-0.92": {since: ver(21), source: "§1.2 PR #38284, §2.3"},
}

// choiceList is one version's argparse choices of a flag.
type choiceList struct {
	span   span // the versions that have this list; the zero span is every version
	values []string
}

// argChoices are the argparse choices of the flags that have them (§2.3): the first list whose span holds
// the version applies, and a flag with no list for a version takes any value there. This is the one list
// per flag: the rule "invalid-choice" checks argv against it, and space-file values are checked against the
// union over versions (choiceOf), so that pruning can leave out what this version does not take.
var argChoices = map[string][]choiceList{
	"--dtype": {{values: []string{"auto", "half", "float16", "bfloat16", "float", "float32"}}}, // §2.3, model.py:89
	"--kv-cache-dtype": {
		// v0.16's list (§2.3). The reference does not say when the longer list came; assume after 0.16.
		{span: span{until: ver(17), source: "§2.3 (v0.16 cache.py)"}, values: []string{"auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_inc", "fp8_ds_mla"}},
		{values: []string{"auto", "float16", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_inc", "fp8_ds_mla", // §2.3, cache.py:18-34
			"turboquant_k8v4", "turboquant_4bit_nc", "turboquant_k3v4_nc", "turboquant_3bit_nc", "int8_per_token_head", "fp8_per_token_head", "nvfp4"}},
	},
	// In 0.16 --block-size has choices; at the reference commit any int parses (§1.1, §2.3). The reference
	// does not say when the choices went; assume they hold through 0.16.
	"--block-size":         {{span: span{until: ver(17), source: "§1.1 (0.16.0), §2.3"}, values: []string{"1", "8", "16", "32", "64", "128", "256"}}},
	"--optimization-level": {{values: []string{"0", "1", "2", "3"}}},                        // §2.3
	"--performance-mode":   {{values: []string{"balanced", "interactivity", "throughput"}}}, // §2.3
	"--scheduling-policy":  {{values: []string{"fcfs", "priority"}}},
}

// choices returns the argparse choices of a flag in this vLLM, nil when it takes any value.
func (e *env) choices(flag string) []string {
	for _, l := range argChoices[flag] {
		if l.span.has(e.v) {
			return l.values
		}
	}
	return nil
}

// choiceOf checks a space-file value of a flag with argparse choices against every version's list; pruning
// then leaves out a value this version does not take (rule "invalid-choice").
func choiceOf(flag string) func(string) error {
	var all []string
	for _, l := range argChoices[flag] {
		for _, v := range l.values {
			if indexOf(all, v) < 0 {
				all = append(all, v)
			}
		}
	}
	return oneOf(all...)
}

// env is the resolved view of a Platform that the rules below consult.
type env struct {
	p        Platform
	v        Version
	assumed  bool // version unknown: pinnedVersion assumed
	ccKnown  bool
	cc       float64
	memMiB   int
	packages map[string]bool
}

func newEnv(p Platform) (*env, []string, error) {
	e := &env{p: p, cc: p.ComputeCap, ccKnown: p.ComputeCap > 0, memMiB: p.MemoryMiB, packages: p.Packages}
	var notes []string
	if strings.TrimSpace(p.VLLMVersion) == "" {
		e.v, e.assumed = pinnedVersion, true
		notes = append(notes, fmt.Sprintf("vLLM version unknown: assuming %s, the pinned contest version (§1.1)", pinnedVersion))
	} else {
		v, err := ParseVersion(p.VLLMVersion)
		if err != nil {
			return nil, nil, err
		}
		e.v = v
	}
	if !e.ccKnown {
		notes = append(notes, "GPU compute capability unknown: every value that needs a minimum capability is left out")
	}
	if p.ServeFlags == nil {
		notes = append(notes, fmt.Sprintf("`vllm serve --help=all` not read: flags chosen by the version table for %s (§2.2)", e.v))
	}
	return e, notes, nil
}

// feature reports whether this vLLM has a version-dependent feature of featureSpans. An unknown name is a bug
// (a zero span would say "present" for every version), so it panics; TestFeatureNamesExist checks every call.
func (e *env) feature(name string) bool {
	sp, ok := featureSpans[name]
	if !ok {
		panic("space: unknown feature " + strconv.Quote(name))
	}
	return sp.has(e.v)
}

// hasFlag reports whether this vLLM takes the long flag, from the help text when it was read and from the
// version table otherwise. "--no-x" is taken when "--x" is a BooleanOptionalAction listed as such.
func (e *env) hasFlag(flag string) bool {
	if e.p.ServeFlags != nil {
		return e.p.ServeFlags[flag]
	}
	if s, ok := flagSpans[flag]; ok {
		return s.has(e.v)
	}
	return true
}

func (e *env) flagReason(flag string) string {
	if e.p.ServeFlags != nil {
		return fmt.Sprintf("`vllm serve --help=all` of vLLM %s does not list %s (it would exit 2 with \"unrecognized arguments\", §2.1)", e.versionText(), flag)
	}
	s := flagSpans[flag]
	return fmt.Sprintf("%s exists in vLLM %s only (%s); this is %s", flag, s, s.source, e.versionText())
}

func (e *env) versionText() string {
	if e.assumed {
		return e.v.String() + " (assumed)"
	}
	return e.v.String()
}

func (e *env) hasEnv(name string) bool {
	if s, ok := envSpans[name]; ok {
		return s.has(e.v)
	}
	return true
}

func (e *env) pkg(names ...string) bool {
	for _, n := range names {
		if e.packages[n] {
			return true
		}
	}
	return false
}

func (e *env) gpuName() string {
	if e.p.GPUName != "" {
		return e.p.GPUName
	}
	return "GPU"
}

// needCC returns "" when the GPU has at least capability min, else why not.
func (e *env) needCC(min float64, what string) string {
	if !e.ccKnown {
		return fmt.Sprintf("%s needs compute capability >= %s and the GPU's is unknown", what, fmtNum(min))
	}
	if e.cc+1e-9 < min {
		return fmt.Sprintf("%s needs compute capability >= %s; %s has %s", what, fmtNum(min), e.gpuName(), fmtNum(e.cc))
	}
	return ""
}

// ccInt is the capability as vLLM prints it ("75").
func (e *env) ccInt() int { return int(e.cc*10 + 0.5) }

// batchDefaults are vLLM's own max_num_batched_tokens and max_num_seqs for `vllm serve` on this GPU
// (§5, EngineArgs.get_batch_defaults): 8192/1024 on GPUs with >= 70 GiB whose name does not contain
// "a100", 2048/256 on everything else, a T4 included.
func (e *env) batchDefaults() (mnbt, seqs int) {
	if e.memMiB >= 70*1024 && !strings.Contains(strings.ToLower(e.p.GPUName), "a100") {
		return 8192, 1024
	}
	return 2048, 256
}

// gpuUtilDefault is vLLM's default --gpu-memory-utilization (§2.3).
func (e *env) gpuUtilDefault() string {
	if e.feature("gpu-util-0.92") {
		return "0.92"
	}
	return "0.9"
}

// defaultBackend is the attention backend vLLM picks by itself for this model (head_dim 64, fp16/bf16)
// on this GPU and version (§9.1 priority FLASH_ATTN, FLASHINFER, TRITON_ATTN, FLEX_ATTENTION; §9.2 table).
func (e *env) defaultBackend() string {
	if !e.ccKnown {
		return ""
	}
	if e.v.Less(ver(12)) {
		// V1 ~0.10-0.11: FLEX_ATTENTION fallback on older GPUs (§9.2); FLASH_ATTN on cc >= 8.
		if e.cc >= 8 {
			return "FLASH_ATTN"
		}
		return "FLEX_ATTENTION"
	}
	if e.cc >= 8 {
		return "FLASH_ATTN"
	}
	if e.backendReason("FLASHINFER") == "" {
		return "FLASHINFER"
	}
	return "TRITON_ATTN"
}

// backendReason returns "" when the backend can run here, else why not (§9.1, §9.2).
func (e *env) backendReason(b string) string {
	switch b {
	case "FLASH_ATTN":
		if r := e.needCC(8.0, "FLASH_ATTN"); r != "" {
			return r + ": \"FA2 is only supported on devices with compute capability >= 8\" (§9.1, vLLM 0.15.1 log); FlashAttention 2/3 never supports sm75"
		}
	case "FLASHINFER":
		if r := e.needCC(7.5, "FLASHINFER"); r != "" {
			return r + " (flashinfer.py:406-410, §9.1)"
		}
		if e.cc > 12.1+1e-9 {
			return fmt.Sprintf("FLASHINFER supports compute capability 7.5 to 12.1 (§9.1); %s has %s", e.gpuName(), fmtNum(e.cc))
		}
		if e.cc < 8 && !e.feature("flashinfer-sm75") {
			return fmt.Sprintf("FlashInfer is not selectable on SM75 from vLLM 0.24 (PR #45375, §9.2); this is %s", e.versionText())
		}
		if !e.feature("flashinfer-bundled") && !e.pkg("flashinfer", "flashinfer-python") {
			return fmt.Sprintf("FlashInfer is a default dependency only from about 0.12 (PR #26443, §1.1) and the probe did not find the flashinfer package next to vLLM %s", e.versionText())
		}
	case "TRITON_ATTN", "FLEX_ATTENTION":
		// any compute capability (§9.1)
	default:
		return fmt.Sprintf("%s is not an attention backend autotune knows for this model (§9.1)", b)
	}
	return ""
}

// quantMinCap is get_min_capability() of each method (§3.1), as a compute capability.
var quantMinCap = map[string]float64{
	"awq": 7.5, "awq_marlin": 7.5, "gptq": 6.0, "auto_gptq": 6.0, "gptq_marlin": 6.0, "fp8": 7.5,
	"fbgemm_fp8": 8.0, "fp_quant": 10.0, "modelopt": 8.9, "modelopt_fp4": 7.5, "modelopt_mxfp8": 8.0,
	"modelopt_mixed": 8.9, "gguf": 6.0, "humming": 7.5, "compressed-tensors": 7.0, "bitsandbytes": 7.0,
	"experts_int8": 8.0, "quark": 7.0, "moe_wna16": 7.0, "torchao": 7.5, "inc": 6.0, "auto-round": 6.0,
	"mxfp4": 8.0, "gpt_oss_mxfp4": 8.0,
}

// quantOnline are the methods whose get_config_filenames() is empty, so they can be applied to an
// unquantized checkpoint (§3.2). Every other method fails with "Cannot find the config file for <m>".
// experts_int8 is MoE-only and gguf needs a .gguf file, so neither is in the default space.
var quantOnline = map[string]bool{"fp8": true, "bitsandbytes": true, "experts_int8": true, "gguf": true}

// quantDeprecated need --allow-deprecated-quantization (§3.1).
var quantDeprecated = map[string]bool{"fbgemm_fp8": true, "fp_quant": true, "tpu_int8": true}

// kvFP8 are the fp8 KV-cache dtypes of §8.
var kvFP8 = map[string]bool{"fp8": true, "fp8_e4m3": true, "fp8_e5m2": true, "fp8_inc": true, "fp8_ds_mla": true, "fp8_per_token_head": true}

// kvReason returns "" when the KV-cache dtype can run here, else why not (§8).
func (e *env) kvReason(dt string) string {
	if !kvFP8[dt] {
		return ""
	}
	if r := e.needCC(8.9, "an fp8 KV cache"); r != "" {
		return r + ": Triton cannot produce fp8e4nv below sm89 (\"fp8e4nv data type is not supported on CUDA arch < 89\"), " +
			"fp8_e5m2 has no known working report on sm75, and the KV cache of this workload is ~0.6 GiB, so fp8 buys nothing (§8, §16.5)"
	}
	return ""
}

// graphReserveMiB is the memory that lives outside the gpu-memory-utilization budget: before v0.21 the
// CUDA graphs are captured after the KV cache is allocated, ≈0.69 GiB for vLLM's default 86 graphs of this
// model on a T4 (cal §9.3, §9.4). From v0.21 they are estimated inside the budget.
func (e *env) graphReserveMiB() int {
	if e.feature("graphs-in-budget") {
		return 0
	}
	return 707 // 0.69 GiB
}
