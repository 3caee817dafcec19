package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Sentinel strings that stand in for Python's bare NaN / Infinity / -Infinity while encoding/json decodes.
const (
	nanSentinel    = "\x00NaN"
	posInfSentinel = "\x00+Infinity"
	negInfSentinel = "\x00-Infinity"
)

// ParseBench parses the JSON that `vllm bench serve --save-result` writes (reference §13.8). It accepts what
// Python's json.dump writes and strict parsers refuse: the bare tokens NaN, Infinity and -Infinity outside
// strings (decoded as float64 NaN and ±Inf); request_rate may be a number or the string "inf". With
// --append-result (one object per line) the last object counts. Missing or truncated JSON, or an object
// without num_prompts, completed and output_throughput, is an error. Without "failed" (files of the older
// benchmark_serving.py), the prompts that did not complete are the failed ones.
func ParseBench(data []byte) (*Bench, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("parse bench JSON: empty")
	}
	dec := json.NewDecoder(bytes.NewReader(pythonJSON(data)))
	var raw map[string]any
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if err == io.EOF && raw != nil {
			break
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("parse bench JSON: %w", err)
		}
		if obj == nil {
			return nil, errors.New("parse bench JSON: not an object")
		}
		raw = obj
	}
	restoreSpecial(raw)
	for _, k := range []string{"num_prompts", "completed", KeyOutputThroughput} {
		if _, ok := raw[k].(float64); !ok {
			return nil, fmt.Errorf("parse bench JSON: no number %q", k)
		}
	}
	// benchmark_serving.py and `vllm bench serve` before PR #26478 (merged 2025-10-17, checked in vLLM's history) wrote no
	// "failed": it counted only the completed requests, so every other prompt failed.
	failed, hasFailed := raw["failed"].(float64)
	if _, present := raw["failed"]; present && !hasFailed {
		return nil, errors.New(`parse bench JSON: "failed" is not a number`)
	}
	if !hasFailed {
		failed = num(raw["num_prompts"]) - num(raw["completed"])
		if failed < 0 {
			return nil, fmt.Errorf("parse bench JSON: no \"failed\", and completed %v is more than num_prompts %v", raw["completed"], raw["num_prompts"])
		}
	}
	b := &Bench{
		Date:                  str(raw["date"]),
		Backend:               str(raw["backend"]),
		ModelID:               str(raw["model_id"]),
		TokenizerID:           str(raw["tokenizer_id"]),
		NumPrompts:            integer(raw["num_prompts"]),
		RequestRate:           rate(raw["request_rate"]),
		MaxConcurrency:        integer(raw["max_concurrency"]),
		Duration:              num(raw["duration"]),
		Completed:             integer(raw["completed"]),
		Failed:                integer(failed),
		TotalInputTokens:      integer(raw["total_input_tokens"]),
		TotalOutputTokens:     integer(raw["total_output_tokens"]),
		RequestThroughput:     num(raw["request_throughput"]),
		OutputThroughput:      num(raw[KeyOutputThroughput]),
		TotalTokenThroughput:  num(raw["total_token_throughput"]),
		MaxOutputTokensPerS:   num(raw["max_output_tokens_per_s"]),
		MaxConcurrentRequests: num(raw["max_concurrent_requests"]),
		Latency:               map[string]float64{},
		Raw:                   raw,
	}
	for k, v := range raw {
		f, ok := v.(float64)
		if !ok {
			continue // null, lists (spec_decode_per_position_acceptance_rates), strings
		}
		switch {
		case strings.HasSuffix(k, "_ms"):
			b.Latency[k] = f
		case strings.HasPrefix(k, "spec_decode_"):
			if b.SpecDecode == nil {
				b.SpecDecode = map[string]float64{}
			}
			b.SpecDecode[k] = f
		}
	}
	return b, nil
}

// P99TPOT is the benchmark's P99 time per output token in ms (0 when it reported none).
func (b *Bench) P99TPOT() float64 { return b.Latency[KeyP99TPOT] }

// P99TTFT is the benchmark's P99 time to first token in ms (0 when it reported none).
func (b *Bench) P99TTFT() float64 { return b.Latency[KeyP99TTFT] }

// JSON renders a benchmark result for storage: the whole object vLLM wrote (ParseBench's Raw), with non-finite
// numbers (which JSON cannot carry) as null; a Bench built without Raw (the simulator's in-process results) in
// vLLM's keys.
func (b *Bench) JSON() string {
	obj := b.Raw
	if obj == nil {
		obj = map[string]any{
			"num_prompts": b.NumPrompts, "completed": b.Completed, "failed": b.Failed, "duration": b.Duration,
			KeyOutputThroughput: b.OutputThroughput, "request_throughput": b.RequestThroughput,
			"total_token_throughput": b.TotalTokenThroughput,
		}
		for k, v := range b.Latency {
			obj[k] = v
		}
		for k, v := range b.SpecDecode {
			obj[k] = v
		}
	}
	data, err := json.Marshal(finiteJSON(obj))
	if err != nil {
		return ""
	}
	return string(data)
}

// finiteJSON is v with NaN and ±Inf replaced by nil, in maps and lists at any depth.
func finiteJSON(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = finiteJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = finiteJSON(e)
		}
		return out
	}
	return v
}

// pythonJSON replaces the bare tokens NaN, Infinity and -Infinity outside strings by sentinel strings.
// Outside strings no other JSON token contains an 'N' or an 'I', so no word boundary needs checking.
func pythonJSON(data []byte) []byte {
	var out []byte // allocated at the first replacement
	last := 0
	inStr, esc := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		var tok, repl string
		switch {
		case c == '"':
			inStr = true
			continue
		case c == 'N' && bytes.HasPrefix(data[i:], []byte("NaN")):
			tok, repl = "NaN", nanSentinel
		case c == 'I' && bytes.HasPrefix(data[i:], []byte("Infinity")):
			tok, repl = "Infinity", posInfSentinel
		case c == '-' && bytes.HasPrefix(data[i:], []byte("-Infinity")):
			tok, repl = "-Infinity", negInfSentinel
		default:
			continue
		}
		out = append(out, data[last:i]...)
		out = append(out, `"\u0000`...) // the sentinel as JSON text
		out = append(out, repl[1:]...)
		out = append(out, '"')
		i += len(tok) - 1
		last = i + 1
	}
	if out == nil {
		return data
	}
	return append(out, data[last:]...)
}

// restoreSpecial turns the sentinel strings back into float64 NaN and ±Inf, in place.
func restoreSpecial(v any) any {
	switch x := v.(type) {
	case string:
		switch x {
		case nanSentinel:
			return math.NaN()
		case posInfSentinel:
			return math.Inf(1)
		case negInfSentinel:
			return math.Inf(-1)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = restoreSpecial(e)
		}
	case []any:
		for i, e := range x {
			x[i] = restoreSpecial(e)
		}
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

func integer(v any) int {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return int(f)
}

// rate renders request_rate as text: "inf" for the string "inf" or an infinite number, else the number.
func rate(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if math.IsInf(x, 1) {
			return "inf"
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}
