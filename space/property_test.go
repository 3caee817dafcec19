package space

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sampler"
)

var plainInt = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)

// Many random draws on several platforms. Each draw is rendered and repaired without the check that Sample
// ends with, and then must pass Validate: domains, conditions, pruning and repair keep every draw clear of every
// rule (what each rule's Enforced claims). The same draws rendered without repair must be refused now and then,
// so this Validate is one that can fail here. Each config also renders each flag once, keeps every constraint
// by an independent reading of its argv, and Encode(Params) replays it.
func TestRandomDrawsKeepEveryConstraint(t *testing.T) {
	w := runner.DefaultWorkload()
	platforms := map[string]Platform{
		"T4 0.15.1 + arctic": withArctic(withHelp(t, tesla("0.15.1"), "testdata/vllm-0.15.1-help.txt")),
		"T4 0.10.2":          withHelp(t, tesla("0.10.2"), "testdata/vllm-0.10.2-help.txt"),
		"T4 0.24.0 + arctic": withArctic(withHelp(t, tesla("0.24.0"), "testdata/vllm-0.24.0-help.txt")),
		"A100 0.15.1":        ampere("0.15.1"),
	}
	n := 3000
	if testing.Short() {
		n = 300
	}
	for name, p := range platforms {
		t.Run(name, func(t *testing.T) {
			s := mustDefault(t, p)
			u := sampler.NewUniform(7)
			keys := map[string]bool{}
			refusedUnrepaired := 0
			for i := 0; i < n; i++ {
				a, err := s.draw(u.Suggester())
				if err != nil {
					t.Fatalf("draw %d: %v", i, err)
				}
				if raw, err := s.render(a); err == nil && s.Check(raw.args, raw.env, raw.model) != nil {
					refusedUnrepaired++
				}
				c, _, err := s.settle(a, "")
				if err != nil {
					t.Fatalf("draw %d: %v", i, err)
				}
				if err := s.Validate(c); err != nil {
					t.Fatalf("draw %d: %q: the space let through a config vLLM refuses: %v", i, c.Args, err)
				}
				checkInvariants(t, s, w, c)
				keys[c.Key()] = true
				if i%50 == 0 {
					internal, err := s.Encode(c.Params)
					if err != nil {
						t.Fatalf("draw %d: Encode(%v): %v", i, c.Params, err)
					}
					if len(internal) == 0 {
						t.Fatalf("draw %d: empty encoding", i)
					}
				}
			}
			if refusedUnrepaired == 0 {
				t.Errorf("no draw of %d needed repair to pass the rules: the Validate above could not have failed", n)
			}
			if len(keys) < n/2 {
				t.Errorf("only %d distinct configs in %d draws", len(keys), n)
			}
		})
	}
}

func checkInvariants(t *testing.T, s *Space, w runner.Workload, c Config) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%q: "+format, append([]any{c.Args}, args...)...)
	}
	sa, err := s.parseServeArgv(c.Args)
	if err != nil {
		fail("%v", err)
	}
	if len(sa.dups) > 0 {
		fail("flags given twice: %v", sa.dups)
	}
	for _, f := range sa.order {
		for _, v := range sa.flags[f] {
			switch f {
			case "--speculative-config":
				var m map[string]any
				if json.Unmarshal([]byte(v), &m) != nil || strings.ContainsAny(v, " \n") {
					fail("%s %q is not compact JSON", f, v)
				}
			case "--gpu-memory-utilization", "--quantization", "--attention-backend", "--dtype", "--kv-cache-dtype", "--performance-mode":
			default:
				if !plainInt.MatchString(v) {
					fail("%s %q is not a plain decimal", f, v)
				}
			}
		}
	}
	eff := s.effectiveArgs(sa)
	if eff.mnbt < eff.seqs {
		fail("max_num_batched_tokens %d < max_num_seqs %d", eff.mnbt, eff.seqs)
	}
	if n, ok := sa.intFlag("--max-model-len"); ok && n < w.InputLen+w.OutputLen {
		fail("max_model_len %d below a request", n)
	}
	spec := sa.has("--speculative-config")
	if spec && sa.has("--async-scheduling") {
		fail("speculative decoding with forced async scheduling")
	}
	capture := sa.has("--cudagraph-capture-sizes") || sa.has("--max-cudagraph-capture-size") || sa.has("--cuda-graph-sizes")
	if capture && (sa.has("--enforce-eager") || spec) {
		fail("capture sizes with eager mode or speculative decoding")
	}
	if sa.has("--cudagraph-capture-sizes") && sa.has("--max-cudagraph-capture-size") {
		fail("both capture flags")
	}
	for _, f := range []string{"--cudagraph-capture-sizes", "--max-cudagraph-capture-size", "--cuda-graph-sizes"} {
		for _, v := range sa.flags[f] {
			if n, _ := strconv.Atoi(v); n > eff.mnbt {
				fail("capture size %d above max_num_batched_tokens %d", n, eff.mnbt)
			}
		}
	}
	if v := sa.last("--speculative-config"); v != "" {
		var sc specConfig
		_ = json.Unmarshal([]byte(v), &sc)
		if sc.PromptLookupMin > sc.PromptLookupMax {
			fail("prompt_lookup_min > prompt_lookup_max")
		}
		if c.Params["prompt_lookup_min"] != "" && c.Params["prompt_lookup_min"] != strconv.Itoa(sc.PromptLookupMin) {
			fail("Params %v do not record the rendered prompt_lookup_min %d", c.Params, sc.PromptLookupMin)
		}
	}
	for name := range c.Params {
		if _, ok := s.byName[name]; !ok {
			fail("Params holds %s, not a parameter in force", name)
		}
	}
}
