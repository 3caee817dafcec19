package tuner

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/autotune/autotune/space"
	"github.com/autotune/autotune/store"
)

// FieldDiff is one setting in which a command differs from the study stored under its name.
type FieldDiff struct {
	// Field names the setting: a key of the workload or SLA JSON ("num_prompts", "max_p99_tpot_ms"),
	// "simulated", "sampler", "seed", or for the search space "space file", "vLLM version", "GPU" and
	// "param NAME"; "search space" when only the fingerprints tell the spaces apart.
	Field     string
	Stored    string
	Requested string
}

// Names of the FieldDiff fields that are not a key of the workload or SLA JSON (the model is both: the study's
// model when the workload JSON does not say it).
const (
	FieldModel     = "model"
	FieldSimulated = "simulated"
	FieldSampler   = "sampler"
	FieldSeed      = "seed"
	FieldSpaceFile = "space file"
)

// IncompatibleError is ErrIncompatible with what differs: only the fields that differ, each stored and requested,
// so that the command line can name them and say what would resume the stored study.
type IncompatibleError struct {
	Study  string      // the study's name
	DB     string      // the database's path
	Stored store.Study // the stored study's record
	Diffs  []FieldDiff
}

func (e *IncompatibleError) Error() string {
	parts := make([]string, len(e.Diffs))
	for i, d := range e.Diffs {
		parts[i] = fmt.Sprintf("%s: %s → %s", d.Field, d.Stored, d.Requested)
	}
	return fmt.Sprintf("study %q in %s was made with other settings (stored → requested): %s",
		e.Study, e.DB, strings.Join(parts, "; "))
}

func (e *IncompatibleError) Unwrap() error { return ErrIncompatible }

// diffStudies lists the fields in which want differs from stored, in a fixed order.
func diffStudies(stored, want store.Study) []FieldDiff {
	var diffs []FieldDiff
	workload := diffJSON(stored.WorkloadJSON, want.WorkloadJSON)
	diffs = append(diffs, workload...)
	if stored.Model != want.Model && !slices.ContainsFunc(workload, func(d FieldDiff) bool { return d.Field == FieldModel }) {
		diffs = append(diffs, FieldDiff{FieldModel, stored.Model, want.Model})
	}
	diffs = append(diffs, diffJSON(stored.SLAJSON, want.SLAJSON)...)
	if stored.Simulated != want.Simulated {
		diffs = append(diffs, FieldDiff{FieldSimulated, fmt.Sprint(stored.Simulated), fmt.Sprint(want.Simulated)})
	}
	if stored.Sampler != want.Sampler {
		diffs = append(diffs, FieldDiff{FieldSampler, stored.Sampler, want.Sampler})
	}
	if stored.Seed != want.Seed {
		diffs = append(diffs, FieldDiff{FieldSeed, fmt.Sprint(stored.Seed), fmt.Sprint(want.Seed)})
	}
	if stored.SpaceFingerprint != want.SpaceFingerprint {
		diffs = append(diffs, diffSpaces(stored, want, len(workload) > 0)...)
	}
	return diffs
}

// diffJSON compares two JSON objects key by key (the stored workload or SLA with the requested one).
func diffJSON(stored, want string) []FieldDiff {
	var a, b map[string]json.RawMessage
	if json.Unmarshal([]byte(stored), &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		if stored == want {
			return nil
		}
		return []FieldDiff{{"settings", stored, want}}
	}
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var diffs []FieldDiff
	for _, k := range keys {
		if string(a[k]) != string(b[k]) {
			diffs = append(diffs, FieldDiff{k, jsonText(a[k]), jsonText(b[k])})
		}
	}
	return diffs
}

// jsonText renders a JSON value for people: strings without quotes, nothing as "(none)".
func jsonText(v json.RawMessage) string {
	if len(v) == 0 {
		return "(none)"
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if s == "" {
			return `""`
		}
		return s
	}
	return string(v)
}

// SpaceRecord decodes a recorded space (space.Space.JSON) into space's own Description. A value of another
// type than today's (a record from an older autotune) leaves that field empty instead of failing the rest.
func SpaceRecord(text string) (space.Description, bool) {
	var d space.Description
	err := json.Unmarshal([]byte(text), &d)
	var typeErr *json.UnmarshalTypeError
	return d, err == nil || errors.As(err, &typeErr)
}

// diffSpaces says why two search spaces differ: another space file, another vLLM or GPU, or, when none of those
// (and not the workload, which shapes the space too) changed, the parameters that did.
func diffSpaces(stored, want store.Study, workloadChanged bool) []FieldDiff {
	fingerprints := []FieldDiff{{"search space", "fingerprint " + stored.SpaceFingerprint, "fingerprint " + want.SpaceFingerprint}}
	a, okA := SpaceRecord(stored.SpaceJSON)
	b, okB := SpaceRecord(want.SpaceJSON)
	if !okA || !okB {
		return fingerprints
	}
	var diffs []FieldDiff
	if a.Source != b.Source {
		diffs = append(diffs, FieldDiff{FieldSpaceFile, orBuiltIn(a.Source), orBuiltIn(b.Source)})
	}
	if a.VLLMVersion != b.VLLMVersion {
		diffs = append(diffs, FieldDiff{"vLLM version", a.VLLMVersion, b.VLLMVersion})
	}
	if a.GPU != b.GPU {
		diffs = append(diffs, FieldDiff{"GPU", a.GPU, b.GPU})
	}
	if len(diffs) > 0 || workloadChanged {
		return diffs
	}
	describe := func(r space.Description) map[string]string {
		m := map[string]string{}
		for _, p := range r.Params {
			d := p.Domain
			if p.Fixed != "" {
				d = "fixed " + p.Fixed
			}
			if p.Condition != "" {
				d += " when " + p.Condition
			}
			m[p.Name] = d
		}
		return m
	}
	pa, pb := describe(a), describe(b)
	var names []string
	for _, p := range a.Params {
		names = append(names, p.Name)
	}
	for _, p := range b.Params {
		if _, ok := pa[p.Name]; !ok {
			names = append(names, p.Name)
		}
	}
	for _, n := range names {
		if pa[n] != pb[n] {
			diffs = append(diffs, FieldDiff{"param " + n, orAbsent(pa[n]), orAbsent(pb[n])})
		}
	}
	if len(diffs) == 0 {
		return fingerprints
	}
	return diffs
}

func orBuiltIn(source string) string {
	if source == "" {
		return "(built-in)"
	}
	return source
}

func orAbsent(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}
