package model

import (
	"fmt"
	"testing"
)

// The simulated vLLM states a flag's default twice, as vLLM does: in its help (the flag table's def) and where
// the engine resolves an absent flag. For the flags whose help shows the plain value the engine uses, the two
// must agree, so that `vllm serve --help` and the simulated server never tell different defaults.
func TestHelpDefaultsAreTheResolvedOnes(t *testing.T) {
	a, err := ParseServeArgs(argv(""))
	if err != nil {
		t.Fatal(err)
	}
	e, f := ResolveEngine(a, Env{})
	if f != nil {
		t.Fatal(f.Text())
	}
	resolved := map[string]string{
		"--port":                   fmt.Sprint(e.Port),
		"--seed":                   fmt.Sprint(e.Seed),
		"--load-format":            e.LoadFormat,
		"--gpu-memory-utilization": fmt.Sprint(e.Util),
		"--kv-cache-dtype":         e.KVDtype,
		"--tensor-parallel-size":   fmt.Sprint(e.TP),
		"--stream-interval":        fmt.Sprint(e.StreamInterval),
	}
	for flag, got := range resolved {
		r, err := lookupFlag(flag)
		if err != nil || r.spec == nil {
			t.Fatalf("%s: not in the flag table (%v)", flag, err)
		}
		if r.spec.def != got {
			t.Errorf("%s: help says the default is %q, the engine resolves %q", flag, r.spec.def, got)
		}
	}
}
