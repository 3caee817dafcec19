package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/tuner"
)

// resumeFlags names stored settings by the keys under which the study stores them (the JSON of runner.Workload
// and tuner.SLA, and tuner's Field names): each must be such a key, or a differing setting would get no flag in
// the resume command, and each flag must be one that run takes.
func TestResumeFlagsNameStoredSettings(t *testing.T) {
	stored := map[string]bool{tuner.FieldModel: true, tuner.FieldSimulated: true, tuner.FieldSampler: true,
		tuner.FieldSeed: true, tuner.FieldSpaceFile: true}
	for _, v := range []any{runner.DefaultWorkload(), tuner.DefaultSLA()} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for k := range m {
			stored[k] = true
		}
	}
	code, help, errs := cli(t, "run", "--help")
	if code != 0 {
		t.Fatalf("run --help: exit %d: %s", code, errs)
	}
	for field, flag := range resumeFlags {
		if !stored[field] {
			t.Errorf("resumeFlags[%q]: not a key of the stored workload, SLA or study", field)
		}
		if !strings.Contains(help, "--"+flag+" ") && !strings.Contains(help, "--"+flag+"[") {
			t.Errorf("resumeFlags[%q] = %q: run has no such flag", field, flag)
		}
	}
}
