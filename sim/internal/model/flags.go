package model

import (
	"fmt"
	"strconv"
	"strings"
)

// This file parses a `vllm serve` command line the way vLLM 0.15.1's FlexibleArgumentParser (argparse) does
// (docs/vllm.md §2.1): dashes and underscores are interchangeable, unique prefixes of long flags are
// accepted, ambiguous ones are refused, BooleanOptionalAction gives --x/--no-x, -O3/-O 3/-O=3 mean
// --optimization-level 3, JSON flags can be given whole or by dotted keys (-cc.mode 3, key+ appends), and the
// human-readable ints take k (1000) and K (1024) suffixes. Errors are argparse's, exit status 2.

// flagKind is how a flag takes its value.
type flagKind int

const (
	kStr       flagKind = iota // one string
	kInt                       // one int
	kFloat                     // one float
	kHInt                      // human-readable int: 2k, 2K, 25.6k (argparse_utils.py:29-91)
	kMaxLen                    // human-readable int, or -1 / auto
	kBoolOpt                   // argparse.BooleanOptionalAction: --x / --no-x
	kStoreTrue                 // store_true
	kJSON                      // a JSON object, or dotted keys
	kIntList                   // nargs="+" ints
	kStrList                   // nargs="+" strings
	kOptStr                    // nargs="?" with const=True: --hf-token [VALUE]
	kHelp                      // -h/--help[=all|GROUP|keyword]
)

// flagSpec describes one accepted flag.
type flagSpec struct {
	name    string   // canonical long spelling, e.g. "--max-num-seqs"
	short   []string // other option strings, e.g. "-q"
	kind    flagKind
	choices []string // for kStr / kInt; checked after conversion
	def     string   // default as shown in help
	group   string
	help    string
	// unmodelled: vLLM 0.15.1 accepts the option, the simulator parses it with the right arity and ignores it.
	unmodelled bool
}

// dest is the attribute name argparse stores the value under.
func (f *flagSpec) dest() string {
	return strings.ReplaceAll(strings.TrimPrefix(f.name, "--"), "-", "_")
}

// argName is how argparse names the argument in an error message.
func (f *flagSpec) argName() string {
	if f.kind == kBoolOpt {
		return f.name + "/--no-" + strings.TrimPrefix(f.name, "--")
	}
	if len(f.short) > 0 {
		return f.name + "/" + strings.Join(f.short, "/")
	}
	return f.name
}

func (f *flagSpec) metavar() string {
	return strings.ToUpper(f.dest())
}

// ArgError is an argparse failure: the process prints Usage and Message on stderr and exits with status 2.
type ArgError struct {
	Prog    string // "vllm" for unrecognized arguments (top-level parser), "vllm serve" otherwise
	Usage   string
	Message string // e.g. "unrecognized arguments: --foo"
}

func (e *ArgError) Error() string { return e.Prog + ": error: " + e.Message }

// Text is exactly what argparse writes to stderr.
func (e *ArgError) Text() string { return e.Usage + "\n" + e.Prog + ": error: " + e.Message + "\n" }

const (
	serveUsage = "usage: vllm serve [model_tag] [options]"
	TopUsage   = "usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ..." // `vllm`'s own usage line
)

func serveErr(format string, a ...any) *ArgError {
	return &ArgError{Prog: "vllm serve", Usage: serveUsage, Message: fmt.Sprintf(format, a...)}
}

// ServeArgs is a parsed `vllm serve` command line: the values as argparse stores them, keyed by dest.
type ServeArgs struct {
	Model  string         // the positional model_tag
	Values map[string]any // dest -> string, int64, float64, bool, []int64, []string or map[string]any
	Order  []string       // dests in the order they were first given (for the "non-default args" log line)
	// Help is "short", "all" or a group/keyword when --help was given; parsing stops there.
	Help string
}

// Has reports whether the flag with this dest was given.
func (a *ServeArgs) Has(dest string) bool { _, ok := a.Values[dest]; return ok }

func (a *ServeArgs) str(dest, def string) string {
	if v, ok := a.Values[dest].(string); ok {
		return v
	}
	return def
}

func (a *ServeArgs) int(dest string, def int64) int64 {
	if v, ok := a.Values[dest].(int64); ok {
		return v
	}
	return def
}

func (a *ServeArgs) float(dest string, def float64) float64 {
	if v, ok := a.Values[dest].(float64); ok {
		return v
	}
	return def
}

func (a *ServeArgs) Bool(dest string) *bool {
	if v, ok := a.Values[dest].(bool); ok {
		return &v
	}
	return nil
}

func (a *ServeArgs) json(dest string) map[string]any {
	if v, ok := a.Values[dest].(map[string]any); ok {
		return v
	}
	return nil
}

func (a *ServeArgs) set(dest string, v any) {
	if _, ok := a.Values[dest]; !ok {
		a.Order = append(a.Order, dest)
	}
	a.Values[dest] = v
}

// ParseServeArgs parses the arguments after `vllm serve` with vLLM 0.15.1's flag set. The error, when not
// nil, is an *ArgError whose Text() is what argparse prints.
func ParseServeArgs(args []string) (*ServeArgs, error) {
	res := &ServeArgs{Values: map[string]any{}}
	args = preprocessArgs(args)
	var extras []string
	for i := 0; i < len(args); i++ {
		tok := args[i]
		if tok == "--" {
			for _, rest := range args[i+1:] {
				if res.Model == "" {
					res.Model = rest
				} else {
					extras = append(extras, rest)
				}
			}
			break
		}
		if !LooksLikeOption(tok) {
			if res.Model == "" {
				res.Model = tok
			} else {
				extras = append(extras, tok)
			}
			continue
		}
		name, val, hasVal := strings.Cut(tok, "=")
		// Dotted JSON keys: -cc.mode 3, --compilation-config.cudagraph_capture_sizes+ 50
		if base, key, dotted := strings.Cut(name, "."); dotted {
			ref, err := lookupFlag(base)
			if err != nil {
				return nil, err
			}
			spec := ref.spec
			if spec == nil || spec.kind != kJSON {
				extras = append(extras, tok)
				continue
			}
			if !hasVal {
				if i+1 >= len(args) {
					return nil, serveErr("argument %s: expected one argument", name)
				}
				i++
				val = args[i]
			}
			obj := res.json(spec.dest())
			if obj == nil {
				obj = map[string]any{}
			}
			setDotted(obj, key, parseLooseJSON(val))
			res.set(spec.dest(), obj)
			continue
		}
		ref, err := lookupFlag(name)
		if err != nil {
			return nil, err
		}
		spec, negated := ref.spec, ref.neg
		if spec == nil {
			extras = append(extras, tok)
			continue
		}
		switch spec.kind {
		case kHelp:
			res.Help = "short"
			if hasVal {
				res.Help = val
			}
			return res, nil
		case kBoolOpt, kStoreTrue:
			if hasVal {
				return nil, serveErr("argument %s: ignored explicit argument '%s'", spec.argName(), val)
			}
			res.set(spec.dest(), !negated)
			continue
		case kOptStr:
			switch {
			case hasVal:
				res.set(spec.dest(), val)
			case i+1 < len(args) && !LooksLikeOption(args[i+1]):
				i++
				res.set(spec.dest(), args[i])
			default:
				res.set(spec.dest(), true) // const=True
			}
			continue
		case kIntList, kStrList:
			var items []string
			if hasVal {
				items = append(items, val)
			}
			for i+1 < len(args) && !LooksLikeOption(args[i+1]) {
				i++
				items = append(items, args[i])
			}
			if len(items) == 0 {
				return nil, serveErr("argument %s: expected at least one argument", spec.argName())
			}
			if spec.kind == kStrList {
				res.set(spec.dest(), items)
				continue
			}
			ints := make([]int64, 0, len(items))
			for _, it := range items {
				n, err := strconv.ParseInt(it, 10, 64)
				if err != nil {
					return nil, serveErr("argument %s: invalid int value: '%s'", spec.argName(), it)
				}
				ints = append(ints, n)
			}
			res.set(spec.dest(), ints)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) || (LooksLikeOption(args[i+1]) && spec.kind != kJSON) {
				return nil, serveErr("argument %s: expected one argument", spec.argName())
			}
			i++
			val = args[i]
		}
		v, err := convertValue(spec, val)
		if err != nil {
			return nil, err
		}
		if spec.kind == kJSON {
			// A whole JSON value replaces earlier dotted keys, then later dotted keys merge into it.
			if old := res.json(spec.dest()); old != nil {
				for k, ov := range v.(map[string]any) {
					old[k] = ov
				}
				v = old
			}
		}
		res.set(spec.dest(), v)
	}
	if len(extras) > 0 {
		return nil, &ArgError{Prog: "vllm", Usage: TopUsage, Message: "unrecognized arguments: " + strings.Join(extras, " ")}
	}
	return res, nil
}

// CheckServeArgs returns nil when args parse under vLLM 0.15.1's `vllm serve` flag set, otherwise the
// argparse error text (e.g. "vllm: error: unrecognized arguments: --performance-mode throughput").
func CheckServeArgs(args []string) error {
	_, err := ParseServeArgs(args)
	return err
}

// preprocessArgs applies FlexibleArgumentParser's rewriting (argparse_utils.py:301-333): underscores in long
// flag names become dashes, and -O3 / -O=3 become --optimization-level 3.
func preprocessArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "--") && len(a) > 2:
			name, val, hasVal := strings.Cut(a, "=")
			base, key, dotted := strings.Cut(name, ".")
			base = strings.ReplaceAll(base, "_", "-")
			if dotted {
				base += "." + key
			}
			if hasVal {
				base += "=" + val
			}
			out = append(out, base)
		case a == "-O":
			out = append(out, "--optimization-level")
		case strings.HasPrefix(a, "-O") && !strings.HasPrefix(a, "-O."):
			out = append(out, "--optimization-level", strings.TrimPrefix(strings.TrimPrefix(a, "-O"), "="))
		default:
			out = append(out, a)
		}
	}
	return out
}

// LooksLikeOption mirrors argparse: a token starting with '-' is an option unless it is a negative number.
func LooksLikeOption(tok string) bool {
	if !strings.HasPrefix(tok, "-") || tok == "-" {
		return false
	}
	if _, err := strconv.ParseFloat(tok, 64); err == nil {
		return false
	}
	return true
}

// optRef is one option string: the flag it belongs to and whether it is the --no-x form.
type optRef struct {
	spec *flagSpec
	neg  bool
}

// lookupFlag resolves an option string: exact match first, then (long options only) a unique prefix, like
// argparse with allow_abbrev. It returns a nil spec for an unknown option and an *ArgError when ambiguous.
func lookupFlag(name string) (optRef, error) {
	if r, ok := flagIndex()[name]; ok {
		return r, nil
	}
	if !strings.HasPrefix(name, "--") {
		return optRef{}, nil
	}
	var matches []string
	var hit optRef
	for _, opt := range optionStrings() {
		if strings.HasPrefix(opt, name) {
			matches = append(matches, opt)
			hit = flagIndex()[opt]
		}
	}
	switch len(matches) {
	case 0:
		return optRef{}, nil
	case 1:
		return hit, nil
	}
	return optRef{}, serveErr("ambiguous option: %s could match %s", name, strings.Join(matches, ", "))
}
