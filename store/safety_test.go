package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOpenRefusesFilesThatAreNotRegular: a FIFO, a device and symbolic links to them are refused before they are
// opened, by the read-only and the writing open alike, and nothing is created next to them. Before, a FIFO made
// `trials` block forever and a link to /dev/null created /dev/null-journal.
func TestOpenRefusesFilesThatAreNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.db")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	linkFIFO := filepath.Join(dir, "link-fifo.db")
	linkNull := filepath.Join(dir, "link-null.db")
	dangling := filepath.Join(dir, "dangling.db")
	os.Symlink(fifo, linkFIFO)
	os.Symlink("/dev/null", linkNull)
	os.Symlink(filepath.Join(dir, "nowhere", "x.db"), dangling)
	_, journalBefore := os.Stat("/dev/null-journal")
	cases := []struct{ path, want string }{
		{fifo, "a named pipe (FIFO)"},
		{linkFIFO, "a symbolic link to " + fifo + ", a named pipe"},
		{linkNull, "a symbolic link to /dev/null, a character device"},
		{"/dev/null", "a character device"},
		{dangling, "does not resolve"},
	}
	for _, tc := range cases {
		for _, open := range []func(string) (*DB, error){Open, OpenReadOnly} {
			done := make(chan error, 1)
			go func() {
				db, err := open(tc.path)
				if err == nil {
					db.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrBadDatabase) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), tc.path+": ") {
					t.Errorf("open %s: %v; want ErrBadDatabase naming it and saying %q", tc.path, err, tc.want)
				}
			case <-time.After(time.Minute): // a generous bound: the bug was blocking forever
				t.Fatalf("open %s blocked", tc.path)
			}
		}
	}
	if _, err := os.Stat("/dev/null-journal"); err == nil && journalBefore != nil {
		os.Remove("/dev/null-journal")
		t.Errorf("opening a link to /dev/null created /dev/null-journal")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*-journal")); len(left) > 0 {
		t.Errorf("journals created: %v", left)
	}
	if !t.Failed() {
		t.Logf("SUMMARY: %d --db paths that are not regular files (FIFO, device, links to them, a dangling link) refused by both opens, none blocked", len(cases))
	}
}

// A symbolic link to a regular database is followed: the study opens and its journal goes next to the real file.
func TestOpenFollowsLinkToRegularFile(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real", "tuning.db")
	os.MkdirAll(filepath.Dir(real), 0o755)
	os.WriteFile(real, nil, 0o644) // an empty file is a new study
	link := filepath.Join(dir, "tuning.db")
	os.Symlink(real, link)
	db, err := Open(link)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateStudy(Study{ID: 1, Name: "default", Model: "m", WorkloadJSON: "{}", SLAJSON: "{}", Sampler: "tpe"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if st, err := os.Stat(real); err != nil || st.Size() == 0 {
		t.Errorf("the link's target was not written: %v", err)
	}
	if lst, _ := os.Lstat(link); lst.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced by a file")
	}
}

// holdTransaction is the test binary as a writer that stops mid-transaction, its changes partly written to the
// database file (a tiny page cache spills them), until it is killed.
func holdTransaction(path string) int {
	db, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := db.CreateStudy(Study{ID: 1, Name: "default", Model: "m", WorkloadJSON: "{}", SLAJSON: "{}", Sampler: "tpe"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, stmt := range []string{"PRAGMA cache_size = 2", "BEGIN IMMEDIATE",
		"UPDATE autotune_studies SET model = 'changed'",
		"CREATE TABLE autotune_filler (x TEXT)",
		"INSERT INTO autotune_filler WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000) SELECT printf('%.500c', 'x') FROM n"} {
		if _, err := db.sql.Exec(stmt); err != nil {
			fmt.Fprintln(os.Stderr, stmt, err)
			return 1
		}
	}
	fmt.Println("holding")
	select {}
}

// TestHotJournal: a writer killed mid-transaction leaves a hot journal. The read-only open says what it is and
// that `autotune run` recovers it (it used to say "attempt to write a readonly database: unusable database");
// the next writing open rolls it back and the study is as it was before the transaction.
func TestHotJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tuning.db")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "STORE_TEST_HOLD="+path)
	cmd.Stderr = os.Stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "holding\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("writer said %q", line)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if !hotJournal(path) {
		t.Fatalf("the killed writer left no journal")
	}
	before, _ := os.ReadFile(path)
	_, err = OpenReadOnly(path)
	if !errors.Is(err, ErrHotJournal) || !strings.Contains(err.Error(), "autotune run --db "+path) ||
		strings.Contains(err.Error(), "unusable") {
		t.Fatalf("read-only open: %v; want ErrHotJournal saying that `autotune run` recovers it", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("the read-only open changed the file")
	}
	db, err := Open(path)
	if err != nil {
		t.Fatalf("writing open: %v", err)
	}
	st, err := db.StudyByName("default")
	db.Close()
	if err != nil || st.Model != "m" {
		t.Fatalf("after recovery: %+v, %v; want the study as committed (model m)", st, err)
	}
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("read-only open after recovery: %v", err)
	}
	ro.Close()
}

// TestWritingOpenRunsIntegrityCheck: an index that no longer matches its table passes quick_check; the open for
// writing runs integrity_check, refuses the file, and leaves it byte for byte as it was.
func TestWritingOpenRunsIntegrityCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tuning.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db.CreateStudy(Study{ID: 1, Name: "default", Model: "m", WorkloadJSON: "{}", SLAJSON: "{}", Sampler: "tpe"})
	for n := 0; n < 40; n++ {
		if err := db.PutTrial(Trial{TrialID: n + 1, StudyID: 1, Number: n, State: StateComplete}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	// Declare the index over other columns than the ones its entries were built from.
	mustExec(t, path, "PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = 'CREATE INDEX autotune_trials_study ON autotune_trials (number, trial_id)' WHERE name = 'autotune_trials_study'")
	ro, err := OpenReadOnly(path) // quick_check does not see it: reports still read the study
	if err != nil {
		t.Fatalf("read-only open (quick_check): %v", err)
	}
	ro.Close()
	before, _ := os.ReadFile(path)
	_, err = Open(path)
	if !errors.Is(err, ErrBadDatabase) || !strings.Contains(err.Error(), "integrity_check") || !strings.Contains(err.Error(), "autotune_trials_study") {
		t.Fatalf("Open = %v; want the integrity_check failure naming the index", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("a refused open changed the file")
	}
}

// TestDiskFullNamesPathAndFreeSpace: SQLITE_FULL, from our tables and from goptuna's, names the database and
// the free space on its disk. SQLite's page limit stands in for a full disk (max_page_count).
func TestDiskFullNamesPathAndFreeSpace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tuning.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateStudy(Study{ID: 1, Name: "default", Model: "m", WorkloadJSON: "{}", SLAJSON: "{}", Sampler: "tpe"}); err != nil {
		t.Fatal(err)
	}
	var pages int
	db.sql.QueryRow("PRAGMA page_count").Scan(&pages)
	if _, err := db.sql.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 1<<20)
	errs := map[string]error{
		"PutTrial": db.PutTrial(Trial{TrialID: 1, StudyID: 1, Number: 1, BenchJSON: big}),
		"goptuna":  db.ExplainFull(db.storage.SetStudyUserAttr(1, "k", big)),
	}
	for what, err := range errs {
		if !errors.Is(err, ErrDiskFull) || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), "iB free") {
			t.Errorf("%s: %v; want ErrDiskFull naming %s and the free space", what, err, path)
		}
	}
	if err := db.ExplainFull(errors.New("other")); err.Error() != "other" {
		t.Errorf("ExplainFull changed another error: %v", err)
	}
}
