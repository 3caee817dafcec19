package space

import (
	"reflect"
	"strings"
	"testing"

	"github.com/c-bata/goptuna"
	"github.com/c-bata/goptuna/tpe"

	"github.com/autotune/autotune/runner"
)

func newStudy(t *testing.T) *goptuna.Study {
	t.Helper()
	st, err := goptuna.CreateStudy("encode", goptuna.StudyOptionSampler(tpe.NewSampler(tpe.SamplerOptionSeed(1))),
		goptuna.StudyOptionLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// runOne runs one goptuna trial whose objective samples the space, and returns the config it drew.
func runOne(t *testing.T, st *goptuna.Study, s *Space) Config {
	t.Helper()
	var got Config
	err := st.Optimize(func(tr goptuna.Trial) (float64, error) {
		c, err := s.Sample(&tr)
		got = c
		return 1, err
	}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Enqueued known-good points come back from a real goptuna study exactly.
func TestEncodeEnqueueRoundTrip(t *testing.T) {
	for name, p := range map[string]Platform{
		"T4 0.15.1 + arctic":  withArctic(withHelp(t, tesla("0.15.1"), "testdata/vllm-0.15.1-help.txt")),
		"T4 0.10.2":           withHelp(t, tesla("0.10.2"), "testdata/vllm-0.10.2-help.txt"),
		"A100 0.24 no arctic": ampere("0.24.0"),
	} {
		t.Run(name, func(t *testing.T) {
			s := mustDefault(t, p)
			points := append([]Config{s.Baseline()}, s.KnownGood()...)
			if name == "T4 0.15.1 + arctic" && len(points) != 4 {
				t.Fatalf("want the baseline and 3 known-good points, got %d: skipped %v", len(points), s.Describe().Skipped)
			}
			st := newStudy(t)
			for _, c := range points {
				internal, err := s.Encode(c.Params)
				if err != nil {
					t.Fatalf("%s: %v", c.Label, err)
				}
				if err := st.EnqueueTrial(internal); err != nil {
					t.Fatal(err)
				}
			}
			for _, want := range points {
				got := runOne(t, st, s)
				if !reflect.DeepEqual(got.Args, want.Args) || !reflect.DeepEqual(got.Params, want.Params) || !reflect.DeepEqual(got.Env, want.Env) || got.Model != want.Model {
					t.Errorf("%s: replayed\n %q %v\nwant\n %q %v", want.Label, got.Args, got.Params, want.Args, want.Params)
				}
				if got.Key() != want.Key() {
					t.Errorf("%s: keys differ", want.Label)
				}
			}
			// goptuna stored the external values it replayed.
			trials, err := st.GetTrials()
			if err != nil {
				t.Fatal(err)
			}
			for i, tr := range trials {
				for k, v := range points[i].Params {
					if _, searched := tr.Params[k]; !searched {
						if s.byName[k].searched() {
							t.Errorf("trial %d: %s not stored", i, k)
						}
						continue
					}
					if got := toString(tr.Params[k]); got != v {
						t.Errorf("trial %d: stored %s=%v, want %s", i, k, got, v)
					}
				}
			}
		})
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return itoa(x)
	case float64:
		return fmtNum(x)
	}
	return "?"
}

func TestKnownGoodPoints(t *testing.T) {
	s := mustDefault(t, withArctic(tesla("0.15.1")))
	kg := s.KnownGood()
	want := [][]string{
		{"--max-num-batched-tokens", "8192", "--max-model-len", "4096", "--gpu-memory-utilization", "0.95"},
		{"--max-num-seqs", "50", "--max-num-batched-tokens", "25600", "--max-model-len", "1024", "--block-size", "32",
			"--cudagraph-capture-sizes", "1", "2", "4", "8", "16", "24", "32", "40", "48", "50"},
		{"--speculative-config", `{"method":"suffix"}`},
	}
	if len(kg) != len(want) {
		t.Fatalf("%d known-good points, want %d", len(kg), len(want))
	}
	for i, c := range kg {
		if !strings.HasPrefix(c.Label, "known-good: ") {
			t.Errorf("label %q", c.Label)
		}
		if !reflect.DeepEqual(c.Args, want[i]) {
			t.Errorf("%s:\n got %q\nwant %q", c.Label, c.Args, want[i])
		}
	}
	// Without arctic-inference the suffix point is skipped, and said so.
	s = mustDefault(t, tesla("0.15.1"))
	if n := len(s.KnownGood()); n != 2 {
		t.Errorf("%d known-good points without arctic-inference, want 2", n)
	}
	if sk := s.Describe().Skipped; len(sk) != 1 || !strings.Contains(sk[0], "suffix") {
		t.Errorf("skipped %q, want the suffix point", sk)
	}
	if b := s.Baseline(); len(b.Args) != 0 || b.Label != "baseline" || b.Params["speculative"] != "default" {
		t.Errorf("baseline %+v", b)
	}
}

func TestEncodeRefusesNonPoints(t *testing.T) {
	s := mustDefault(t, withArctic(tesla("0.15.1")))
	base := s.Baseline().Params
	with := func(over map[string]string, del ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range over {
			m[k] = v
		}
		for _, k := range del {
			delete(m, k)
		}
		return m
	}
	ngram := map[string]string{"speculative": "ngram", "num_speculative_tokens": "4", "prompt_lookup_min": "2", "prompt_lookup_max": "3"}
	specOff := []string{"async_scheduling", "cudagraph_capture"} // they do not apply with speculation
	internal, err := s.Encode(with(ngram, specOff...))
	if err != nil {
		t.Fatalf("a valid ngram point: %v", err)
	}
	if internal["speculative"] != 1 || internal["num_speculative_tokens"] != 4 || internal["max_num_seqs"] != 0 {
		t.Errorf("internal %v: want speculative index 1, tokens 4, max_num_seqs index 0", internal)
	}
	tests := []struct {
		name   string
		params map[string]string
		err    string
	}{
		{"missing", with(nil, "max_num_seqs"), "no value for max_num_seqs"},
		{"unknown", with(map[string]string{"foo": "1"}), "foo is not a parameter that applies"},
		{"not applicable", with(map[string]string{"num_speculative_tokens": "4"}), "num_speculative_tokens is not a parameter that applies"},
		{"outside the domain", with(map[string]string{"max_num_seqs": "57"}), `"57" is not in the domain`},
		{"would be repaired", with(map[string]string{"speculative": "ngram", "num_speculative_tokens": "4", "prompt_lookup_min": "5", "prompt_lookup_max": "2"}, specOff...), "repair would change it"},
		{"async with ngram", with(ngram, "cudagraph_capture"), "async_scheduling is not a parameter that applies"},
		{"dropped value", with(map[string]string{"attention_backend": "FLASH_ATTN"}), "not in the domain"},
	}
	for _, tc := range tests {
		if _, err := s.Encode(tc.params); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: Encode error %v, want %q", tc.name, err, tc.err)
		}
	}
}

// goptuna v0.9.0 does not replay the upper end of a step_int range as fixed: Encode says so instead of
// letting the point be resampled silently.
func TestEncodeStepIntUpperEnd(t *testing.T) {
	src := "params:\n  chunk:\n    flag: --long-prefill-token-threshold\n    type: step_int\n    low: 0\n    high: 64\n    step: 16\n"
	s, err := Parse("space.yaml", []byte(src), tesla("0.15.1"), runner.DefaultWorkload())
	if err != nil {
		t.Fatal(err)
	}
	p := s.Baseline().Params
	if _, err := s.Encode(p); err == nil || !strings.Contains(err.Error(), "no value for chunk") {
		t.Errorf("the baseline is not a point when a numeric parameter has no default: Encode = %v", err)
	}
	p["chunk"] = "64"
	if _, err := s.Encode(p); err == nil || !strings.Contains(err.Error(), "upper end") {
		t.Errorf("Encode(chunk=64) = %v, want the upper-end error", err)
	}
	p["chunk"] = "0"
	if _, err := s.Encode(p); err == nil {
		// chunk=0 renders --long-prefill-token-threshold 0, vLLM's default: accepted.
	} else {
		t.Errorf("Encode(chunk=0): %v", err)
	}
	p["chunk"] = "32"
	if _, err := s.Encode(p); err == nil || !strings.Contains(err.Error(), "Concurrent Partial Prefill") {
		t.Errorf("Encode(chunk=32) = %v, want vLLM's partial-prefill refusal", err)
	}
}

// TPE proposals through a real study are valid configs too.
func TestSampleWithGoptunaTPE(t *testing.T) {
	s := mustDefault(t, withArctic(tesla("0.15.1")))
	st := newStudy(t)
	for i := 0; i < 30; i++ {
		var c Config
		err := st.Optimize(func(tr goptuna.Trial) (float64, error) {
			var err error
			c, err = s.Sample(&tr)
			return float64(len(c.Args)), err
		}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(c); err != nil {
			t.Fatalf("trial %d: %v", i, err)
		}
	}
}
