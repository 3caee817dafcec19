package model

import (
	"sort"
	"strconv"
	"strings"
)

// Helpers for the Python values of parsed flags and JSON configs, and for vLLM's messages about them.

func containsInt(list []int, x int) bool {
	for _, v := range list {
		if v == x {
			return true
		}
	}
	return false
}

func intOf(v any) (int, bool) {
	switch t := v.(type) {
	case int64:
		return int(t), true
	case float64:
		if t == float64(int(t)) {
			return int(t), true
		}
	case string:
		if n, err := strconv.Atoi(t); err == nil {
			return n, true
		}
	}
	return 0, false
}

func numberOf(v any) (float64, bool) {
	switch t := v.(type) {
	case int64:
		return float64(t), true
	case float64:
		return t, true
	case string:
		if f, err := strconv.ParseFloat(t, 64); err == nil {
			return f, true
		}
	}
	return 0, false
}

func pyType(v any) string {
	switch v.(type) {
	case string:
		return "str"
	case int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return "NoneType"
}

func quoteList(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = "'" + s + "'"
	}
	return out
}

func toAny(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

func sortedKeysAny(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// nonDefaultArgs renders the API server's "non-default args" dict (vllm/entrypoints/utils.py:213).
func nonDefaultArgs(a *ServeArgs) string {
	parts := []string{}
	if a.Model != "" {
		parts = append(parts, "'model_tag': '"+a.Model+"'")
	}
	for _, d := range a.Order {
		parts = append(parts, "'"+d+"': "+pyRepr(a.Values[d]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
