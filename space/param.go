package space

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind is the shape of a parameter's domain. Each kind maps to one Suggester method, and therefore to one
// goptuna distribution.
type Kind int

// The domain kinds.
const (
	Categorical   Kind = iota // SuggestCategorical(name, Choices)
	Int                       // SuggestInt(name, Low, High)
	StepInt                   // SuggestStepInt(name, Low, High, Step)
	Float                     // SuggestFloat(name, Low, High)
	DiscreteFloat             // SuggestDiscreteFloat(name, Low, High, Step)
	LogFloat                  // SuggestLogFloat(name, Low, High)
)

var kindNames = map[Kind]string{
	Categorical:   "categorical",
	Int:           "int",
	StepInt:       "step_int",
	Float:         "float",
	DiscreteFloat: "discrete_float",
	LogFloat:      "log_float",
}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Domain is the set of values a parameter is drawn from. goptuna requires a parameter name to be drawn
// from the same domain in every trial, so a domain never depends on other parameters' values: dependent
// limits are enforced by repair after drawing (see repair.go).
type Domain struct {
	Kind    Kind
	Choices []string // Categorical only
	Low     float64  // numeric kinds; integers are held exactly
	High    float64
	Step    float64 // StepInt step, DiscreteFloat q
}

// String renders the domain for people: "default | 50 | 64", "int [2, 8]", "log_float [0.1, 1]".
func (d Domain) String() string {
	switch d.Kind {
	case Categorical:
		return strings.Join(d.Choices, " | ")
	case StepInt, DiscreteFloat:
		return fmt.Sprintf("%s [%s, %s] step %s", d.Kind, fmtNum(d.Low), fmtNum(d.High), fmtNum(d.Step))
	default:
		return fmt.Sprintf("%s [%s, %s]", d.Kind, fmtNum(d.Low), fmtNum(d.High))
	}
}

func (d Domain) isInt() bool { return d.Kind == Int || d.Kind == StepInt }

// contains reports whether v (a value as held in Config.Params) is a point of the domain.
func (d Domain) contains(v string) bool {
	switch d.Kind {
	case Categorical:
		return indexOf(d.Choices, v) >= 0
	case Int, StepInt:
		n, err := strconv.Atoi(v)
		if err != nil || float64(n) < d.Low || float64(n) > d.High {
			return false
		}
		return d.Kind == Int || (n-int(d.Low))%int(d.Step) == 0
	default:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || f < d.Low || f > d.High {
			return false
		}
		if d.Kind == DiscreteFloat {
			k := (f - d.Low) / d.Step
			return math.Abs(k-math.Round(k)) < 1e-6
		}
		return true
	}
}

// internal returns goptuna's internal representation of v, the float64 that goptuna stores for the
// parameter and that Study.EnqueueTrial expects: the index of the choice for a categorical parameter, the
// number itself for every numeric kind (goptuna keeps log-uniform values unlogged). It refuses values that
// goptuna's Trial.isFixedParam would not recognise as fixed (for StepInt goptuna only accepts values
// strictly below High, see StepIntUniformDistribution.Contains), because such a point would be silently
// resampled instead of replayed.
func (d Domain) internal(v string) (float64, error) {
	if !d.contains(v) {
		return 0, fmt.Errorf("%q is not in the domain %s", v, d)
	}
	switch d.Kind {
	case Categorical:
		return float64(indexOf(d.Choices, v)), nil
	case Int, StepInt:
		n, _ := strconv.Atoi(v)
		if d.Kind == StepInt && float64(n) == d.High && d.High-d.Low >= d.Step {
			return 0, fmt.Errorf("%q is the upper end of %s: goptuna v0.9.0 does not replay it as a fixed "+
				"value (StepIntUniformDistribution.Contains excludes High)", v, d)
		}
		return float64(n), nil
	default:
		f, _ := strconv.ParseFloat(v, 64)
		return f, nil
	}
}

// suggest draws one value through s and returns it as held in Config.Params.
func (d Domain) suggest(s Suggester, name string) (string, error) {
	switch d.Kind {
	case Categorical:
		v, err := s.SuggestCategorical(name, d.Choices)
		if err != nil {
			return "", err
		}
		if indexOf(d.Choices, v) < 0 {
			return "", fmt.Errorf("suggester returned %q, not one of %v", v, d.Choices)
		}
		return v, nil
	case Int:
		n, err := s.SuggestInt(name, int(d.Low), int(d.High))
		if err != nil {
			return "", err
		}
		return d.checked(strconv.Itoa(n))
	case StepInt:
		n, err := s.SuggestStepInt(name, int(d.Low), int(d.High), int(d.Step))
		if err != nil {
			return "", err
		}
		return d.checked(strconv.Itoa(n))
	case Float:
		f, err := s.SuggestFloat(name, d.Low, d.High)
		if err != nil {
			return "", err
		}
		return d.checked(d.formatFloat(f))
	case DiscreteFloat:
		f, err := s.SuggestDiscreteFloat(name, d.Low, d.High, d.Step)
		if err != nil {
			return "", err
		}
		return d.checked(d.formatFloat(f))
	case LogFloat:
		f, err := s.SuggestLogFloat(name, d.Low, d.High)
		if err != nil {
			return "", err
		}
		return d.checked(d.formatFloat(f))
	}
	return "", fmt.Errorf("unknown domain kind %v", d.Kind)
}

func (d Domain) checked(v string) (string, error) {
	if !d.contains(v) {
		return "", fmt.Errorf("suggester returned %s, outside %s", v, d)
	}
	return v, nil
}

// formatFloat renders a drawn float so that it reads well on a command line and parses back to a point
// of the domain: discrete floats are rounded to their grid, continuous ones to 6 significant digits
// (clamped into the domain, so that rounding never leaves it).
func (d Domain) formatFloat(f float64) string {
	if d.Kind == DiscreteFloat {
		k := math.Round((f - d.Low) / d.Step)
		f = d.Low + k*d.Step
		dec := decimals(d.Step)
		if ld := decimals(d.Low); ld > dec {
			dec = ld
		}
		return strconv.FormatFloat(f, 'f', dec, 64)
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 6, 64), 64)
	r = math.Min(math.Max(r, d.Low), d.High)
	return fmtNum(r)
}

// decimals is the number of decimal places needed to write x exactly (up to 9).
func decimals(x float64) int {
	for n := 0; n < 9; n++ {
		p := math.Pow(10, float64(n))
		if math.Abs(x*p-math.Round(x*p)) < 1e-9 {
			return n
		}
	}
	return 9
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func indexOf(list []string, v string) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return -1
}

// Cond is one applicability condition: the parameter applies only when Param's value is one of In (or,
// with Not, is none of them). A parameter that is not in force, or does not apply itself, counts as
// holding its default value, so conditions stay meaningful when a space file drops a parent.
type Cond struct {
	Param string
	In    []string
	Not   bool
}

func (c Cond) String() string {
	op := "in"
	if c.Not {
		op = "not in"
	}
	return fmt.Sprintf("%s %s {%s}", c.Param, op, strings.Join(c.In, ", "))
}

// Render kinds: how a value becomes command-line arguments or environment variables.
const (
	renderValue  = "value"  // --flag V (nothing for the default value)
	renderSwitch = "switch" // on/true: --flag; off/false: --no-flag (argparse BooleanOptionalAction)
	renderList   = "list"   // --flag V1 V2 ... (argparse nargs="+"); V is a comma- or space-separated list
	renderJSON   = "json"   // --flag '<compact JSON>' as one argument
	renderEnv    = "env"    // NAME=V in Config.Env

	// Built-in renderers with their own logic (render.go).
	renderQuiet        = "quiet"        // rendered by another parameter (speculative's sub-parameters)
	renderSpeculative  = "speculative"  // --speculative-config JSON from several parameters
	renderCUDAGraph    = "cudagraph"    // capture sizes, spelled per vLLM version
	renderOptimization = "optimization" // -O level or --enforce-eager
	renderAttention    = "attention"    // --attention-backend or VLLM_ATTENTION_BACKEND
	renderModel        = "model"        // model variant
)

var fileRenderKinds = []string{renderValue, renderSwitch, renderList, renderJSON}

// param is one parameter of a space.
type param struct {
	Name    string // goptuna parameter name; stored in study databases, so never renamed
	Flag    string // long flag it sets, "" if none
	Env     string // environment variable it sets instead of a flag
	Render  string // one of the render kinds above
	Domain  Domain
	Default string // value meaning "leave it to vLLM" (renders nothing); "" if every value renders
	Fixed   string // when non-empty: not searched, always this value
	When    []Cond
	Help    string
	Source  string // where the facts behind it are (reference section)
	Added   bool   // added by a space file
	check   func(v string) error
}

// searched reports whether the parameter is drawn through the Suggester.
func (p *param) searched() bool { return p.Fixed == "" }

// assignment maps parameter names to values as held in Config.Params.
type assignment map[string]string

func (a assignment) clone() assignment {
	b := make(assignment, len(a))
	for k, v := range a {
		b[k] = v
	}
	return b
}

// intOr returns the integer value of name, or def when it is absent or holds "default".
func (a assignment) intOr(name string, def int) (int, bool) {
	v, ok := a[name]
	if !ok || v == "default" {
		return def, false
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return def, false
	}
	return n, true
}
