package runner

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// This file reads vLLM's Prometheus /metrics (reference/vllm.md §14: prometheus_client's text exposition,
// counters with a _total suffix, histograms as _bucket{le=...}/_sum/_count, labels model_name and engine) into
// the few figures the pruning rule needs. Series of the same name are summed over their labels (one per engine
// when the server runs several).

// Metric names of vLLM 0.15.1 (vllm/v1/metrics/loggers.py, vllm.md §14). vllm:time_per_output_token_seconds is
// the name before PR #32661 renamed it to vllm:inter_token_latency_seconds; both are read.
const (
	MetricGenerationTokens = "vllm:generation_tokens_total"
	MetricRunning          = "vllm:num_requests_running"
	MetricWaiting          = "vllm:num_requests_waiting"
	MetricTTFT             = "vllm:time_to_first_token_seconds"
	MetricITL              = "vllm:inter_token_latency_seconds"
	MetricTPOTOld          = "vllm:time_per_output_token_seconds"
	MetricRequestSuccess   = "vllm:request_success_total"
)

// Histogram is a cumulative Prometheus histogram: Counts[i] observations were <= Bounds[i] (ascending; the last
// bound is +Inf when the exposition had it).
type Histogram struct {
	Bounds, Counts []float64
	Count, Sum     float64
}

// Above is how many observations were certainly greater than limit: those above the smallest bucket bound that
// is >= limit. Observations between limit and that bound are not counted, so it never overstates.
func (h Histogram) Above(limit float64) float64 {
	for i, b := range h.Bounds {
		if b >= limit {
			return h.Count - h.Counts[i]
		}
	}
	return 0
}

// Metrics is one scrape of a vLLM server's /metrics.
type Metrics struct {
	GenerationTokens float64
	Running, Waiting float64
	RequestSuccess   float64
	TTFT, ITL        Histogram
	Found            map[string]bool // which of the names above the scrape had
}

// ParseMetrics reads Prometheus text exposition. Unknown metrics are skipped; a malformed sample line of a known
// metric is an error naming the line.
func ParseMetrics(text []byte) (Metrics, error) {
	m := Metrics{Found: map[string]bool{}}
	buckets := map[string]map[float64]float64{} // histogram name -> bound -> summed count
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, labels, value, err := parseSample(line)
		if err != nil {
			if knownMetric(line) {
				return m, fmt.Errorf("/metrics line %d %q: %w", n, line, err)
			}
			continue
		}
		switch name {
		case MetricGenerationTokens:
			m.GenerationTokens += value
		case MetricRunning:
			m.Running += value
		case MetricWaiting:
			m.Waiting += value
		case MetricRequestSuccess:
			m.RequestSuccess += value
		default:
			base, part, ok := histogramPart(name)
			if !ok {
				continue
			}
			h := &m.TTFT
			if base != MetricTTFT {
				h = &m.ITL
			}
			switch part {
			case "_count":
				h.Count += value
			case "_sum":
				h.Sum += value
			case "_bucket":
				le, ok := labels["le"]
				if !ok {
					return m, fmt.Errorf("/metrics line %d %q: a bucket without le", n, line)
				}
				b, err := parseValue(le)
				if err != nil {
					return m, fmt.Errorf("/metrics line %d %q: le: %w", n, line, err)
				}
				if buckets[base] == nil {
					buckets[base] = map[float64]float64{}
				}
				buckets[base][b] += value
			}
			name = base
		}
		m.Found[name] = true
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("/metrics: %w", err)
	}
	for base, bs := range buckets {
		h := &m.TTFT
		if base != MetricTTFT {
			h = &m.ITL
		}
		for b := range bs {
			h.Bounds = append(h.Bounds, b)
		}
		sort.Float64s(h.Bounds)
		for _, b := range h.Bounds {
			h.Counts = append(h.Counts, bs[b])
		}
	}
	return m, nil
}

func knownMetric(line string) bool {
	for _, p := range []string{MetricGenerationTokens, MetricRunning, MetricWaiting, MetricRequestSuccess, MetricTTFT, MetricITL, MetricTPOTOld} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// histogramPart splits a histogram series name into the histogram (TTFT or ITL, either spelling) and its part.
func histogramPart(name string) (base, part string, ok bool) {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if b, found := strings.CutSuffix(name, suffix); found {
			switch b {
			case MetricTTFT, MetricITL, MetricTPOTOld:
				return b, suffix, true
			}
		}
	}
	return "", "", false
}

// parseSample splits `name{k="v",...} value [timestamp]`.
func parseSample(line string) (string, map[string]string, float64, error) {
	labels := map[string]string{}
	name, rest := line, ""
	if i := strings.IndexAny(line, "{ \t"); i >= 0 {
		name, rest = line[:i], line[i:]
	}
	if strings.HasPrefix(rest, "{") {
		end := -1
		inQuote := false
		for i := 1; i < len(rest); i++ {
			switch {
			case rest[i] == '\\' && inQuote:
				i++
			case rest[i] == '"':
				inQuote = !inQuote
			case rest[i] == '}' && !inQuote:
				end = i
			}
			if end >= 0 {
				break
			}
		}
		if end < 0 {
			return "", nil, 0, fmt.Errorf("unterminated labels")
		}
		for _, kv := range splitLabels(rest[1:end]) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return "", nil, 0, fmt.Errorf("label %q without =", kv)
			}
			uq, err := strconv.Unquote(strings.TrimSpace(v))
			if err != nil {
				return "", nil, 0, fmt.Errorf("label %s: %w", k, err)
			}
			labels[strings.TrimSpace(k)] = uq
		}
		rest = rest[end+1:]
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 {
		return "", nil, 0, fmt.Errorf("want a value and an optional timestamp after the name")
	}
	v, err := parseValue(fields[0])
	if err != nil {
		return "", nil, 0, err
	}
	return name, labels, v, nil
}

// splitLabels splits k="v",k2="v2" at commas outside quotes.
func splitLabels(s string) []string {
	var out []string
	start, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && inQuote:
			i++
		case s[i] == '"':
			inQuote = !inQuote
		case s[i] == ',' && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if strings.TrimSpace(s[start:]) != "" {
		out = append(out, s[start:])
	}
	return out
}

// parseValue reads a sample value: a float, +Inf, -Inf or NaN.
func parseValue(s string) (float64, error) {
	switch s {
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("value %q: %w", s, err)
	}
	return v, nil
}
