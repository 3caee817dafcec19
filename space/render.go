package space

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// spelling is how this vLLM takes the options whose spelling changed between versions.
type spelling struct {
	captureList string // "--cudagraph-capture-sizes", or "--cuda-graph-sizes" before 0.13 (§6.4)
	captureMax  string // "--max-cudagraph-capture-size", or "--cuda-graph-sizes N" (one value = ladder up to N)
	attention   string // "flag": --attention-backend; "env": VLLM_ATTENTION_BACKEND (before 0.15, §9.1)
}

// specConfig is the --speculative-config JSON. Field order gives the key order of §7's example:
// {"method":"ngram","num_speculative_tokens":4,"prompt_lookup_max":4,"prompt_lookup_min":2}.
type specConfig struct {
	Method               string `json:"method"`
	NumSpeculativeTokens int    `json:"num_speculative_tokens,omitempty"`
	PromptLookupMax      int    `json:"prompt_lookup_max,omitempty"`
	PromptLookupMin      int    `json:"prompt_lookup_min,omitempty"`
}

// suffixTreeDepth is suffix decoding's num_speculative_tokens when the config leaves it out:
// suffix_decoding_max_tree_depth (§7).
const suffixTreeDepth = 24

// tokens is the number of draft tokens per step vLLM runs with: num_speculative_tokens as configured, else
// the tree depth for suffix decoding.
func (sc *specConfig) tokens() int {
	if sc.NumSpeculativeTokens > 0 {
		return sc.NumSpeculativeTokens
	}
	if sc.Method == "suffix" {
		return suffixTreeDepth
	}
	return 0
}

// parseSpecConfig reads the --speculative-config of parsed argv: nil and "" when there is none, nil and
// the refusal text when autotune cannot read it.
func parseSpecConfig(sa *serveArgv) (*specConfig, string) {
	v := sa.last("--speculative-config")
	if v == "" {
		return nil, ""
	}
	var sc specConfig
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return nil, fmt.Sprintf("argument --speculative-config: %s is not a speculative config autotune can check: %v", v, err)
	}
	return &sc, ""
}

// rendered is what an assignment turns into.
type rendered struct {
	args  []string
	env   map[string]string
	model string
}

func (r *rendered) setEnv(k, v string) {
	if r.env == nil {
		r.env = map[string]string{}
	}
	r.env[k] = v
}

// render turns an assignment (values of the parameters that apply) into argv and environment.
// Parameters render in space order, so the same assignment always gives the same argv.
func (s *Space) render(a assignment) (rendered, error) {
	var r rendered
	for k, v := range s.fileEnv {
		r.setEnv(k, v)
	}
	for _, p := range s.params {
		v, ok := a[p.Name]
		if !ok {
			continue
		}
		if err := s.renderParam(&r, p, v, a); err != nil {
			return rendered{}, fmt.Errorf("space: render %s=%s: %w", p.Name, v, err)
		}
	}
	return r, nil
}

func (s *Space) renderParam(r *rendered, p *param, v string, a assignment) error {
	if p.Default != "" && v == p.Default {
		return nil
	}
	switch p.Render {
	case renderQuiet:
	case renderValue:
		if p.Flag == "" {
			r.setEnv(p.Env, v)
		} else {
			r.args = append(r.args, p.Flag, v)
		}
	case renderEnv:
		r.setEnv(p.Env, v)
	case renderSwitch:
		switch v {
		case "on", "true":
			r.args = append(r.args, p.Flag)
		case "off", "false":
			r.args = append(r.args, negate(p.Flag))
		default:
			return fmt.Errorf("switch value %q is not on/off/true/false", v)
		}
	case renderList:
		r.args = append(r.args, p.Flag)
		r.args = append(r.args, splitList(v)...)
	case renderJSON:
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(v)); err != nil {
			return fmt.Errorf("not JSON: %v", err)
		}
		r.args = append(r.args, p.Flag, buf.String())
	case renderSpeculative:
		js, err := s.specJSON(v, a)
		if err != nil {
			return err
		}
		r.args = append(r.args, p.Flag, js)
	case renderCUDAGraph:
		args, err := s.captureArgs(v, a)
		if err != nil {
			return err
		}
		r.args = append(r.args, args...)
	case renderOptimization:
		switch v {
		case "eager":
			r.args = append(r.args, "--enforce-eager")
		default:
			if indexOf(optimizationLevels(), v) < 0 {
				return fmt.Errorf("unknown optimization %q", v)
			}
			r.args = append(r.args, "--optimization-level", v[1:])
		}
	case renderAttention:
		if s.spell.attention == "env" {
			r.setEnv("VLLM_ATTENTION_BACKEND", v)
		} else {
			r.args = append(r.args, "--attention-backend", v)
		}
	case renderModel:
		vr, ok := s.variants[v]
		if !ok {
			return fmt.Errorf("no model variant %q", v)
		}
		r.model = vr.Model
		r.args = append(r.args, "--served-model-name", s.w.Model)
		r.args = append(r.args, vr.Args...)
		for k, x := range vr.Env {
			r.setEnv(k, x)
		}
	default:
		return fmt.Errorf("unknown render kind %q", p.Render)
	}
	return nil
}

// negate turns "--enable-x" into "--no-enable-x" (argparse BooleanOptionalAction, §2.1).
func negate(flag string) string { return "--no-" + strings.TrimPrefix(flag, "--") }

func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
}

func (s *Space) specJSON(method string, a assignment) (string, error) {
	c := specConfig{Method: method}
	switch method {
	case "ngram", "ngram_gpu":
		// num_speculative_tokens is required for model-free methods (§7, speculative.py:80-82).
		k, ok := a.intOr("num_speculative_tokens", 0)
		if !ok {
			return "", fmt.Errorf("%s needs num_speculative_tokens", method)
		}
		c.NumSpeculativeTokens = k
		c.PromptLookupMax, _ = a.intOr("prompt_lookup_max", 0)
		c.PromptLookupMin, _ = a.intOr("prompt_lookup_min", 0)
	case "suffix":
		// Minimal form of §7; num_speculative_tokens defaults to the tree depth (suffixTreeDepth).
	default:
		return "", fmt.Errorf("unknown speculative method %q", method)
	}
	b, err := json.Marshal(c)
	return string(b), err
}

// ladder is vLLM's default capture list for a maximum size (§6.3, vllm.py _set_cudagraph_sizes): 1, 2,
// 4, every 8 below 256, every 16 from 256, up to max.
func ladder(max int) []int {
	var out []int
	for _, n := range []int{1, 2, 4} {
		if n <= max {
			out = append(out, n)
		}
	}
	for n := 8; n <= max && n < 256; n += 8 {
		out = append(out, n)
	}
	for n := 256; n <= max; n += 16 {
		out = append(out, n)
	}
	return out
}

// captureArgs renders a cudagraph_capture level. Sizes above max_num_batched_tokens are left out (vLLM
// drops them with a warning, §6.3 "capped at max_num_batched_tokens"), so the argv says what vLLM will
// really capture.
func (s *Space) captureArgs(v string, a assignment) ([]string, error) {
	c, err := parseCapture(v)
	if err != nil {
		return nil, err
	}
	eff := s.effectiveOf(a)
	var sizes []int
	switch c.kind {
	case "max":
		n := c.n
		if n > eff.mnbt {
			l := ladder(eff.mnbt)
			n = l[len(l)-1]
		}
		if s.spell.captureMax == "--cuda-graph-sizes" {
			// Before 0.13 one value means "[1, 2, 4] + every 8 up to N".
			return []string{"--cuda-graph-sizes", strconv.Itoa(n)}, nil
		}
		return []string{"--max-cudagraph-capture-size", strconv.Itoa(n)}, nil
	case "upto":
		sizes = append(sizes, ladder(c.n-1)...)
		sizes = append(sizes, c.n)
	case "default+":
		max := eff.seqs * 2
		if max > 512 {
			max = 512
		}
		if max > eff.mnbt {
			max = eff.mnbt
		}
		sizes = append(ladder(max), c.n)
	case "list":
		sizes = append(sizes, c.list...)
	}
	sizes = uniqSorted(sizes)
	var kept []int
	for _, n := range sizes {
		if n <= eff.mnbt {
			kept = append(kept, n)
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("no capture size of %s fits max_num_batched_tokens=%d", v, eff.mnbt)
	}
	return append([]string{s.spell.captureList}, ints(kept)...), nil
}

// effective holds the scheduler limits vLLM will run with: the explicit values, else vLLM's defaults as
// adjusted in §5.
type effective struct {
	seqs, mnbt, mml         int
	seqsSet, mnbtSet, mmlOK bool
}

// effectiveOf derives the limits from an assignment of the built-in parameters.
func (s *Space) effectiveOf(a assignment) effective {
	sa := serveArgv{flags: map[string][]string{}}
	for _, name := range []string{"max_num_seqs", "max_num_batched_tokens", "max_model_len"} {
		if v, ok := a[name]; ok && v != "default" {
			sa.flags["--"+strings.ReplaceAll(name, "_", "-")] = []string{v}
		}
	}
	if a["performance_mode"] == "throughput" {
		sa.flags["--performance-mode"] = []string{"throughput"}
	}
	return s.effectiveArgs(&sa)
}

// effectiveArgs derives the limits from parsed argv (§5): defaults per GPU, doubled by
// --performance-mode throughput, the token budget raised to max_model_len when chunked prefill is off and
// capped at max_num_seqs x max_model_len, max_num_seqs capped at the budget. Values set by the user are
// never changed by these rules.
func (s *Space) effectiveArgs(sa *serveArgv) effective {
	defMnbt, defSeqs := s.env.batchDefaults()
	if sa.last("--performance-mode") == "throughput" {
		defMnbt, defSeqs = 2*defMnbt, 2*defSeqs
	}
	var e effective
	e.mml, e.mmlOK = sa.intFlag("--max-model-len")
	if !e.mmlOK && s.w.ModelMaxLen > 0 {
		e.mml, e.mmlOK = s.w.ModelMaxLen, true
	}
	e.seqs, e.seqsSet = sa.intFlag("--max-num-seqs")
	e.mnbt, e.mnbtSet = sa.intFlag("--max-num-batched-tokens")
	if !e.mnbtSet {
		e.mnbt = defMnbt
		if sa.has("--no-enable-chunked-prefill") && e.mmlOK && e.mnbt < e.mml {
			e.mnbt = e.mml
		}
		seqs := defSeqs
		if e.seqsSet {
			seqs = e.seqs
		}
		if e.mmlOK && e.mnbt > seqs*e.mml {
			e.mnbt = seqs * e.mml
		}
	}
	if !e.seqsSet {
		e.seqs = defSeqs
		if e.seqs > e.mnbt {
			e.seqs = e.mnbt
		}
	}
	return e
}
