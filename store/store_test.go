package store

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

func TestOpenRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	notSQLite := filepath.Join(dir, "notes.db")
	os.WriteFile(notSQLite, []byte("hello, this is not a database\n"), 0o644)

	foreign := filepath.Join(dir, "foreign.db")
	mustExec(t, foreign, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")

	newer := filepath.Join(dir, "newer.db")
	db, err := Open(newer)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	mustExec(t, newer, "PRAGMA user_version = 99")

	truncated := filepath.Join(dir, "truncated.db")
	db, err = Open(truncated)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	data, _ := os.ReadFile(truncated)
	os.WriteFile(truncated, data[:len(data)/3], 0o644)

	tests := []struct {
		path, want string
	}{
		{notSQLite, "not an SQLite database"},
		{foreign, "did not create (tables: customers)"},
		{newer, "newer autotune"},
		{truncated, truncated + ": "},
		{dir, "is a directory"},
		{filepath.Join(notSQLite, "tuning.db"), "cannot create directory"},
	}
	for _, tc := range tests {
		before, _ := os.ReadFile(tc.path)
		_, err := Open(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s) = %v, want an error containing %q", filepath.Base(tc.path), err, tc.want)
		}
		if !strings.HasPrefix(err.Error(), tc.path+": ") {
			t.Errorf("error does not start with the file's path: %v", err)
		}
		if strings.Contains(err.Error(), "--db") {
			t.Errorf("error names the CLI's flag, which store does not know: %v", err)
		}
		after, _ := os.ReadFile(tc.path)
		if !bytes.Equal(before, after) {
			t.Errorf("Open(%s) changed the file", filepath.Base(tc.path))
		}
	}
	if _, err := Open(notSQLite); !errors.Is(err, ErrBadDatabase) {
		t.Errorf("not SQLite: %v is not ErrBadDatabase", err)
	}
	if !t.Failed() {
		t.Logf("SUMMARY: %d bad --db files (not SQLite, foreign, newer, truncated, a directory, under a file) refused, each unchanged", len(tests))
	}
}

// A folder the study cannot write to is refused before anything is created: as a user, a folder without write
// permission; as root (CI), who may write anywhere, a read-only mount.
func TestOpenRefusesReadOnlyDirectory(t *testing.T) {
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
			skipUnlessCI(t, "cannot mount a read-only tmpfs as root: %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", dir).Run() })
	} else {
		os.Chmod(dir, 0o500)
		defer os.Chmod(dir, 0o700)
	}
	if _, err := Open(filepath.Join(dir, "tuning.db")); err == nil || !strings.Contains(err.Error(), "cannot create") {
		t.Errorf("err = %v, want cannot create", err)
	}
}

// skipUnlessCI skips a test this machine cannot set up, except in CI (root on a fresh machine), where the test
// is meant to run: there a skip would hide that it runs nowhere.
func skipUnlessCI(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI: "+format, args...)
	}
	t.Skipf(format, args...)
}

func mustExec(t *testing.T, path, stmt string) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatal(err)
	}
}

func TestTrialRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tuning.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateStudy(Study{ID: 1, Name: "default", CreatedAt: time.Now(), Model: "m", WorkloadJSON: "{}",
		SLAJSON: "{}", Sampler: "tpe", Seed: 3, SpaceFingerprint: "f"}); err != nil {
		t.Fatal(err)
	}
	obj, dup := 4123.5, 2
	in := Trial{
		TrialID: 7, StudyID: 1, Number: 3, State: StateComplete, Label: "known-good: x", ConfigKey: "k",
		Params: map[string]string{"max_num_seqs": "64"}, Args: []string{"--max-num-seqs", "64", "--speculative-config", `{"method":"ngram"}`},
		Env: map[string]string{"A": "b"}, ServeArgv: []string{"vllm", "serve"}, BenchArgv: []string{"vllm", "bench"},
		BenchJSON: `{"output_throughput":4123.5}`, Feasible: true, Objective: &obj, Failure: "", Message: "m",
		LogTail: "tail", Startup: 46 * time.Second, Benchmark: 30500 * time.Millisecond, Teardown: time.Second,
		ServerLog: "/x/server.log", DuplicateOf: &dup, OwnerHost: "h", OwnerPID: 9, ServerPID: 10, ServerPGID: 10,
		ServerStart: 12345, ServerHost: "127.0.0.1", ServerPort: 8000, ServerToken: "tok",
		StartedAt: time.Date(2026, 11, 28, 1, 2, 3, 0, time.UTC), FinishedAt: time.Date(2026, 11, 28, 1, 3, 3, 0, time.UTC),
	}
	if err := db.PutTrial(in); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(path) // what was committed survives a reopen
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out, err := db.TrialByNumber(1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n in %+v\nout %+v", in, out)
	}
	if _, err := db.TrialByNumber(1, 4); !errors.Is(err, ErrNoTrial) {
		t.Errorf("missing trial: %v", err)
	}
}

func TestLock(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "tuning.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := Owner{Host: "h", PID: 1, Start: 1}
	b := Owner{Host: "h", PID: 2, Start: 2}
	never := func(Lock) bool { return false }
	if err := db.AcquireLock(1, a, never); err != nil {
		t.Fatal(err)
	}
	if err := db.AcquireLock(1, a, never); err != nil {
		t.Fatalf("re-acquire by the holder: %v", err)
	}
	if err := db.AcquireLock(1, b, never); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid 1 on host h") {
		t.Fatalf("second owner: %v, want ErrLocked naming pid 1", err)
	}
	if err := db.AcquireLock(1, b, func(l Lock) bool { return l.Owner == a }); err != nil {
		t.Fatalf("take over from a dead owner: %v", err)
	}
	if err := db.ReleaseLock(1, b); err != nil {
		t.Fatal(err)
	}
	if err := db.AcquireLock(1, a, never); err != nil {
		t.Fatalf("after release: %v", err)
	}

	// Only the holder's heartbeat refreshes the lock; a process with the holder's PID but another start time
	// (the PID reused) is not the holder, and neither can release it.
	heartbeat := func() time.Time {
		var hb time.Time
		db.AcquireLock(1, b, func(l Lock) bool { hb = l.Heartbeat; return false })
		return hb
	}
	h0 := heartbeat()
	time.Sleep(20 * time.Millisecond)
	reused := Owner{Host: a.Host, PID: a.PID, Start: 99}
	if err := db.Heartbeat(1, reused); err != nil {
		t.Fatal(err)
	}
	if h := heartbeat(); !h.Equal(h0) {
		t.Errorf("a stranger's heartbeat moved the lock from %v to %v", h0, h)
	}
	if err := db.Heartbeat(1, a); err != nil {
		t.Fatal(err)
	}
	if h := heartbeat(); !h.After(h0) {
		t.Errorf("the holder's heartbeat left the lock at %v (was %v)", h, h0)
	}
	db.ReleaseLock(1, reused)
	if err := db.AcquireLock(1, b, never); !errors.Is(err, ErrLocked) {
		t.Errorf("a stranger released the lock: %v", err)
	}
}

// TestReopenLeavesFileUntouched: opening an up-to-date database writes nothing, so a command refused after
// opening it (an incompatible study) leaves the file byte for byte as it was.
func TestReopenLeavesFileUntouched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tuning.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, _ := os.ReadFile(path)
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.StudyByName("default"); !errors.Is(err, ErrNoStudy) {
		t.Fatalf("empty database: %v", err)
	}
	db.Close()
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Errorf("reopening changed the file")
	}
}

// TestConcurrentCreate: several autotunes opening the same new file at once all succeed; none sees goptuna's
// tables without autotune's and refuses the file as foreign.
func TestConcurrentCreate(t *testing.T) {
	for round := 0; round < 5; round++ {
		path := filepath.Join(t.TempDir(), "tuning.db")
		errs := make(chan error, 6)
		for i := 0; i < 6; i++ {
			go func() {
				db, err := Open(path)
				if err == nil {
					db.Close()
				}
				errs <- err
			}()
		}
		for i := 0; i < 6; i++ {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}

func TestOpenReadOnly(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	if _, err := OpenReadOnly(missing); !errors.Is(err, ErrBadDatabase) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("OpenReadOnly created %s", missing)
	}
	path := filepath.Join(dir, "tuning.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db.CreateStudy(Study{ID: 1, Name: "default", Model: "m", WorkloadJSON: "{}", SLAJSON: "{}", Sampler: "tpe"})
	db.Close()
	os.Chmod(path, 0o444)
	before, _ := os.ReadFile(path)
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.StudyByName("default"); err != nil {
		t.Errorf("read: %v", err)
	}
	if err := ro.PutTrial(Trial{TrialID: 1, StudyID: 1}); err == nil {
		t.Errorf("a read-only database accepted a write")
	}
	ro.Close()
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("OpenReadOnly changed the file")
	}
}
