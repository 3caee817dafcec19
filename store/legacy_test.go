package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// testdata/schema-v1.db is a real study of 3 simulated trials written by autotune at d6ea4e4 (schema version 1,
// before workers). Reports must read it as it is; only a writer migrates it.
func TestReadOnlyOpenReadsAVersion1Database(t *testing.T) {
	orig, err := os.ReadFile("testdata/schema-v1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tuning.db")
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}

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
