package space

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// sampleWith draws one config with the given values over the defaults.
func sampleWith(t *testing.T, s *Space, over map[string]string) Config {
	t.Helper()
	base, why := s.defaultAssignment(nil)
	if why != "" {
		t.Fatal(why)
	}
	values := map[string]string(base.clone())
	for k, v := range over {
		values[k] = v
	}
	c, err := s.Sample(&fixedSuggester{values: values})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRenderExactArgv(t *testing.T) {
	s := mustDefault(t, withArctic(tesla("0.15.1")))
	tests := []struct {
		name string
		over map[string]string
		want []string
		env  map[string]string
	}{
		{"all defaults", nil, []string{}, nil},
		{"contest winner steps 1-2", map[string]string{"max_num_seqs": "50", "max_num_batched_tokens": "25600", "max_model_len": "1024", "cudagraph_capture": "upto:50", "block_size": "32"},
			[]string{"--max-num-seqs", "50", "--max-num-batched-tokens", "25600", "--max-model-len", "1024", "--block-size", "32",
				"--cudagraph-capture-sizes", "1", "2", "4", "8", "16", "24", "32", "40", "48", "50"}, nil},
		{"ngram JSON is one compact argument", map[string]string{"speculative": "ngram", "num_speculative_tokens": "4", "prompt_lookup_min": "2", "prompt_lookup_max": "4"},
			[]string{"--speculative-config", `{"method":"ngram","num_speculative_tokens":4,"prompt_lookup_max":4,"prompt_lookup_min":2}`}, nil},
		{"suffix minimal form", map[string]string{"speculative": "suffix"}, []string{"--speculative-config", `{"method":"suffix"}`}, nil},
		{"max capture size", map[string]string{"cudagraph_capture": "max:128"}, []string{"--max-cudagraph-capture-size", "128"}, nil},
		{"max capture size with small seqs and budget", map[string]string{"cudagraph_capture": "max:256", "max_num_batched_tokens": "1024", "max_num_seqs": "50"},
			[]string{"--max-num-seqs", "50", "--max-num-batched-tokens", "1024", "--max-cudagraph-capture-size", "256"}, nil},
		{"switches and levels", map[string]string{"async_scheduling": "off", "prefix_caching": "off", "stream_interval": "8", "optimization": "O1", "attention_backend": "TRITON_ATTN", "quantization": "fp8", "gpu_memory_utilization": "0.95"},
			[]string{"--quantization", "fp8", "--gpu-memory-utilization", "0.95", "--attention-backend", "TRITON_ATTN", "--optimization-level", "1", "--no-async-scheduling", "--no-enable-prefix-caching", "--stream-interval", "8"}, nil},
		{"eager", map[string]string{"optimization": "eager"}, []string{"--enforce-eager"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := sampleWith(t, s, tc.over)
			if !reflect.DeepEqual(c.Args, tc.want) {
				t.Errorf("args\n got %q\nwant %q", c.Args, tc.want)
			}
			if !reflect.DeepEqual(c.Env, tc.env) {
				t.Errorf("env %v, want %v", c.Env, tc.env)
			}
		})
	}
}

func TestCaptureListFollowsBudgetAndSeqs(t *testing.T) {
	s := mustDefault(t, tesla("0.15.1"))
	// vLLM's own ladder for 64 seqs is min(2x64, 512) = 128: 1, 2, 4, 8, ..., 128; plus 50.
	c := sampleWith(t, s, map[string]string{"cudagraph_capture": "default+50", "max_num_seqs": "64"})
	var want []string
	want = append(want, "--max-num-seqs", "64", "--cudagraph-capture-sizes", "1", "2", "4")
	for n := 8; n <= 128; n += 8 {
		want = append(want, itoa(n))
		if n == 48 {
			want = append(want, "50")
		}
	}
	if !reflect.DeepEqual(c.Args, want) {
		t.Errorf("args\n got %q\nwant %q", c.Args, want)
	}
	// With the default 256 seqs the ladder runs to 512 in steps of 16 above 256: 51 sizes + 50.
	c = sampleWith(t, s, map[string]string{"cudagraph_capture": "default+50"})
	if n := len(c.Args) - 1; n != 52 || c.Args[len(c.Args)-1] != "512" {
		t.Errorf("default ladder + 50: %d sizes ending %s, want 52 ending 512", n, c.Args[len(c.Args)-1])
	}
}

func TestRenderedValuesAreCanonical(t *testing.T) {
	s := mustDefault(t, withArctic(tesla("0.15.1")))
	for _, c := range append(s.KnownGood(), s.Baseline()) {
		for i, a := range c.Args {
			if strings.HasPrefix(a, "{") {
				var buf map[string]any
				if err := json.Unmarshal([]byte(a), &buf); err != nil {
					t.Errorf("%s: argument %d %q is not JSON", c.Label, i, a)
				}
				if strings.ContainsAny(a, " \n\t") {
					t.Errorf("%s: JSON argument %q is not compact", c.Label, a)
				}
			}
		}
	}
}

func itoa(n int) string { return ints([]int{n})[0] }
