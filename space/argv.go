package space

// This file is the argv parser: it reads a `vllm serve` command line the way vLLM's argparse would, for the
// flags this package knows, so that the rules in rules.go can be checked against any argv.

import (
	"fmt"
	"strconv"
	"strings"
)

// serveArgv is a parsed `vllm serve` argv (flags only).
type serveArgv struct {
	flags map[string][]string
	order []string // flags in order of first appearance
	dups  []string
}

func (sa *serveArgv) has(f string) bool { _, ok := sa.flags[f]; return ok }

func (sa *serveArgv) last(f string) string {
	v := sa.flags[f]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func (sa *serveArgv) intFlag(f string) (int, bool) {
	n, err := strconv.Atoi(sa.last(f))
	return n, err == nil
}

// boolFlags take no value (store_true or BooleanOptionalAction, §2.1); every "--no-x" is one too.
var boolFlags = map[string]bool{
	"--enforce-eager": true, "--async-scheduling": true, "--enable-prefix-caching": true,
	"--enable-chunked-prefill": true, "--disable-log-stats": true, "--enable-lora": true,
	"--allow-deprecated-quantization": true, "--trust-remote-code": true, "--disable-uvicorn-access-log": true,
	"--enable-log-requests": true, "--disable-log-requests": true, "--fail-on-environ-validation": true,
}

// listFlags take one or more values (argparse nargs="+").
var listFlags = map[string]bool{"--cudagraph-capture-sizes": true, "--cuda-graph-sizes": true, "--served-model-name": true}

// parseServeArgv reads argv the way vLLM's parser would for the flags this package knows: "--x=v" and "--x v",
// underscores as dashes in names (§2.1), "-O1"/"-O 1"/"-O=1" as --optimization-level. Flags of space-file
// parameters take their render kind into account.
func (s *Space) parseServeArgv(args []string) (*serveArgv, error) {
	sa := &serveArgv{flags: map[string][]string{}}
	isBool := func(f string) bool { return boolFlags[f] || strings.HasPrefix(f, "--no-") }
	isList := func(f string) bool { return listFlags[f] }
	extraBool := map[string]bool{}
	extraList := map[string]bool{}
	for _, p := range s.params {
		if !p.Added || p.Flag == "" {
			continue
		}
		switch p.Render {
		case renderSwitch:
			extraBool[p.Flag], extraBool[negate(p.Flag)] = true, true
		case renderList:
			extraList[p.Flag] = true
		}
	}
	add := func(f string, vals ...string) {
		if _, seen := sa.flags[f]; seen {
			sa.dups = append(sa.dups, f)
		} else {
			sa.order = append(sa.order, f)
		}
		sa.flags[f] = append(sa.flags[f], vals...)
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && !strings.HasPrefix(a, "-O") {
			// Short aliases (§2.3): -q, -sc, -cc, -ac, -asc, also with dotted JSON keys (-cc.mode 3).
			name, rest, _ := strings.Cut(a, "=")
			base, key, dotted := strings.Cut(name, ".")
			if long, ok := shortFlags[base]; ok {
				a = long
				if dotted {
					a += "." + key
				}
				if rest != "" || strings.Contains(args[i], "=") {
					a += "=" + rest
				}
			}
		}
		switch {
		case strings.HasPrefix(a, "-O"):
			v := strings.TrimPrefix(strings.TrimPrefix(a, "-O"), "=")
			if v == "" {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("argument -O: expected one argument")
				}
				i++
				v = args[i]
			}
			add("--optimization-level", v)
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a, "=")
			base, key, dotted := strings.Cut(name, ".")
			name = "--" + strings.ReplaceAll(strings.TrimPrefix(base, "--"), "_", "-")
			if dotted {
				name += "." + key // a JSON key of the flag, as given (§2.1)
			}
			if hasVal {
				add(name, val)
				continue
			}
			if isBool(name) || extraBool[name] {
				add(name)
				continue
			}
			if isList(name) || extraList[name] {
				var vals []string
				for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
					i++
					vals = append(vals, args[i])
				}
				if len(vals) == 0 {
					return nil, fmt.Errorf("argument %s: expected at least one argument", name)
				}
				add(name, vals...)
				continue
			}
			if i+1 < len(args) && (!strings.HasPrefix(args[i+1], "-") || isNumber(args[i+1])) {
				i++
				add(name, args[i])
				continue
			}
			add(name) // an unknown flag without a value
		case strings.HasPrefix(a, "-") && !isNumber(a):
			// An unknown short option: argparse would refuse it; keep it so the flag rule reports it.
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				add(a, args[i])
			} else {
				add(a)
			}
		default:
			return nil, fmt.Errorf("unrecognized arguments: %s", a)
		}
	}
	return sa, nil
}

// shortFlags are the short aliases of §2.3.
var shortFlags = map[string]string{
	"-q": "--quantization", "-sc": "--speculative-config", "-cc": "--compilation-config",
	"-ac": "--attention-config", "-asc": "--api-server-count",
}

func isNumber(s string) bool { _, err := strconv.ParseFloat(s, 64); return err == nil }
