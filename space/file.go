package space

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/autotune/autotune/internal/didyoumean"
	"github.com/autotune/autotune/runner"
)

// FileError is a problem in a space file. Error() reads "space.yaml: params.max_num_seqs.choices[2]:
// "x" is not an integer".
type FileError struct {
	File string // base name of the file
	Path string // field path, e.g. params.max_num_seqs.choices[2]
	Line int    // 1-based line in the file, 0 when unknown
	Msg  string
}

func (e *FileError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Path, e.Msg)
}

// Load reads a space file (YAML or JSON) and returns the default space for this platform and workload
// with the file's changes applied. It is the only I/O of this package.
func Load(path string, p Platform, w runner.Workload) (*Space, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // an *fs.PathError: it names the file
	}
	return Parse(filepath.Base(path), data, p, w)
}

// Parse is Load on data already read; name is used in error messages.
func Parse(name string, data []byte, p Platform, w runner.Workload) (*Space, error) {
	f, err := parseFile(name, data)
	if err != nil {
		return nil, err
	}
	return build(p, w, f, name)
}

// spaceFile is a parsed space file: the top-level mapping node, walked by applyFile.
type spaceFile struct {
	name string
	root *yaml.Node
}

func parseFile(name string, data []byte) (*spaceFile, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &FileError{File: name, Msg: "not valid YAML or JSON: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &spaceFile{name: name, root: &yaml.Node{Kind: yaml.MappingNode}}, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &FileError{File: name, Line: root.Line, Msg: "the top level must be a mapping with params, env and models"}
	}
	return &spaceFile{name: name, root: root}, nil
}

// fileErr makes a FileError for the space file being applied.
func (s *Space) fileErr(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	path, rest, ok := strings.Cut(msg, ": ")
	if !ok {
		return &FileError{File: s.source, Msg: msg}
	}
	return &FileError{File: s.source, Path: path, Msg: rest}
}

type walker struct{ file string }

func (w walker) err(n *yaml.Node, path, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &FileError{File: w.file, Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// pairs returns the key/value pairs of a mapping node, or an error naming path.
func (w walker) pairs(n *yaml.Node, path string) ([][2]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, w.err(n, path, "must be a mapping")
	}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
	}
	return out, nil
}

func (w walker) scalar(n *yaml.Node, path string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", w.err(n, path, "must be a single value")
	}
	return n.Value, nil
}

func (w walker) list(n *yaml.Node, path string) ([]string, []*yaml.Node, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, nil, w.err(n, path, "must be a list")
	}
	var out []string
	for i, c := range n.Content {
		v, err := w.scalar(c, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, nil, err
		}
		out = append(out, v)
	}
	return out, n.Content, nil
}

func (w walker) number(n *yaml.Node, path string, integer bool) (float64, error) {
	v, err := w.scalar(n, path)
	if err != nil {
		return 0, err
	}
	if integer {
		i, err := strconv.ParseInt(v, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return 0, w.err(n, path, "%s is outside -2^53..2^53, the integers a study stores exactly", v)
		}
		if err != nil {
			return 0, w.err(n, path, "%q is not an integer", v)
		}
		if i > maxExactInt || i < -maxExactInt {
			return 0, w.err(n, path, "%d is outside -2^53..2^53, the integers a study stores exactly", i)
		}
		return float64(i), nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, w.err(n, path, "%q is not a finite number", v)
	}
	return f, nil
}

// maxExactInt bounds every integer of a space file: goptuna stores parameters as float64, which holds every
// integer up to 2^53 exactly, and a larger one would wrap when converted back (9223372036854775807 read as
// -9223372036854775808).
const maxExactInt = 1 << 53

var (
	nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	envRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	flagRE = regexp.MustCompile(`^--[a-z0-9][a-z0-9-]*$`)
)

var (
	topKeys     = []string{"params", "env", "models"}
	editKeys    = []string{"choices", "low", "high", "step", "fix", "drop", "help"}
	newKeys     = []string{"flag", "env", "type", "render", "choices", "low", "high", "step", "fix", "default", "when", "help"}
	variantKeys = []string{"model", "args", "env"}
)

// applyFile applies the file's models, then its parameter edits and additions, then its environment.
func (s *Space) applyFile(f *spaceFile) error {
	w := walker{file: f.name}
	top, err := w.pairs(f.root, "")
	if err != nil {
		return err
	}
	sections := map[string]*yaml.Node{}
	for _, kv := range top {
		if !slices.Contains(topKeys, kv[0].Value) {
			return w.err(kv[0], kv[0].Value, "%s", unknownField(kv[0].Value, topKeys))
		}
		sections[kv[0].Value] = kv[1]
	}
	if n := sections["models"]; n != nil {
		if err := s.applyModels(w, n); err != nil {
			return err
		}
	}
	if n := sections["params"]; n != nil {
		if err := s.applyParams(w, n); err != nil {
			return err
		}
	}
	if n := sections["env"]; n != nil {
		env, err := w.envMap(n, "env")
		if err != nil {
			return err
		}
		s.fileEnv = env
	}
	return nil
}

func (w walker) envMap(n *yaml.Node, path string) (map[string]string, error) {
	kvs, err := w.pairs(n, path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, kv := range kvs {
		p := path + "." + kv[0].Value
		if !envRE.MatchString(kv[0].Value) {
			return nil, w.err(kv[0], p, "%q is not an environment variable name", kv[0].Value)
		}
		v, err := w.scalar(kv[1], p)
		if err != nil {
			return nil, err
		}
		if kv[1].Tag == "!!null" { // `NAME:` or `NAME: ~`: empty on purpose, or a value left out?
			return nil, w.err(kv[1], p, "has no value: write \"\" to set %s to the empty string, or leave it out", kv[0].Value)
		}
		env[kv[0].Value] = v // "" is kept: the server gets NAME=
	}
	return env, nil
}

func (s *Space) applyModels(w walker, n *yaml.Node) error {
	kvs, err := w.pairs(n, "models")
	if err != nil {
		return err
	}
	model := s.find("model")
	for _, kv := range kvs {
		name, path := kv[0].Value, "models."+kv[0].Value
		if !nameRE.MatchString(name) || name == "default" {
			return w.err(kv[0], path, "%q is not a usable variant name (lower case letters, digits, _; not \"default\")", name)
		}
		fields, err := w.pairs(kv[1], path)
		if err != nil {
			return err
		}
		v := Variant{Name: name}
		for _, f := range fields {
			fp := path + "." + f[0].Value
			switch f[0].Value {
			case "model":
				if v.Model, err = w.scalar(f[1], fp); err != nil {
					return err
				}
			case "args":
				if v.Args, _, err = w.list(f[1], fp); err != nil {
					return err
				}
				for i, a := range v.Args {
					if a == "--served-model-name" {
						return w.err(f[1].Content[i], fmt.Sprintf("%s[%d]", fp, i), "--served-model-name is added by autotune (the study's model name)")
					}
				}
			case "env":
				if v.Env, err = w.envMap(f[1], fp); err != nil {
					return err
				}
			default:
				return w.err(f[0], fp, "%s", unknownField(f[0].Value, variantKeys))
			}
		}
		if strings.TrimSpace(v.Model) == "" {
			return w.err(kv[1], path+".model", "is required: the checkpoint to serve")
		}
		s.variants[name] = v
		model.Domain.Choices = append(model.Domain.Choices, name)
	}
	return nil
}

func (s *Space) find(name string) *param {
	for _, p := range s.params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func (s *Space) applyParams(w walker, n *yaml.Node) error {
	kvs, err := w.pairs(n, "params")
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		name, path := kv[0].Value, "params."+kv[0].Value
		fields, err := w.pairs(kv[1], path)
		if err != nil {
			return err
		}
		byKey := map[string][2]*yaml.Node{}
		for _, f := range fields {
			byKey[f[0].Value] = f
		}
		if p := s.find(name); p != nil {
			err = s.editParam(w, p, path, fields, byKey)
		} else {
			err = s.addParam(w, name, path, kv[0], fields, byKey)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// normalize writes numbers the way the space does ("0.90" -> "0.9", "050" -> "50") so that file values
// compare equal to built-in ones.
func normalize(v string) string {
	if f, err := strconv.ParseFloat(v, 64); err == nil && !strings.ContainsAny(v, "xXnNiI") {
		return fmtNum(f)
	}
	return v
}

func (s *Space) editParam(w walker, p *param, path string, fields [][2]*yaml.Node, byKey map[string][2]*yaml.Node) error {
	for _, f := range fields {
		if !slices.Contains(editKeys, f[0].Value) {
			if slices.Contains(newKeys, f[0].Value) {
				return w.err(f[0], path+"."+f[0].Value, "cannot be changed on a built-in parameter (only %s)", strings.Join(editKeys, ", "))
			}
			return w.err(f[0], path+"."+f[0].Value, "%s", unknownField(f[0].Value, editKeys))
		}
	}
	if d, ok := byKey["drop"]; ok {
		v, err := w.scalar(d[1], path+".drop")
		if err != nil {
			return err
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return w.err(d[1], path+".drop", "%q is not true or false", v)
		}
		if b {
			if len(fields) > 1 {
				return w.err(d[0], path+".drop", "a dropped parameter takes no other field")
			}
			s.defaults[p.Name] = p.Default
			s.params = slices.DeleteFunc(s.params, func(q *param) bool { return q == p })
			s.drop(p.Name, "", "dropped by "+w.file)
			return nil
		}
	}
	if h, ok := byKey["help"]; ok {
		v, err := w.scalar(h[1], path+".help")
		if err != nil {
			return err
		}
		p.Help = v
	}
	return s.applyDomain(w, p, path, byKey, false)
}

// applyDomain applies choices/low/high/step/fix to p.
func (s *Space) applyDomain(w walker, p *param, path string, byKey map[string][2]*yaml.Node, isNew bool) error {
	check := p.check
	if check == nil {
		check = anyValue
	}
	validate := func(n *yaml.Node, fp, v string) (string, error) {
		if !isNew {
			v = normalize(v)
		}
		if v == "default" && p.Default == "default" {
			return v, nil
		}
		if p.Name == "model" {
			if _, ok := s.variants[v]; !ok {
				return "", w.err(n, fp, "%q is not a model variant defined under models", v)
			}
			return v, nil
		}
		if err := check(v); err != nil {
			return "", w.err(n, fp, "%s", err.Error())
		}
		return v, nil
	}
	fix, hasFix := byKey["fix"]
	ch, hasChoices := byKey["choices"]
	if hasFix && hasChoices {
		return w.err(fix[0], path+".fix", "fix and choices cannot both be given")
	}
	if hasChoices {
		if p.Domain.Kind != Categorical {
			return w.err(ch[0], path+".choices", "%s is a %s parameter: give low and high", p.Name, p.Domain.Kind)
		}
		vals, nodes, err := w.list(ch[1], path+".choices")
		if err != nil {
			return err
		}
		if len(vals) == 0 {
			return w.err(ch[1], path+".choices", "must not be empty (use drop: true to leave the parameter out)")
		}
		var out []string
		for i, v := range vals {
			fp := fmt.Sprintf("%s.choices[%d]", path, i)
			nv, err := validate(nodes[i], fp, v)
			if err != nil {
				return err
			}
			if slices.Contains(out, nv) {
				return w.err(nodes[i], fp, "%q is listed twice", v)
			}
			out = append(out, nv)
		}
		p.Domain.Choices = out
	}
	if hasFix {
		v, err := w.scalar(fix[1], path+".fix")
		if err != nil {
			return err
		}
		if v == "" { // an empty Fixed means "not fixed": it would be dropped silently
			return w.err(fix[1], path+".fix", "is empty: fix a value, or use drop: true to leave the parameter out (an empty environment value goes under env:)")
		}
		nv, err := validate(fix[1], path+".fix", v)
		if err != nil {
			return err
		}
		if p.Domain.Kind != Categorical && nv != "default" && !p.Domain.contains(nv) && !isNew {
			// A numeric fix outside the built-in range is fine: it is not drawn.
			if _, err := strconv.ParseFloat(nv, 64); err != nil {
				return w.err(fix[1], path+".fix", "%q is not a number", v)
			}
		}
		p.Fixed = nv
	}
	lo, hasLo := byKey["low"]
	hi, hasHi := byKey["high"]
	st, hasStep := byKey["step"]
	if (hasLo || hasHi || hasStep) && p.Domain.Kind == Categorical {
		k := lo
		if !hasLo {
			k = hi
			if !hasHi {
				k = st
			}
		}
		return w.err(k[0], path+"."+k[0].Value, "%s is categorical: give choices", p.Name)
	}
	integer := p.Domain.isInt()
	if hasLo {
		v, err := w.number(lo[1], path+".low", integer)
		if err != nil {
			return err
		}
		p.Domain.Low = v
	}
	if hasHi {
		v, err := w.number(hi[1], path+".high", integer)
		if err != nil {
			return err
		}
		p.Domain.High = v
	}
	if hasStep {
		v, err := w.number(st[1], path+".step", integer)
		if err != nil {
			return err
		}
		if v <= 0 {
			return w.err(st[1], path+".step", "must be > 0")
		}
		if p.Domain.Kind != StepInt && p.Domain.Kind != DiscreteFloat {
			return w.err(st[0], path+".step", "only step_int and discrete_float parameters take a step")
		}
		p.Domain.Step = v
	}
	if p.Domain.Kind != Categorical {
		d := p.Domain
		if d.Low > d.High {
			n := lo[1]
			if n == nil {
				n = hi[1]
			}
			return w.err(n, path+".low", "%s is above high %s", fmtNum(d.Low), fmtNum(d.High))
		}
		if d.Kind == LogFloat && d.Low <= 0 {
			return w.err(lo[1], path+".low", "a log_float range must be above 0")
		}
		if (d.Kind == StepInt || d.Kind == DiscreteFloat) && d.Step <= 0 {
			return w.err(nil, path+".step", "is required for a %s parameter", d.Kind)
		}
		for _, x := range []struct {
			v    float64
			name string
			n    *yaml.Node
		}{{d.Low, "low", lo[1]}, {d.High, "high", hi[1]}} {
			if x.n == nil || !integer {
				continue
			}
			if err := check(strconv.Itoa(int(x.v))); err != nil {
				return w.err(x.n, path+"."+x.name, "%s", err.Error())
			}
		}
	}
	return nil
}

// addParam adds a parameter the default space does not have.
func (s *Space) addParam(w walker, name, path string, key *yaml.Node, fields [][2]*yaml.Node, byKey map[string][2]*yaml.Node) error {
	if !nameRE.MatchString(name) {
		return w.err(key, path, "%q is not a usable parameter name (lower case letters, digits and _)", name)
	}
	for _, f := range fields {
		if !slices.Contains(newKeys, f[0].Value) {
			return w.err(f[0], path+"."+f[0].Value, "%s", unknownField(f[0].Value, newKeys))
		}
	}
	get := func(k string) (string, *yaml.Node, error) {
		kv, ok := byKey[k]
		if !ok {
			return "", nil, nil
		}
		v, err := w.scalar(kv[1], path+"."+k)
		return v, kv[1], err
	}
	p := &param{Name: name, Added: true, Source: w.file}
	flag, flagNode, err := get("flag")
	if err != nil {
		return err
	}
	envName, envNode, err := get("env")
	if err != nil {
		return err
	}
	switch {
	case flag == "" && envName == "":
		if near, ok := didyoumean.Closest(name, s.paramNames()); ok {
			return w.err(key, path, "%q is not a built-in parameter; did you mean %s? (a new parameter needs flag or env)", name, near)
		}
		return w.err(key, path, "a new parameter needs flag or env (%q is not a built-in parameter)", name)
	case flag != "" && envName != "":
		return w.err(envNode, path+".env", "give flag or env, not both")
	case flag != "":
		if !flagRE.MatchString(flag) {
			return w.err(flagNode, path+".flag", "%q is not a long flag (--name)", flag)
		}
		for _, q := range s.params {
			if q.Flag == flag || (q.Render == renderSwitch && negate(q.Flag) == flag) {
				return w.err(flagNode, path+".flag", "%s belongs to the built-in parameter %s: edit that one instead", flag, q.Name)
			}
		}
		for _, f := range []string{"--model", "--host", "--port", "--served-model-name"} {
			if flag == f {
				return w.err(flagNode, path+".flag", "%s is set by autotune", flag)
			}
		}
		p.Flag, p.Render = flag, renderValue
	default:
		if !envRE.MatchString(envName) {
			return w.err(envNode, path+".env", "%q is not an environment variable name", envName)
		}
		p.Env, p.Render = envName, renderEnv
	}
	render, renderNode, err := get("render")
	if err != nil {
		return err
	}
	if render != "" {
		if p.Flag == "" {
			return w.err(renderNode, path+".render", "only a flag parameter takes render")
		}
		if !slices.Contains(fileRenderKinds, render) {
			return w.err(renderNode, path+".render", "%q is not one of %s", render, strings.Join(fileRenderKinds, ", "))
		}
		p.Render = render
	}
	typ, typNode, err := get("type")
	if err != nil {
		return err
	}
	kinds := map[string]Kind{}
	for k, n := range kindNames {
		kinds[n] = k
	}
	switch {
	case typ == "":
		p.Domain.Kind = Categorical
	default:
		k, ok := kinds[typ]
		if !ok {
			return w.err(typNode, path+".type", "%q is not one of categorical, int, step_int, float, discrete_float, log_float", typ)
		}
		p.Domain.Kind = k
	}
	switch {
	case p.Domain.isInt():
		p.check = intIn(-maxExactInt, maxExactInt)
	case p.Domain.Kind != Categorical:
		p.check = func(v string) error {
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return fmt.Errorf("%q is not a number", v)
			}
			return nil
		}
	}
	if p.Render == renderSwitch {
		p.check = oneOf("on", "off", "true", "false")
		if p.Domain.Kind != Categorical {
			return w.err(typNode, path+".type", "a switch is categorical")
		}
	}
	if p.Render == renderJSON {
		p.check = func(v string) error {
			if !jsonValid(v) {
				return fmt.Errorf("%q is not valid JSON", v)
			}
			return nil
		}
	}
	if p.Domain.Kind == Categorical {
		p.Default = "default"
		if def, defNode, err := get("default"); err != nil {
			return err
		} else if defNode != nil {
			p.Default = def
		}
		if _, ok := byKey["choices"]; !ok {
			if _, ok := byKey["fix"]; !ok {
				return w.err(key, path+".choices", "is required for a categorical parameter (or fix)")
			}
		}
	} else {
		if _, ok := byKey["default"]; ok {
			return w.err(byKey["default"][0], path+".default", "only a categorical parameter has a default choice")
		}
		_, hasLo := byKey["low"]
		_, hasHi := byKey["high"]
		_, hasFix := byKey["fix"]
		if !hasFix && (!hasLo || !hasHi) {
			return w.err(key, path, "a %s parameter needs low and high (or fix)", p.Domain.Kind)
		}
	}
	if h, _, err := get("help"); err != nil {
		return err
	} else {
		p.Help = h
	}
	if err := s.applyDomain(w, p, path, byKey, true); err != nil {
		return err
	}
	if kv, ok := byKey["when"]; ok {
		conds, err := s.parseWhen(w, kv[1], path+".when")
		if err != nil {
			return err
		}
		p.When = conds
	}
	s.params = append(s.params, p)
	return nil
}

func (s *Space) parseWhen(w walker, n *yaml.Node, path string) ([]Cond, error) {
	kvs, err := w.pairs(n, path)
	if err != nil {
		return nil, err
	}
	var conds []Cond
	for _, kv := range kvs {
		fp := path + "." + kv[0].Value
		parent := s.find(kv[0].Value)
		if parent == nil {
			if near, ok := didyoumean.Closest(kv[0].Value, s.paramNames()); ok {
				return nil, w.err(kv[0], fp, "%q is not a parameter defined before this one; did you mean %s?", kv[0].Value, near)
			}
			return nil, w.err(kv[0], fp, "%q is not a parameter defined before this one", kv[0].Value)
		}
		var vals []string
		if kv[1].Kind == yaml.ScalarNode {
			vals = []string{kv[1].Value}
		} else if vals, _, err = w.list(kv[1], fp); err != nil {
			return nil, err
		}
		for i := range vals {
			if !parent.Added {
				vals[i] = normalize(vals[i])
			}
			if parent.Domain.Kind == Categorical && vals[i] != parent.Default && !slices.Contains(parent.Domain.Choices, vals[i]) {
				return nil, w.err(kv[1], fp, "%q is not a value of %s (%s)", vals[i], parent.Name, parent.Domain)
			}
		}
		conds = append(conds, Cond{Param: parent.Name, In: vals})
	}
	return conds, nil
}

// unknownField is the message for a field that is not one of want, with the field probably meant.
func unknownField(got string, want []string) string {
	if near, ok := didyoumean.Closest(got, want); ok {
		return fmt.Sprintf("unknown field; did you mean %s? (want one of %s)", near, strings.Join(want, ", "))
	}
	return fmt.Sprintf("unknown field (want one of %s)", strings.Join(want, ", "))
}

// paramNames are the names of the parameters in force, for suggestions.
func (s *Space) paramNames() []string {
	names := make([]string, len(s.params))
	for i, p := range s.params {
		names[i] = p.Name
	}
	return names
}

func jsonValid(v string) bool { return json.Valid([]byte(v)) }
