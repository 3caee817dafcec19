package space

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/autotune/autotune/runner"
)

// Space is a search space in force: the parameters left after pruning for one platform and workload,
// optionally edited by a space file. It is immutable after construction and safe for concurrent use.
type Space struct {
	env      *env
	w        runner.Workload
	params   []*param
	byName   map[string]*param
	defaults map[string]string // default value of every parameter, dropped ones included
	dropped  []Dropped
	notes    []string
	fileEnv  map[string]string
	variants map[string]Variant
	source   string // space file name; "" for the default space
	spell    spelling
	seeds    []Config
	skipped  []string
}

// Variant is a model variant from a space file: other weights, served under the study's model name.
type Variant struct {
	Name  string            `json:"name"`
	Model string            `json:"model"`          // positional model of `vllm serve` (a hub id or a path)
	Args  []string          `json:"args,omitempty"` // extra flags this checkpoint needs (e.g. --quantization awq_marlin)
	Env   map[string]string `json:"env,omitempty"`  // extra environment variables
}

// build assembles a space: built-in parameters, space-file edits, then pruning for the platform.
func build(p Platform, w runner.Workload, f *spaceFile, source string) (*Space, error) {
	if err := checkWorkload(w); err != nil {
		return nil, err
	}
	e, notes, err := newEnv(p)
	if err != nil {
		return nil, err
	}
	s := &Space{env: e, w: w, notes: notes, variants: map[string]Variant{}, source: source, defaults: map[string]string{}}
	s.params = builtinParams(w)
	if f != nil {
		if err := s.applyFile(f); err != nil {
			return nil, err
		}
	}
	s.resolveSpelling()
	if err := s.prune(); err != nil {
		return nil, err
	}
	s.byName = map[string]*param{}
	for _, q := range s.params {
		s.byName[q.Name] = q
	}
	s.resolveSeeds()
	return s, nil
}

// resolveSpelling picks the spelling of the options that changed between versions (§2.4, §6.4, §9.1).
func (s *Space) resolveSpelling() {
	e := s.env
	s.spell = spelling{captureList: "--cudagraph-capture-sizes", captureMax: "--max-cudagraph-capture-size", attention: "flag"}
	if !e.hasFlag("--cudagraph-capture-sizes") && e.hasFlag("--cuda-graph-sizes") {
		s.spell.captureList = "--cuda-graph-sizes"
		s.notes = append(s.notes, "cudagraph_capture: rendered as --cuda-graph-sizes, the spelling before 0.13 (PR #30396, §6.4)")
	}
	if !e.hasFlag("--max-cudagraph-capture-size") && e.hasFlag("--cuda-graph-sizes") {
		s.spell.captureMax = "--cuda-graph-sizes"
	}
	if !e.hasFlag("--attention-backend") && e.hasEnv("VLLM_ATTENTION_BACKEND") {
		s.spell.attention = "env"
		s.notes = append(s.notes, "attention_backend: set through VLLM_ATTENTION_BACKEND, as before PR #32812 (§9.1)")
	}
}

func (s *Space) drop(param, value, reason string) {
	s.dropped = append(s.dropped, Dropped{Param: param, Value: value, Reason: reason})
}

// prune leaves out what this GPU or vLLM cannot take, and values identical to vLLM's default.
func (s *Space) prune() error {
	var kept []*param
	for _, p := range s.params {
		s.defaults[p.Name] = p.Default
		if r := s.paramReason(p); r != "" {
			if p.Fixed != "" {
				return s.fileErr("params.%s.fix: %s cannot run here: %s", p.Name, p.Fixed, r)
			}
			s.drop(p.Name, "", r)
			continue
		}
		if p.Fixed != "" {
			if r := s.valueReason(p, p.Fixed, false); r != "" {
				return s.fileErr("params.%s.fix: %s cannot run here: %s", p.Name, p.Fixed, r)
			}
			kept = append(kept, p)
			continue
		}
		if p.Domain.Kind != Categorical {
			kept = append(kept, p)
			continue
		}
		var choices []string
		for _, v := range p.Domain.Choices {
			if v == p.Default {
				choices = append(choices, v)
				continue
			}
			if r := s.valueReason(p, v, true); r != "" {
				s.drop(p.Name, v, r)
				continue
			}
			choices = append(choices, v)
		}
		switch {
		case len(choices) == 0:
			s.drop(p.Name, "", "no value is left")
			continue
		case len(choices) == 1 && choices[0] == p.Default:
			s.drop(p.Name, "", "only vLLM's default is left")
			continue
		case len(choices) == 1:
			p.Fixed = choices[0]
		}
		p.Domain.Choices = choices
		kept = append(kept, p)
	}
	s.params = kept
	return nil
}

// paramReason returns why a whole parameter cannot be used here, or "".
func (s *Space) paramReason(p *param) string {
	e := s.env
	switch p.Render {
	case renderValue, renderSwitch, renderList, renderJSON, renderSpeculative:
		if p.Flag != "" && !e.hasFlag(p.Flag) {
			return e.flagReason(p.Flag)
		}
		if p.Flag == "" && p.Env != "" && !e.hasEnv(p.Env) {
			return fmt.Sprintf("%s is ignored by vLLM %s (%s)", p.Env, e.versionText(), envSpans[p.Env].source)
		}
	case renderEnv:
		if !e.hasEnv(p.Env) {
			return fmt.Sprintf("%s is ignored by vLLM %s (%s)", p.Env, e.versionText(), envSpans[p.Env].source)
		}
	case renderCUDAGraph:
		if !e.hasFlag(s.spell.captureList) {
			return e.flagReason("--cudagraph-capture-sizes")
		}
	case renderAttention:
		if s.spell.attention == "flag" && !e.hasFlag("--attention-backend") {
			return e.flagReason("--attention-backend") + ", and VLLM_ATTENTION_BACKEND is gone since PR #32812 (§9.1)"
		}
	case renderModel:
		if !e.hasFlag("--served-model-name") {
			return e.flagReason("--served-model-name")
		}
	}
	return ""
}

// valueReason returns why value v of p cannot (or need not) be tried here, or "". dup enables the
// "same as vLLM's default" reasons, which make sense for searched values only.
func (s *Space) valueReason(p *param, v string, dup bool) string {
	if !p.Added {
		if dup {
			if r := s.redundantReason(p, v); r != "" {
				return "same as vLLM's default here: " + r
			}
		}
		if r := s.wasteReason(p, v); r != "" {
			return r
		}
	}
	return s.refusedHere(p, v)
}

// redundantReason returns why value v of a built-in parameter is what vLLM does anyway, or "": vLLM's
// defaults on this GPU and version.
func (s *Space) redundantReason(p *param, v string) string {
	e := s.env
	switch p.Name {
	case "dtype":
		switch v {
		case "float16", "half":
			if e.ccKnown && e.cc < 8 {
				return "below compute capability 8.0 --dtype auto already falls back to float16 (§4)"
			}
		case "auto":
			return "auto"
		}
	case "max_num_seqs":
		if _, seqs := e.batchDefaults(); v == strconv.Itoa(seqs) {
			return fmt.Sprintf("vLLM serves with max_num_seqs=%d on %s (§5)", seqs, e.gpuName())
		}
	case "max_num_batched_tokens":
		if mnbt, _ := e.batchDefaults(); v == strconv.Itoa(mnbt) {
			return fmt.Sprintf("vLLM serves with max_num_batched_tokens=%d on %s (§5)", mnbt, e.gpuName())
		}
	case "max_model_len":
		if n, _ := strconv.Atoi(v); s.w.ModelMaxLen > 0 && n == s.w.ModelMaxLen {
			return "the model's own maximum length"
		}
	case "gpu_memory_utilization":
		if v == e.gpuUtilDefault() {
			return "--gpu-memory-utilization " + v + " (§2.3)"
		}
	case "block_size":
		if v == "16" {
			return "block size 16 (§2.3)"
		}
	case "kv_cache_dtype":
		if v == "auto" {
			return "auto"
		}
	case "attention_backend":
		if d := e.defaultBackend(); v == d && e.backendReason(v) == "" {
			return fmt.Sprintf("vLLM %s picks %s on %s by itself (§9.2)", e.versionText(), d, e.gpuName())
		}
	case "optimization":
		if v == "O2" || v == "O3" {
			return "-O2 is the default and -O3 currently equals it (§2.3)"
		}
	case "cudagraph_capture":
		if c, err := parseCapture(v); err == nil && c.kind == "default+" && onLadder(c.n) && c.n <= 512 {
			return fmt.Sprintf("%d is already on vLLM's capture ladder (§6.3)", c.n)
		}
	case "async_scheduling":
		if v == "on" && e.feature("async-default-on") {
			return "async scheduling is on by default when speculative decoding is off (cal §11)"
		}
	case "prefix_caching":
		if v == "on" {
			return "prefix caching is on by default for this model (§2.3)"
		}
	case "stream_interval":
		if v == "1" {
			return "--stream-interval 1 (§2.3)"
		}
	case "performance_mode":
		if v == "balanced" {
			return "balanced (§2.3)"
		}
	}
	return ""
}

// wasteReason returns why vLLM would take value v of a built-in parameter but the trial would be wasted or
// mean something else than the space says, or "".
func (s *Space) wasteReason(p *param, v string) string {
	e := s.env
	switch p.Name {
	case "gpu_memory_utilization":
		f, _ := strconv.ParseFloat(v, 64)
		if res := e.graphReserveMiB(); e.memMiB > 0 && float64(e.memMiB)*(1-f) < float64(res) {
			return fmt.Sprintf("leaves %.0f MiB of %d MiB outside the budget, less than the ~%d MiB of CUDA graphs vLLM %s captures there (cal §9.3, §9.4)",
				float64(e.memMiB)*(1-f), e.memMiB, res, e.versionText())
		}
	case "cudagraph_capture":
		c, err := parseCapture(v)
		if err != nil {
			return err.Error()
		}
		if c.kind == "list" && len(c.list) == 1 && s.spell.captureList == "--cuda-graph-sizes" {
			return "before 0.13 a single --cuda-graph-sizes value means a maximum, not a list (§6.4)"
		}
	case "model":
		if _, ok := s.variants[v]; !ok {
			return fmt.Sprintf("no model variant %q is defined under models", v)
		}
	}
	return ""
}

// applies reports whether p's conditions hold for the values drawn so far. A parent that was not drawn
// (dropped, or not applicable itself) counts as its default value.
func (s *Space) applies(p *param, a assignment) bool {
	for _, c := range p.When {
		v, ok := a[c.Param]
		if !ok {
			v = s.defaults[c.Param]
			if v == "" {
				v = "default"
			}
		}
		if (indexOf(c.In, v) >= 0) == c.Not {
			return false
		}
	}
	return true
}

// Sample draws one config, define-by-run: parameters are visited in space order and drawn through s only
// when their conditions hold, so the Suggester sees the same calls in the same order for the same values
// (a goptuna trial with fixed parameters replays exactly). Dependent limits are then repaired and the
// result is checked; an error means the space cannot produce a config vLLM would accept for this draw.
func (s *Space) Sample(sg Suggester) (Config, error) {
	a, err := s.draw(sg)
	if err != nil {
		return Config{}, err
	}
	c, _, err := s.finish(a, "")
	return c, err
}

// draw visits the parameters in space order and draws each one that applies.
func (s *Space) draw(sg Suggester) (assignment, error) {
	a := assignment{}
	for _, p := range s.params {
		if !s.applies(p, a) {
			continue
		}
		if !p.searched() {
			a[p.Name] = p.Fixed
			continue
		}
		v, err := p.Domain.suggest(sg, p.Name)
		if err != nil {
			return nil, fmt.Errorf("space: %s: %w", p.Name, err)
		}
		a[p.Name] = v
	}
	return a, nil
}

// maxRepairRounds bounds finish's render-repair loop; the rules settle in two rounds today.
const maxRepairRounds = 4

// finish repairs, renders and checks an assignment.
func (s *Space) finish(a assignment, label string) (Config, []string, error) {
	c, repairs, err := s.settle(a, label)
	if err != nil {
		return Config{}, nil, err
	}
	if err := s.Validate(c); err != nil {
		return c, repairs, fmt.Errorf("space: config %v would be refused: %w", c.Args, err)
	}
	return c, repairs, nil
}

// settle renders and repairs an assignment until the render needs no repair; it does not check the result.
func (s *Space) settle(a assignment, label string) (Config, []string, error) {
	var repairs []string
	var r rendered
	// Render, repair, and render again until a render needs no repair, so that Args always show the final values.
	for round := 0; ; round++ {
		var err error
		if r, err = s.render(a); err != nil {
			return Config{}, nil, err
		}
		sa, err := s.parseServeArgv(r.args)
		if err != nil {
			return Config{}, nil, fmt.Errorf("space: rendered argv %q: %w", r.args, err)
		}
		did := s.repair(a, sa)
		if len(did) == 0 {
			break
		}
		if round == maxRepairRounds {
			return Config{}, nil, fmt.Errorf("space: repairs do not settle: %s", strings.Join(did, "; "))
		}
		repairs = append(repairs, did...)
	}
	c := Config{Params: map[string]string(a), Args: r.args, Env: r.env, Model: r.model, Label: label}
	if c.Args == nil {
		c.Args = []string{}
	}
	return c, repairs, nil
}

// defaultAssignment gives every applicable parameter its fixed or default value. ok is false when an
// applicable searched parameter has no default (a numeric parameter a space file added without one).
func (s *Space) defaultAssignment(over map[string]string) (assignment, string) {
	return s.defaults0(over, true)
}

// defaults0 is defaultAssignment; with strict false, a parameter without a default is left out instead.
func (s *Space) defaults0(over map[string]string, strict bool) (assignment, string) {
	a := assignment{}
	for _, p := range s.params {
		if !s.applies(p, a) {
			continue
		}
		if v, ok := over[p.Name]; ok {
			a[p.Name] = v
			continue
		}
		switch {
		case p.Fixed != "":
			a[p.Name] = p.Fixed
		case p.Default != "":
			a[p.Name] = p.Default
		case strict:
			return nil, fmt.Sprintf("parameter %s has no default value", p.Name)
		}
	}
	return a, ""
}

// Baseline is vLLM's defaults: every parameter at its default (so no tuned flag), labelled "baseline".
// Values fixed by a space file and its environment variables are part of it, since a fixed value is how
// a user says every server must run with it. Params holds the default of every parameter that has one,
// so that Encode(Baseline().Params) makes the baseline a point TPE learns from; when a space file adds a
// numeric parameter without a default, the baseline is not a point of the space and Encode says so.
func (s *Space) Baseline() Config {
	a, _ := s.defaults0(nil, false)
	r, err := s.render(a)
	if err != nil {
		// A fixed value that needs drawn parameters (speculative fixed to ngram) cannot be rendered
		// without them: the baseline is then vLLM's plain defaults, and not a point of the space.
		a, r = assignment{}, rendered{env: maps.Clone(s.fileEnv)}
	}
	args := r.args
	if args == nil {
		args = []string{}
	}
	return Config{Params: map[string]string(a), Args: args, Env: r.env, Model: r.model, Label: BaselineLabel}
}

// KnownGood returns starting points from the calibration notes that fit this space, each labelled
// "known-good: <source>", with full parameter assignments for Encode. Points that do not fit (a value
// dropped here or by a space file) are left out; Describe lists them with the reason.
func (s *Space) KnownGood() []Config {
	out := make([]Config, len(s.seeds))
	for i, c := range s.seeds {
		out[i] = cloneConfig(c)
	}
	return out
}

func cloneConfig(c Config) Config {
	c.Params = maps.Clone(c.Params)
	c.Args = append([]string{}, c.Args...)
	c.Env = maps.Clone(c.Env)
	return c
}

// ContestWinner is the contest winner's steps 1 and 2 on workload w, the parts that run on stock vLLM with the
// unquantized checkpoint (no AWQ, no gpu-memory-utilization 0.925; 3,332 -> 4,300 tok/s, cal §3.1):
// max-num-seqs = concurrency, a token budget of one full prefill wave, max-model-len one request, a CUDA-graph
// list ending at the concurrency, block size 32. It is a known-good point of the default space (KnownGood), and
// searchq's base point for its sensitivity analysis.
func ContestWinner(w runner.Workload) map[string]string {
	c := w.MaxConcurrency
	return map[string]string{
		"max_num_seqs": strconv.Itoa(c), "max_num_batched_tokens": strconv.Itoa(c * w.InputLen),
		"max_model_len": strconv.Itoa(reqLen(w)), "cudagraph_capture": fmt.Sprintf("upto:%d", c), "block_size": "32",
	}
}

type seedDef struct {
	label  string
	values map[string]string
}

// seedDefs are the known-good points, from what was measured on this workload.
func seedDefs(w runner.Workload) []seedDef {
	return []seedDef{{
		// The seed guide's "Tuning server config" hint (docs/serving-benchmark-guide.md).
		label:  "known-good: seed guide server config (--max-model-len 4096 --max-num-batched-tokens 8192 --gpu-memory-utilization 0.95)",
		values: map[string]string{"max_model_len": "4096", "max_num_batched_tokens": "8192", "gpu_memory_utilization": "0.95"},
	}, {
		label:  "known-good: contest winner steps 1-2 on stock vLLM (max-num-seqs = concurrency, one-wave token budget, graph list ending at the concurrency, block 32)",
		values: ContestWinner(w),
	}, {
		// FP16 weights + suffix decoding: 9,052 tok/s on Colab, 7,800 in the organiser's re-run (cal §3.2).
		label:  "known-good: suffix decoding on fp16 weights (contest blog, 9,052 tok/s)",
		values: map[string]string{"speculative": "suffix"},
	}}
}

func (s *Space) resolveSeeds() {
	for _, d := range seedDefs(s.w) {
		if why := s.seedMisfit(d.values); why != "" {
			s.skipped = append(s.skipped, d.label+": "+why)
			continue
		}
		a, why := s.defaultAssignment(d.values)
		if why != "" {
			s.skipped = append(s.skipped, d.label+": "+why)
			continue
		}
		want := a.clone()
		c, repairs, err := s.finish(a, d.label)
		switch {
		case err != nil:
			s.skipped = append(s.skipped, d.label+": "+err.Error())
		case len(repairs) > 0 || !maps.Equal(map[string]string(want), c.Params):
			s.skipped = append(s.skipped, d.label+": would be repaired: "+strings.Join(repairs, "; "))
		default:
			s.seeds = append(s.seeds, c)
		}
	}
}

func (s *Space) seedMisfit(values map[string]string) string {
	for _, name := range sortedKeys(values) {
		v := values[name]
		p, ok := s.byName[name]
		if !ok {
			return fmt.Sprintf("parameter %s is not in force", name)
		}
		if p.Fixed != "" && p.Fixed != v {
			return fmt.Sprintf("%s is fixed to %s", name, p.Fixed)
		}
		if p.Fixed == "" && !p.Domain.contains(v) {
			return fmt.Sprintf("%s=%s is not in its domain %s", name, v, p.Domain)
		}
	}
	return ""
}

// Encode returns goptuna's internal representation of a full assignment (as in Config.Params): for
// every searched parameter that applies, the index of its choice (categorical) or its number. The tuner
// passes it to Study.EnqueueTrial, and goptuna then replays these values as fixed parameters
// (Trial.isFixedParam), so Sample on that trial returns exactly the config of params. Fixed parameters are
// not goptuna parameters and are left out. It fails when params is not a point Sample can produce: a
// missing or unknown parameter, a value outside its domain, a value repair would change, a refusal.
func (s *Space) Encode(params map[string]string) (map[string]float64, error) {
	out := map[string]float64{}
	a := assignment{}
	for _, p := range s.params {
		if !s.applies(p, a) {
			continue
		}
		v, ok := params[p.Name]
		if !p.searched() {
			if ok && v != p.Fixed {
				return nil, fmt.Errorf("space: encode: %s is fixed to %s, not %s", p.Name, p.Fixed, v)
			}
			a[p.Name] = p.Fixed
			continue
		}
		if !ok {
			return nil, fmt.Errorf("space: encode: no value for %s", p.Name)
		}
		ir, err := p.Domain.internal(v)
		if err != nil {
			return nil, fmt.Errorf("space: encode: %s: %w", p.Name, err)
		}
		out[p.Name] = ir
		a[p.Name] = v
	}
	for _, name := range sortedKeys(params) {
		if _, ok := a[name]; !ok {
			return nil, fmt.Errorf("space: encode: %s is not a parameter that applies to this point", name)
		}
	}
	want := a.clone()
	c, repairs, err := s.finish(a, "")
	if err != nil {
		return nil, fmt.Errorf("space: encode: %w", err)
	}
	if len(repairs) > 0 || !maps.Equal(map[string]string(want), c.Params) {
		return nil, fmt.Errorf("space: encode: not a fixed point of the space, repair would change it: %s", strings.Join(repairs, "; "))
	}
	return out, nil
}

// Description is the space in force, for `autotune space` and for the study record.
type Description struct {
	VLLMVersion string            `json:"vllm_version"` // the version the space was built for ("0.15.1 (assumed)" when unknown)
	GPU         string            `json:"gpu"`
	ComputeCap  float64           `json:"compute_capability"`
	MemoryMiB   int               `json:"memory_mib"`
	Workload    runner.Workload   `json:"-"`                // in JSON as "workload", its workloadKey, see JSON
	Source      string            `json:"source,omitempty"` // space file, "" for the default space
	Fingerprint string            `json:"fingerprint"`
	Params      []ParamInfo       `json:"params"`
	Dropped     []Dropped         `json:"-"`             // in JSON as "dropped", see JSON
	Env         map[string]string `json:"env,omitempty"` // environment set on every server (space file)
	Variants    []Variant         `json:"variants,omitempty"`
	KnownGood   []string          `json:"known_good"`        // labels of the enqueued starting points
	Skipped     []string          `json:"skipped,omitempty"` // known-good points left out, with why
	Rules       []Rule            `json:"rules"`
	Notes       []string          `json:"notes,omitempty"`
}

// JSON is Describe as JSON: what the study records as the space it ran with.
func (s *Space) JSON() string {
	d := s.Describe()
	type dropped struct {
		Param  string `json:"param"`
		Value  string `json:"value,omitempty"`
		Reason string `json:"reason"`
	}
	out := struct {
		Description
		Workload workloadKey `json:"workload"`
		Dropped  []dropped   `json:"dropped"`
	}{Description: d, Workload: keyOf(d.Workload), Dropped: []dropped{}}
	for _, x := range d.Dropped {
		out.Dropped = append(out.Dropped, dropped(x))
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Sprintf(`{"error":%q}`, err.Error())
	}
	return string(b)
}

// ParamInfo describes one parameter in force.
type ParamInfo struct {
	Name      string   `json:"name"`
	Flag      string   `json:"flag,omitempty"`
	Env       string   `json:"env,omitempty"`
	Kind      string   `json:"kind"`
	Domain    string   `json:"domain"`
	Choices   []string `json:"choices,omitempty"`
	Low       float64  `json:"low,omitempty"`
	High      float64  `json:"high,omitempty"`
	Step      float64  `json:"step,omitempty"`
	Default   string   `json:"default,omitempty"`
	Fixed     string   `json:"fixed,omitempty"`
	Condition string   `json:"condition,omitempty"`
	Help      string   `json:"help,omitempty"`
	Source    string   `json:"source,omitempty"`
}

// Describe returns the parameters in force (name, flag, domain, condition), what was dropped and why,
// the rules, and the known-good points.
func (s *Space) Describe() Description {
	d := Description{
		VLLMVersion: s.env.versionText(), GPU: s.env.p.GPUName, ComputeCap: s.env.cc, MemoryMiB: s.env.memMiB,
		Workload: s.w, Source: s.source, Fingerprint: s.Fingerprint(), Dropped: append([]Dropped(nil), s.dropped...),
		Env: maps.Clone(s.fileEnv), Skipped: append([]string(nil), s.skipped...), Rules: Rules(),
		Notes: append([]string(nil), s.notes...),
	}
	for _, p := range s.params {
		d.Params = append(d.Params, s.info(p))
	}
	for _, name := range sortedKeys(variantNames(s.variants)) {
		d.Variants = append(d.Variants, s.variants[name])
	}
	for _, c := range s.seeds {
		d.KnownGood = append(d.KnownGood, c.Label)
	}
	return d
}

func variantNames(m map[string]Variant) map[string]string {
	out := map[string]string{}
	for k := range m {
		out[k] = k
	}
	return out
}

func (s *Space) info(p *param) ParamInfo {
	flag := p.Flag
	switch p.Render {
	case renderQuiet:
		flag = "--speculative-config ." + p.Name
	case renderCUDAGraph:
		flag = s.spell.captureList + " | " + s.spell.captureMax
	case renderOptimization:
		flag = "--optimization-level | --enforce-eager"
	case renderAttention:
		if s.spell.attention == "env" {
			flag = "env VLLM_ATTENTION_BACKEND"
		}
	case renderModel:
		flag = "positional model + --served-model-name"
	case renderSwitch:
		flag = p.Flag + " | " + negate(p.Flag)
	}
	var conds []string
	for _, c := range p.When {
		conds = append(conds, c.String())
	}
	return ParamInfo{
		Name: p.Name, Flag: flag, Env: p.Env, Kind: p.Domain.Kind.String(), Domain: p.Domain.String(),
		Choices: append([]string(nil), p.Domain.Choices...), Low: p.Domain.Low, High: p.Domain.High, Step: p.Domain.Step,
		Default: p.Default, Fixed: p.Fixed, Condition: strings.Join(conds, " and "), Help: p.Help, Source: p.Source,
	}
}

// Fingerprint is a stable hash of the space in force: the parameters with their domains, conditions and
// flag spellings, the variants and environment, the vLLM version and the workload. Two runs that would
// draw from the same space have the same fingerprint; the study records it.
func (s *Space) Fingerprint() string {
	type pfp struct {
		Name, Flag, Env, Render, Default, Fixed string
		Domain                                  Domain
		When                                    []Cond
	}
	fp := struct {
		Schema   int
		Version  string
		Workload workloadKey
		Spell    [3]string
		Params   []pfp
		Variants []Variant
		Env      []string
	}{Schema: 1, Version: s.env.v.String(), Workload: keyOf(s.w), Spell: [3]string{s.spell.captureList, s.spell.captureMax, s.spell.attention}}
	for _, p := range s.params {
		fp.Params = append(fp.Params, pfp{p.Name, p.Flag, p.Env, p.Render, p.Default, p.Fixed, p.Domain, p.When})
	}
	for _, name := range sortedKeys(variantNames(s.variants)) {
		v := s.variants[name]
		v.Env = nil
		fp.Variants = append(fp.Variants, v)
		for _, k := range sortedKeys(s.variants[name].Env) {
			fp.Env = append(fp.Env, name+":"+k+"="+s.variants[name].Env[k])
		}
	}
	for _, k := range sortedKeys(s.fileEnv) {
		fp.Env = append(fp.Env, k+"="+s.fileEnv[k])
	}
	b, _ := json.Marshal(fp)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
