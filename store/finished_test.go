package store

import (
	"testing"
	"time"

	"github.com/c-bata/goptuna"
)

// TestFinishedCountIsTrialFinished: FinishedCount (SQL, for the loop at every trial) and Trial.Finished (Go, for
// the read model) are one definition written twice; on a study with a trial in every state, a duplicate and a
// pruned trial they must agree, and count exactly the complete and pruned trials that are not duplicates.
func TestFinishedCountIsTrialFinished(t *testing.T) { bothDatabases(t, testFinishedCount) }

func testFinishedCount(t *testing.T, db *DB) {
	id, err := db.NewStudy("s")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateStudy(Study{ID: id, Name: "s", Model: "m", WorkloadJSON: "{}", SLAJSON: "{}", Sampler: "tpe"}); err != nil {
		t.Fatal(err)
	}
	start := func(key string) Trial {
		t.Helper()
		rec, err := db.StartTrial(0, nil, Trial{StudyID: id, State: StateRunning, ConfigKey: key, StartedAt: time.Now()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	finish := func(rec Trial, state goptuna.TrialState, dup *int) {
		t.Helper()
		rec.DuplicateOf = dup
		rec.State = map[goptuna.TrialState]string{goptuna.TrialStateComplete: StateComplete,
			goptuna.TrialStateFail: StateFailed, goptuna.TrialStatePruned: StatePruned}[state]
		if err := db.Finish(rec, state, 1); err != nil {
			t.Fatal(err)
		}
	}
	first := start("a")
	finish(first, goptuna.TrialStateComplete, nil)
	finish(start("a-again"), goptuna.TrialStateComplete, &first.Number) // answered from #first: not counted
	finish(start("b"), goptuna.TrialStatePruned, nil)
	finish(start("c"), goptuna.TrialStateFail, nil)
	start("d") // still running
	if err := db.Enqueue(id, Queued{Label: "waiting"}); err != nil {
		t.Fatal(err)
	}

	recs, err := db.Trials(id)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	states := map[string]int{}
	for _, r := range recs {
		states[r.State]++
		if r.Finished() {
			want++
		}
	}
	if want != 2 {
		t.Errorf("Trial.Finished counts %d of %v, want 2 (the first complete trial and the pruned one)", want, states)
	}
	if n, err := db.FinishedCount(id); err != nil || n != want {
		t.Errorf("FinishedCount = %d (%v), Trial.Finished counts %d", n, err, want)
	}
}
