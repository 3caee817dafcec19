package store

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"github.com/c-bata/goptuna"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/autotune/autotune/internal/citest"
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
			citest.SkipUnlessCI(t, "cannot mount a read-only tmpfs as root: %v: %s", err, out)
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

// TestWorkersAndSlots: workers register and heartbeat; slots keep finished plus running trials within the
// target however many workers claim them; a worker that was removed (taken for dead) learns it.
func TestWorkersAndSlots(t *testing.T) { bothDatabases(t, testWorkersAndSlots) }

func testWorkersAndSlots(t *testing.T, db *DB) {
	var ws []Worker
	for i := 1; i <= 3; i++ {
		w, err := db.Register(1, Owner{Host: "h", PID: i, Start: uint64(i)}, fmt.Sprintf("GPU %d", i))
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	claim := func(w Worker) bool {
		ok, err := db.ClaimSlot(1, w.ID, 2)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !claim(ws[0]) || !claim(ws[1]) {
		t.Fatal("two workers could not claim the two slots of a study of 2")
	}
	if claim(ws[2]) {
		t.Fatal("a third worker claimed a slot: 0 finished + 2 running already make 2")
	}
	if err := db.ReleaseSlot(ws[0].ID); err != nil {
		t.Fatal(err)
	}
	if !claim(ws[2]) {
		t.Error("a released slot could not be claimed")
	}
	list, err := db.Workers(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[1].Owner.PID != 2 || list[1].Label != "GPU 2" || !list[1].Busy || list[0].Busy {
		t.Errorf("workers = %+v", list)
	}
	time.Sleep(30 * time.Millisecond)
	if err := db.Beat(ws[0].ID); err != nil {
		t.Fatal(err)
	}
	list, _ = db.Workers(1)
	if list[1].Silent < 20*time.Millisecond || list[0].Silent >= list[1].Silent {
		t.Errorf("silences %s (just beat) and %s (not since registering, 30 ms ago)", list[0].Silent, list[1].Silent)
	}
	if err := db.Unregister(ws[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := db.Beat(ws[1].ID); !errors.Is(err, ErrNoWorker) {
		t.Errorf("heartbeat of a removed worker: %v, want ErrNoWorker", err)
	}
	if _, err := db.ClaimSlot(1, ws[1].ID, 10); !errors.Is(err, ErrNoWorker) {
		t.Errorf("slot claim of a removed worker: %v, want ErrNoWorker", err)
	}
}

// TestTakeOverOnce: of two workers failing the same dead worker's trial, one wins; a trial finished by its owner
// cannot be taken over, nor finished twice.
func TestTakeOverOnce(t *testing.T) { bothDatabases(t, testTakeOverOnce) }

func testTakeOverOnce(t *testing.T, db *DB) {
	study, err := goptuna.CreateStudy("s", goptuna.StudyOptionStorage(db.storage), goptuna.StudyOptionLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, finishFirst := range []bool{false, true} {
		id, err := db.storage.CreateNewTrial(study.ID)
		if err != nil {
			t.Fatal(err)
		}
		rec := Trial{TrialID: id, StudyID: study.ID, Number: id, State: StateRunning, WorkerID: 7}
		if err := db.PutTrial(rec); err != nil {
			t.Fatal(err)
		}
		if finishFirst {
			done := rec
			done.State = StateComplete
			if err := db.Finish(done, goptuna.TrialStateComplete, 5); err != nil {
				t.Fatal(err)
			}
			if err := db.Finish(done, goptuna.TrialStateComplete, 6); !errors.Is(err, ErrFinished) {
				t.Errorf("second finish: %v, want ErrFinished", err)
			}
		}
		won1, err1 := db.TakeOver(rec, false)
		won2, err2 := db.TakeOver(rec, true)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		got, _ := db.TrialByID(id)
		ft, _ := db.storage.GetTrial(id)
		switch {
		case finishFirst && (won1 || won2 || got.State != StateComplete || ft.Value != 5):
			t.Errorf("a finished trial was taken over: %v %v, record %s, value %g", won1, won2, got.State, ft.Value)
		case !finishFirst && (!won1 || won2 || got.State != StateFailed || ft.State != goptuna.TrialStateFail || got.ServerOrphan):
			t.Errorf("take over twice: %v %v, record %s, goptuna %v, orphan %v; want the first only", won1, won2, got.State, ft.State, got.ServerOrphan)
		}
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

// A database in memory holds a study like a file does, and each one is a database of its own.
func TestOpenMemory(t *testing.T) {
	a, err := OpenMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	id, err := a.NewStudy("s")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CreateStudy(Study{ID: id, Name: "s", Model: "m", WorkloadJSON: "{}", SLAJSON: "{}", Sampler: "tpe"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Enqueue(id, Queued{Label: "baseline"}); err != nil {
		t.Fatal(err)
	}
	if st, err := a.StudyByName("s"); err != nil || st.ID != id {
		t.Errorf("study in memory: %+v, %v", st, err)
	}
	if ts, err := a.GoptunaTrials(id); err != nil || len(ts) != 1 {
		t.Errorf("queued trials in memory: %d, %v; want 1", len(ts), err)
	}
	if _, err := b.StudyByName("s"); !errors.Is(err, ErrNoStudy) {
		t.Errorf("a second database in memory sees the first one's study: %v", err)
	}
}
