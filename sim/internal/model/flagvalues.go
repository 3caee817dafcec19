package model

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Flag values as vLLM's argparse converts them (human-readable integers, loose JSON, dotted keys) and as its
// messages quote them (choices, Python repr), for the parser of flags.go.

func convertValue(spec *flagSpec, val string) (any, error) {
	switch spec.kind {
	case kStr:
		if len(spec.choices) > 0 && !contains(spec.choices, val) {
			return nil, serveErr("argument %s: invalid choice: '%s' (choose from %s)", spec.argName(), val, quoteChoices(spec.choices))
		}
		return val, nil
	case kInt:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return nil, serveErr("argument %s: invalid int value: '%s'", spec.argName(), val)
		}
		if len(spec.choices) > 0 && !contains(spec.choices, strconv.FormatInt(n, 10)) {
			return nil, serveErr("argument %s: invalid choice: %d (choose from %s)", spec.argName(), n, strings.Join(spec.choices, ", "))
		}
		return n, nil
	case kFloat:
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || strings.ContainsAny(val, "xX") {
			return nil, serveErr("argument %s: invalid float value: '%s'", spec.argName(), val)
		}
		return f, nil
	case kHInt:
		n, ok := parseHumanInt(val)
		if !ok {
			return nil, serveErr("argument %s: invalid human_readable_int value: '%s'", spec.argName(), val)
		}
		return n, nil
	case kMaxLen:
		if v := strings.ToLower(val); v == "auto" || v == "-1" {
			return int64(-1), nil
		}
		n, ok := parseHumanInt(val)
		if !ok {
			return nil, serveErr("argument %s: invalid human_readable_int value: '%s'", spec.argName(), val)
		}
		return n, nil
	case kJSON:
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(val))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil || obj == nil {
			return nil, serveErr("argument %s: invalid loads value: '%s'", spec.argName(), val)
		}
		return normalizeJSON(obj).(map[string]any), nil
	}
	return nil, serveErr("argument %s: unsupported", spec.argName())
}

// parseHumanInt accepts 2048, 2k (2000), 2K (2048), 25.6k, 1m, 1M, 1g, 1G (argparse_utils.py:29-91).
// Decimals are allowed with decimal (lower-case) suffixes only.
func parseHumanInt(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	last := s[len(s)-1]
	num := s[:len(s)-1]
	dec := map[byte]float64{'k': 1e3, 'm': 1e6, 'g': 1e9, 't': 1e12}
	bin := map[byte]int64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}
	if m, ok := dec[last]; ok {
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return int64(math.Round(f * m)), true
	}
	if m, ok := bin[last]; ok {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, false
		}
		return n * m, true
	}
	return 0, false
}

// parseLooseJSON reads a dotted-key value: JSON if it parses, else the plain string.
func parseLooseJSON(s string) any {
	var v any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&v); err == nil && !dec.More() {
		return normalizeJSON(v)
	}
	return s
}

// normalizeJSON turns json.Number into int64 or float64.
func normalizeJSON(v any) any {
	switch t := v.(type) {
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return n
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, x := range t {
			t[k] = normalizeJSON(x)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = normalizeJSON(x)
		}
		return t
	}
	return v
}

// setDotted sets obj[a][b]... = v for key "a.b"; a trailing "+" appends to a list (argparse_utils.py:117-125).
func setDotted(obj map[string]any, key string, v any) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		p = strings.ReplaceAll(p, "-", "_")
		next, ok := obj[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[p] = next
		}
		obj = next
	}
	last := strings.ReplaceAll(parts[len(parts)-1], "-", "_")
	if strings.HasSuffix(last, "+") {
		last = strings.TrimSuffix(last, "+")
		list, _ := obj[last].([]any)
		obj[last] = append(list, v)
		return
	}
	obj[last] = v
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quoteChoices(choices []string) string {
	q := make([]string, len(choices))
	for i, c := range choices {
		q[i] = "'" + c + "'"
	}
	return strings.Join(q, ", ")
}

// pyRepr renders a parsed value like Python's repr, for the "non-default args" log line.
func pyRepr(v any) string {
	switch t := v.(type) {
	case string:
		return "'" + t + "'"
	case bool:
		if t {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		s := strconv.FormatFloat(t, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	case []int64:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = strconv.FormatInt(x, 10)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []string:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = "'" + x + "'"
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = pyRepr(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = "'" + k + "': " + pyRepr(t[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case nil:
		return "None"
	}
	return fmt.Sprint(v)
}
