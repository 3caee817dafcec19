package store

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/c-bata/goptuna"
)

// TestMain lets the test binary act as a writer process that the crash test kills.
func TestMain(m *testing.M) {
	if os.Getenv("STORE_TEST_WRITER") != "" {
		os.Exit(writer(os.Getenv("STORE_TEST_WRITER")))
	}
	if os.Getenv("STORE_TEST_HOLD") != "" {
		os.Exit(holdTransaction(os.Getenv("STORE_TEST_HOLD")))
	}
	// Children re-exec this binary; built with -race, each would sleep 1 s at exit (TSan's atexit_sleep_ms).
	os.Setenv("GORACE", strings.TrimSpace("atexit_sleep_ms=0 "+os.Getenv("GORACE")))
	os.Exit(m.Run())
}

// writer records trials as the tuner does (goptuna trial, autotune record, value, state) and prints the
// number of each trial once all of it is committed.
func writer(path string) int {
	db, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	study, err := goptuna.CreateStudy("crash", goptuna.StudyOptionStorage(db.storage), goptuna.StudyOptionLoadIfExists(true),
		goptuna.StudyOptionLogger(nil))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for {
		id, err := db.storage.CreateNewTrial(study.ID)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		n, _ := db.storage.GetTrialNumberFromID(id)
		v := float64(n)
		rec := Trial{TrialID: id, StudyID: study.ID, Number: n, State: StateComplete, Objective: &v,
			Args: []string{"--max-num-seqs", strconv.Itoa(n)}, BenchJSON: strings.Repeat("x", 4096), LogTail: strings.Repeat("log line\n", 200)}
		if err := db.PutTrial(rec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := db.storage.SetTrialValue(id, v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := db.storage.SetTrialState(id, goptuna.TrialStateComplete); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(n)
	}
}

// TestKilledWriterLosesNothingCommitted kills a writer at random points of its writes, again and again, and
// checks each time that the database opens and holds every trial reported committed before the kill.
func TestKilledWriterLosesNothingCommitted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tuning.db")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	var reported []int // every trial a writer said it committed, over all rounds
	const rounds = 8
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "STORE_TEST_WRITER="+path)
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		committed := make(chan int, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if n, err := strconv.Atoi(sc.Text()); err == nil {
					committed <- n
				}
			}
			close(committed)
		}()
		time.Sleep(time.Duration(100+rng.Intn(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		before := len(reported)
		for n := range committed {
			reported = append(reported, n)
		}

		db, err := Open(path)
		if err != nil {
			t.Fatalf("round %d: the database does not open after a kill: %v", round, err)
		}
		st, err := goptuna.LoadStudy("crash", goptuna.StudyOptionStorage(db.storage), goptuna.StudyOptionLogger(nil))
		if err != nil && len(reported) == 0 {
			db.Close() // killed before the study was created: nothing was committed yet
			continue
		}
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		trials, err := st.GetTrials()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		complete := map[int]bool{}
		for _, ft := range trials {
			if ft.State == goptuna.TrialStateComplete && ft.Value == float64(ft.Number) {
				complete[ft.Number] = true
			}
		}
		for _, n := range reported {
			rec, err := db.TrialByNumber(st.ID, n)
			if !complete[n] || err != nil || rec.State != StateComplete {
				t.Fatalf("round %d: trial %d was committed before the kill but is not complete (%v)", round, n, err)
			}
		}
		if len(reported) == before {
			t.Logf("round %d: killed before any trial committed", round)
		}
		db.Close()
	}
	if len(reported) == 0 {
		t.Fatal("no writer committed a trial before its kill: the test checked nothing")
	}
	t.Logf("SUMMARY: %d kills (SIGKILL) of a writer at random points; the database opened and passed integrity_check after every one, and all %d trials reported committed before a kill were complete",
		rounds, len(reported))
}
