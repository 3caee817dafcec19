package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/runner/runnertest"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/store"
)

// workerRows counts the workers registered in db: a run that ended, however, has left.
func workerRows(t *testing.T, db string) int {
	t.Helper()
	d, err := sql.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.QueryRow("SELECT count(*) FROM autotune_workers").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSecondInterruptRecordsTrialAndReleasesLock drives runWithSignals with its own signal channel. The
// simulated server ignores SIGTERM and the grace period is ten minutes, so after the first interrupt the run
// waits; the second kills the server's group at once, and the run still records the trial as interrupted,
// unregisters its worker and exits 130. Before, the second interrupt called os.Exit from main: the trial
// stayed "running" and the lock in place (9 of 10 times), and in-process nothing handled it at all.
func TestSecondInterruptRecordsTrialAndReleasesLock(t *testing.T) {
	k, v, _ := strings.Cut(runnertest.TrackChildren(t), "=")
	t.Setenv(k, v) // the servers get os.Environ: any of them left behind fails the test
	t.Setenv(sim.EnvFault, "ignore_sigterm")
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	sigs := make(chan os.Signal, 3)
	var stdout, stderr runnertest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runWithSignals(sigs, append(simFlags(t, db, "10"), "--trials", "3", "--stop-grace", "10m"), &stdout, &stderr)
	}()
	victim := serverPastBanner(t, db)
	sigs <- syscall.SIGINT
	select {
	case code := <-done:
		t.Fatalf("exit %d on the first interrupt, before the server (which ignores SIGTERM) stopped:\n%s", code, stderr.String())
	case <-time.After(time.Second):
	}
	sigs <- syscall.SIGINT
	select {
	case code := <-done:
		if code != exitInterrupted {
			t.Errorf("exit %d, want 130\n%s", code, stderr.String())
		}
	case <-time.After(2 * time.Minute): // generous: the bug is a ten-minute grace period, or forever
		t.Fatalf("no exit after the second interrupt:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "still not done") {
		t.Errorf("the run gave up instead of recording the trial:\n%s", stderr.String())
	}
	if !groupGone(victim.ServerPGID) {
		t.Errorf("server group %d survived", victim.ServerPGID)
	}
	if n := workerRows(t, db); n != 0 {
		t.Errorf("%d workers still registered after the second interrupt, want 0", n)
	}
	tj := readTrials(t, db)
	for _, tr := range tj.Trials {
		if tr.Number == victim.Number && (tr.State != store.StateFailed || tr.Failure == nil || *tr.Failure != string(runner.Interrupted)) {
			t.Errorf("trial %d: state %s failure %v, want failed/interrupted", tr.Number, tr.State, tr.Failure)
		}
		if tr.State == store.StateRunning {
			t.Errorf("trial %d is still recorded as running", tr.Number)
		}
	}
}

// TestSecondInterruptEndsAReport: a report that waits for a database another process holds locked (SQLite's
// busy timeout, 10 s) ends on the second interrupt, without waiting for the lock or the hard stop.
func TestSecondInterruptEndsAReport(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tuning.db")
	d, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CreateStudy(store.Study{ID: 1, Name: "default", Model: "m", WorkloadJSON: "{}", SLAJSON: "{}", Sampler: "tpe"}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	holder, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	conn, err := holder.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")
	if inSQLite() {
		t.Fatal("a goroutine is in the SQLite driver before the report started")
	}
	sigs := make(chan os.Signal, 3)
	var stdout, stderr runnertest.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- runWithSignals(sigs, []string{"trials", "--db", db}, &stdout, &stderr) }()
	// The interrupts must arrive while the report waits for the lock, or the test proves nothing: wait until a
	// goroutine is inside the SQLite driver (the holder's connection is idle, so it is the report's) at three
	// looks in a row, which a quick open or read does not last.
	for seen := 0; seen < 3; {
		if inSQLite() {
			seen++
		} else {
			seen = 0
		}
		select {
		case code := <-done:
			t.Fatalf("the report ended (exit %d) before the interrupt, without waiting for the lock\n%s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	start := time.Now()
	sigs <- syscall.SIGINT
	sigs <- syscall.SIGINT
	select {
	case code := <-done:
		if code != exitInterrupted {
			t.Errorf("exit %d, want 130\n%s", code, stderr.String())
		}
	case <-time.After(hardStop):
		t.Fatalf("the report did not end on the second interrupt")
	}
	if d := time.Since(start); d >= 10*time.Second {
		t.Errorf("took %s: it waited for the database lock", d)
	}
}

// inSQLite reports whether any goroutine of this test binary is running inside the SQLite driver.
func inSQLite() bool {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return bytes.Contains(buf[:n], []byte("mattn/go-sqlite3."))
}
