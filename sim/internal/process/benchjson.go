package process

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"

	"github.com/autotune/autotune/sim/internal/model"
)

// The result JSON of bench serve, written as Python's json.dump writes it: keys in order, floats as repr.

// kv is one ordered key/value pair of the result JSON (the metrics' own come as model.KV).
type kv struct {
	Key   string
	Value any
}

// encodeOrdered writes a JSON object with the keys in order, as Python's json.dump does (", " and ": ").
func encodeOrdered(kvs []kv) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range kvs {
		if i > 0 {
			b.WriteString(", ")
		}
		k, _ := json.Marshal(kv.Key)
		b.Write(k)
		b.WriteString(": ")
		writePyValue(&b, kv.Value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func writePyValue(b *bytes.Buffer, v any) {
	switch t := v.(type) {
	case float64:
		b.WriteString(model.PyFloat(t))
	case []float64:
		b.WriteByte('[')
		for i, x := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(model.PyFloat(x))
		}
		b.WriteByte(']')
	case [][]float64:
		b.WriteByte('[')
		for i, x := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyValue(b, x)
		}
		b.WriteByte(']')
	default:
		j, _ := json.Marshal(t)
		j = bytes.ReplaceAll(j, []byte(","), []byte(", "))
		j = bytes.ReplaceAll(j, []byte(`":`), []byte(`": `))
		if _, isStr := t.(string); isStr {
			j, _ = json.Marshal(t)
		}
		if _, isStrs := t.([]string); isStrs {
			parts := make([]string, len(t.([]string)))
			for i, s := range t.([]string) {
				q, _ := json.Marshal(s)
				parts[i] = string(q)
			}
			j = []byte("[" + strings.Join(parts, ", ") + "]")
		}
		b.Write(j)
	}
}

// pyRateString is Python's f"{float}" for the file name: inf, 10.0, 2.5.
func pyRateString(r float64) string {
	if math.IsInf(r, 1) {
		return "inf"
	}
	return model.PyFloat(r)
}
