package sim

import (
	"errors"
	"strings"
	"testing"

	"github.com/autotune/autotune/runner"
)

// The default workload's model is the one the simulator models, and runner.DefaultWorkload states its maximum
// length for when no config.json is read: the simulator (which plays that model's config.json) must agree.
func TestDefaultWorkloadIsTheSimulatedModel(t *testing.T) {
	w := runner.DefaultWorkload()
	if err := CheckModel(w.Model); err != nil {
		t.Errorf("the default workload's model: %v", err)
	}
	if w.ModelMaxLen != ModelMaxLen {
		t.Errorf("runner.DefaultWorkload().ModelMaxLen = %d, the simulated model's is %d", w.ModelMaxLen, ModelMaxLen)
	}
}

// TestCheckConfig: argparse's error for an argv vLLM cannot parse, vLLM's refusal of a config it resolves and
// refuses, nil for one it accepts.
func TestCheckConfig(t *testing.T) {
	arctic := map[string]bool{ArcticInference: true}
	cases := []struct {
		args     string
		packages map[string]bool
		want     string // "" accepted; else a fragment of the error
		refusal  bool   // the error is a *Failure (not argparse's)
	}{
		{"", nil, "", false},
		{`--speculative-config {"method":"suffix"}`, arctic, "", false},
		{"--max-num-seqs banana", nil, "invalid int value: 'banana'", false},
		{`--speculative-config {"method":"suffix"}`, nil, "Arctic Inference is required", true},
	}
	for _, c := range cases {
		argv := append([]string{"Qwen/Qwen2.5-0.5B"}, strings.Fields(c.args)...)
		err := CheckConfig(argv, c.packages)
		var f *Failure
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v, want accepted", c.args, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		case c.want != "" && errors.As(err, &f) != c.refusal:
			t.Errorf("%q: %T, want a *Failure: %v", c.args, err, c.refusal)
		}
	}
}
