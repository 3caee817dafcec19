package store

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c-bata/goptuna"
)

// testdata/schema-v1.db is a real study of 3 simulated trials written by autotune at d6ea4e4 (schema version 1,
// before workers). Reports must read it as it is; only a writer migrates it.
func TestReadOnlyOpenReadsAVersion1Database(t *testing.T) {
	path, orig := copyOfTestdata(t, "schema-v1.db")

	db, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("read-only open of a version 1 database: %v", err)
	}
	st, err := db.StudyByName("default")
	if err != nil {
		t.Fatal(err)
	}
	trials, err := db.Trials(st.ID)
	if err != nil {
		t.Fatalf("trials of a version 1 database: %v", err)
	}
	if len(trials) != 3 {
		t.Errorf("read %d trials, want the 3 the file holds", len(trials))
	}
	if _, err := db.TrialByNumber(st.ID, 1); err != nil {
		t.Errorf("trial 1 of a version 1 database: %v", err)
	}
	db.Close()
	if now, _ := os.ReadFile(path); !bytes.Equal(now, orig) {
		t.Error("a read-only open changed the file")
	}

	w, err := Open(path)
	if err != nil {
		t.Fatalf("writable open migrates: %v", err)
	}
	defer w.Close()
	if v, err := w.storedVersion(); err != nil || v != SchemaVersion {
		t.Errorf("after a writable open the schema is %d (%v), want %d", v, err, SchemaVersion)
	}
	if trials, err := w.Trials(st.ID); err != nil || len(trials) != 3 {
		t.Errorf("after migration: %d trials, %v; want 3", len(trials), err)
	}
}

// A queued trial of an older database keeps its values: schema 1 and 2 kept them in goptuna's "fixed_params"
// attribute, which migrating renames to autotune's own. testdata/schema-v1.db holds one waiting trial, suffix
// decoding's known-good point.
func TestMigrationKeepsQueuedValues(t *testing.T) {
	path, _ := copyOfTestdata(t, "schema-v1.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.StudyByName("default")
	if err != nil {
		t.Fatal(err)
	}
	trials, err := db.GoptunaTrials(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	var waiting []Queued
	for _, ft := range trials {
		if _, ok := ft.SystemAttrs["fixed_params"]; ok {
			t.Errorf("trial %d still has goptuna's fixed_params after the migration", ft.Number)
		}
		q, err := QueuedOf(ft)
		if err != nil {
			t.Fatal(err)
		}
		if len(q.Params) == 0 {
			t.Errorf("trial %d (%s): no queued values after the migration", ft.Number, ft.State)
		}
		if ft.State == goptuna.TrialStateWaiting {
			waiting = append(waiting, q)
		}
	}
	want := map[string]float64{"attention_backend": 0, "block_size": 0, "gpu_memory_utilization": 0, "max_model_len": 0,
		"max_num_batched_tokens": 0, "max_num_seqs": 0, "optimization": 0, "prefix_caching": 0, "quantization": 0,
		"speculative": 2, "stream_interval": 0}
	if len(waiting) != 1 || !strings.HasPrefix(waiting[0].Label, "known-good: suffix decoding") || !maps.Equal(waiting[0].Params, want) {
		t.Errorf("queued after the migration: %+v, want suffix decoding's known-good point with %v", waiting, want)
	}
}

// copyOfTestdata copies testdata/name into the test's own folder as tuning.db: the tests migrate it, and the
// committed file must stay as the old release wrote it. It returns the copy's path and the original bytes.
func copyOfTestdata(t *testing.T, name string) (string, []byte) {
	t.Helper()
	orig, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tuning.db")
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, orig
}
