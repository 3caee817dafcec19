package model

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseServeArgsAccepts(t *testing.T) {
	tests := []struct {
		name string
		args string
		dest string
		want any
	}{
		{"dashes", "M --max-num-seqs 64", "max_num_seqs", int64(64)},
		{"underscores", "M --max_num_seqs 64", "max_num_seqs", int64(64)},
		{"equals", "M --max-num-seqs=64", "max_num_seqs", int64(64)},
		{"unique prefix", "M --max-num-se 64", "max_num_seqs", int64(64)},
		{"k suffix is 1000", "M --max-num-batched-tokens 2k", "max_num_batched_tokens", int64(2000)},
		{"K suffix is 1024", "M --max-num-batched-tokens 2K", "max_num_batched_tokens", int64(2048)},
		{"decimal k", "M --max-num-batched-tokens 25.6k", "max_num_batched_tokens", int64(25600)},
		{"max-model-len auto", "M --max-model-len auto", "max_model_len", int64(-1)},
		{"max-model-len 1k", "M --max-model-len 1K", "max_model_len", int64(1024)},
		{"bool", "M --enforce-eager", "enforce_eager", true},
		{"no-bool", "M --no-enable-prefix-caching", "enable_prefix_caching", false},
		{"-O3", "M -O3", "optimization_level", "3"},
		{"-O 1", "M -O 1", "optimization_level", "1"},
		{"-O=0", "M -O=0", "optimization_level", "0"},
		{"-O out of range parses (refused later by VllmConfig)", "M -O7", "optimization_level", "7"},
		{"hf-token without value (nargs=?, const=True)", "M --hf-token --enforce-eager", "hf_token", true},
		{"hf-token with value", "M --hf-token abc", "hf_token", "abc"},
		{"store_true headless", "M --headless", "headless", true},
		{"unmodelled BooleanOptionalAction", "M --no-enable-lora", "enable_lora", false},
		{"unmodelled short alias", "M -dp 2", "data_parallel_size", "2"},
		{"float", "M --gpu-memory-utilization 0.95", "gpu_memory_utilization", 0.95},
		{"nargs+", "M --cudagraph-capture-sizes 1 2 4 50", "cudagraph_capture_sizes", []int64{1, 2, 4, 50}},
		{"served name", "M --served-model-name Qwen/Qwen2.5-0.5B", "served_model_name", []string{"Qwen/Qwen2.5-0.5B"}},
		{"json", `M --speculative-config {"method":"ngram","num_speculative_tokens":5}`, "speculative_config",
			map[string]any{"method": "ngram", "num_speculative_tokens": int64(5)}},
		{"dotted json", "M -cc.mode 3", "compilation_config", map[string]any{"mode": int64(3)}},
		{"dotted append", "M -cc.cudagraph_capture_sizes+ 8 -cc.cudagraph_capture_sizes+ 50", "compilation_config",
			map[string]any{"cudagraph_capture_sizes": []any{int64(8), int64(50)}}},
		{"still in 0.15: swap-space", "M --swap-space 4", "swap_space", 4.0},
		{"still in 0.15: disable-log-requests", "M --disable-log-requests", "disable_log_requests", true},
		{"stream interval", "M --stream-interval 8", "stream_interval", int64(8)},
		{"quantization short", "M -q fp8", "quantization", "fp8"},
		{"attention backend", "M --attention-backend TRITON_ATTN", "attention_backend", "TRITON_ATTN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseServeArgs(strings.Fields(tt.args))
			if err != nil {
				t.Fatalf("ParseServeArgs(%q): %v", tt.args, err)
			}
			if a.Model != "M" {
				t.Errorf("model = %q, want M", a.Model)
			}
			if got := a.Values[tt.dest]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s = %#v, want %#v", tt.dest, got, tt.want)
			}
		})
	}
}

func TestParseServeArgsRejects(t *testing.T) {
	tests := []struct {
		name, args, want string
	}{
		{"unknown", "M --foo", "vllm: error: unrecognized arguments: --foo"},
		{"unknown with value", "M --foo bar", "vllm: error: unrecognized arguments: --foo bar"},
		{"removed in 0.13", "M --cuda-graph-sizes 8", "unrecognized arguments: --cuda-graph-sizes 8"},
		{"removed in 0.10", "M --num-scheduler-steps 8", "unrecognized arguments: --num-scheduler-steps 8"},
		{"removed: v2 block manager", "M --use-v2-block-manager", "unrecognized arguments: --use-v2-block-manager"},
		{"removed: preemption mode", "M --preemption-mode swap", "unrecognized arguments: --preemption-mode swap"},
		{"removed: max-seq-len-to-capture", "M --max-seq-len-to-capture 8192", "unrecognized arguments: --max-seq-len-to-capture 8192"},
		{"added after 0.16", "M --performance-mode throughput", "unrecognized arguments: --performance-mode throughput"},
		{"bad dtype", "M --dtype bfloat17", "vllm serve: error: argument --dtype: invalid choice: 'bfloat17' (choose from 'auto', 'half', 'float16', 'bfloat16', 'float', 'float32')"},
		{"bad block size", "M --block-size 7", "argument --block-size: invalid choice: 7 (choose from 1, 8, 16, 32, 64, 128, 256)"},
		{"bad kv dtype", "M --kv-cache-dtype int4", "argument --kv-cache-dtype: invalid choice: 'int4'"},
		{"-sc is newer (2026-03-27)", `M -sc {"method":"suffix"}`, `unrecognized arguments: -sc {"method":"suffix"}`},
		{"shutdown-timeout is newer", "M --shutdown-timeout 5", "unrecognized arguments: --shutdown-timeout 5"},
		{"fail-on-environ-validation is newer", "M --fail-on-environ-validation", "unrecognized arguments: --fail-on-environ-validation"},
		{"its --no- form too", "M --no-fail-on-environ-validation", "unrecognized arguments: --no-fail-on-environ-validation"},
		{"spec-method was never an option", "M --spec-method ngram", "unrecognized arguments: --spec-method ngram"},
		{"only in the v0.16.0 branch", "M --kernel-config {}", "unrecognized arguments: --kernel-config {}"}, {"bad int", "M --max-num-seqs lots", "argument --max-num-seqs: invalid int value: 'lots'"},
		{"bad human int", "M --max-num-batched-tokens 2x", "argument --max-num-batched-tokens: invalid human_readable_int value: '2x'"},
		{"missing value", "M --port", "argument --port: expected one argument"},
		{"ambiguous prefix", "M --max-num", "ambiguous option: --max-num could match"},
		{"bool with value", "M --enforce-eager=true", "argument --enforce-eager/--no-enforce-eager: ignored explicit argument 'true'"},
		{"bad json", "M --speculative-config {oops", "argument --speculative-config: invalid loads value: '{oops'"},
		{"nargs+ empty", "M --cudagraph-capture-sizes --enforce-eager", "argument --cudagraph-capture-sizes: expected at least one argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckServeArgs(strings.Fields(tt.args))
			if err == nil {
				t.Fatalf("CheckServeArgs(%q) = nil, want %q", tt.args, tt.want)
			}
			ae, ok := err.(*ArgError)
			if !ok {
				t.Fatalf("error %T, want *ArgError", err)
			}
			if !strings.Contains(ae.Text(), tt.want) {
				t.Errorf("error text\n%s\nwant it to contain %q", ae.Text(), tt.want)
			}
			if !strings.HasPrefix(ae.Text(), "usage: vllm") {
				t.Errorf("argparse errors start with the usage line, got %q", ae.Text())
			}
		})
	}
}

func TestHelpAllListsEveryFlag(t *testing.T) {
	all := ServeHelp("all")
	for _, f := range ServeFlagNames() {
		if !strings.Contains(all, f) {
			t.Errorf("--help=all does not list %s", f)
		}
	}
	for _, removed := range []string{"--cuda-graph-sizes", "--performance-mode", "--num-scheduler-steps"} {
		if strings.Contains(all, removed) {
			t.Errorf("--help=all lists %s, which 0.15.1 does not have", removed)
		}
	}
	short := ServeHelp("short")
	if strings.Contains(short, "--max-num-seqs") || !strings.Contains(short, "--help=all") {
		t.Errorf("short help should be the grouped overview pointing at --help=all:\n%s", short)
	}
	if g := ServeHelp("SchedulerConfig"); !strings.Contains(g, "--max-num-seqs") || strings.Contains(g, "--dtype") {
		t.Errorf("--help=SchedulerConfig should list that group only:\n%s", g)
	}
}

func TestParseHumanInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2048", 2048, true}, {"1k", 1000, true}, {"1K", 1024, true}, {"25.6k", 25600, true}, {"1m", 1000000, true},
		{"1M", 1 << 20, true}, {"1.5K", 0, false}, {"k", 0, false}, {"", 0, false}, {"12q", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseHumanInt(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseHumanInt(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
