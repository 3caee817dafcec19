package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"testing"

	readmodel "github.com/autotune/autotune/report"
)

// The CSV of `trials` names its columns as the read model's JSON names the same values (report.Trial), so that
// a program reading either finds one vocabulary: every column must be a key of that JSON.
func TestTrialsCSVColumnsAreTheJSONNames(t *testing.T) {
	var out bytes.Buffer
	if err := writeTrialsCSV(&out, nil); err != nil {
		t.Fatal(err)
	}
	header, err := csv.NewReader(&out).Read()
	if err != nil {
		t.Fatal(err)
	}
	one, dup := 1.0, 1
	b, err := json.Marshal(readmodel.Trial{Label: "x", Violation: "x", Message: "x", DuplicateOf: &dup, OutputThroughput: &one,
		Env: map[string]string{"A": "b"}, Model: "m", FlagsOf: &dup, Measurements: []readmodel.Measurement{{}}})
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for _, col := range header {
		if _, ok := keys[col]; !ok {
			t.Errorf("CSV column %q is not a key of the trials JSON", col)
		}
	}
}
