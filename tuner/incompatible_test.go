package tuner

import (
	"reflect"
	"strings"
	"testing"

	"github.com/autotune/autotune/store"
)

func TestDiffStudies(t *testing.T) {
	base := store.Study{
		Model:        "Qwen/Qwen2.5-0.5B",
		WorkloadJSON: `{"model":"Qwen/Qwen2.5-0.5B","max_concurrency":50,"num_prompts":200,"request_rate":"inf"}`,
		SLAJSON:      `{"max_p99_tpot_ms":50,"max_p99_ttft_ms":2000}`, Sampler: "tpe", Seed: 1, SpaceFingerprint: "aaa",
		SpaceJSON: `{"vllm_version":"0.15.1","gpu":"Tesla T4","params":[{"name":"max_num_seqs","domain":"default, 64"},{"name":"block_size","domain":"default, 32"}]}`,
	}
	tests := []struct {
		name   string
		change func(*store.Study)
		want   []FieldDiff
	}{
		{"same", func(*store.Study) {}, nil},
		{"workload field", func(s *store.Study) {
			s.WorkloadJSON = strings.Replace(s.WorkloadJSON, `"num_prompts":200`, `"num_prompts":100`, 1)
		}, []FieldDiff{{"num_prompts", "200", "100"}}},
		{"model once", func(s *store.Study) {
			s.Model = "x/y"
			s.WorkloadJSON = strings.Replace(s.WorkloadJSON, "Qwen/Qwen2.5-0.5B", "x/y", 1)
		}, []FieldDiff{{"model", "Qwen/Qwen2.5-0.5B", "x/y"}}},
		{"SLA, mode, sampler, seed", func(s *store.Study) {
			s.SLAJSON = `{"max_p99_tpot_ms":30,"max_p99_ttft_ms":2000}`
			s.Simulated, s.Sampler, s.Seed = true, "random", 2
		}, []FieldDiff{{"max_p99_tpot_ms", "50", "30"}, {"simulated", "false", "true"}, {"sampler", "tpe", "random"}, {"seed", "1", "2"}}},
		{"space file", func(s *store.Study) {
			s.SpaceFingerprint = "bbb"
			s.SpaceJSON = `{"vllm_version":"0.15.1","gpu":"Tesla T4","source":"space.yaml","params":[]}`
		}, []FieldDiff{{"space file", "(built-in)", "space.yaml"}}},
		{"another vLLM", func(s *store.Study) {
			s.SpaceFingerprint = "bbb"
			s.SpaceJSON = strings.Replace(s.SpaceJSON, "0.15.1", "0.16.0", 1)
		}, []FieldDiff{{"vLLM version", "0.15.1", "0.16.0"}}},
		{"a parameter", func(s *store.Study) {
			s.SpaceFingerprint = "bbb"
			s.SpaceJSON = strings.Replace(s.SpaceJSON, `"domain":"default, 32"`, `"domain":"default, 32, 64"`, 1)
		}, []FieldDiff{{"param block_size", "default, 32", "default, 32, 64"}}},
		{"another vLLM, in a record whose other fields have other types", func(s *store.Study) {
			s.SpaceFingerprint = "bbb"
			s.SpaceJSON = strings.Replace(s.SpaceJSON, `"vllm_version":"0.15.1"`, `"compute_capability":"7.5","vllm_version":"0.16.0"`, 1)
		}, []FieldDiff{{"vLLM version", "0.15.1", "0.16.0"}}},
		{"only the fingerprint", func(s *store.Study) { s.SpaceFingerprint = "bbb" },
			[]FieldDiff{{"search space", "fingerprint aaa", "fingerprint bbb"}}},
	}
	for _, tt := range tests {
		want := base
		tt.change(&want)
		if got := diffStudies(base, want); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: diffs = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	err := &IncompatibleError{Study: "default", DB: "t.db", Diffs: []FieldDiff{{"num_prompts", "200", "100"}}}
	if got, want := err.Error(), `study "default" in t.db was made with other settings (stored → requested): num_prompts: 200 → 100`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
