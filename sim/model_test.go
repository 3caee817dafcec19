package sim

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckConfig: argparse's error for an argv vLLM cannot parse, vLLM's refusal of a config it resolves and
// refuses, nil for one it accepts.
func TestCheckConfig(t *testing.T) {
	arctic := map[string]bool{"arctic_inference": true}
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
