package tuner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
)

// testdata/schema-v2-queued.db is a study of the fake space written by autotune at 85cd913 (schema version 2,
// whose queued trials kept their values in goptuna's "fixed_params"): trials 0-2 complete, trial 3 (x=b, y=3)
// interrupted, and "retry of #3" waiting with trial 3's values. Resumed by this autotune, the retry runs first,
// with exactly those values.
func TestResumeAVersion2StudyWithAQueuedRetry(t *testing.T) {
	orig, err := os.ReadFile("testdata/schema-v2-queued.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tuning.db")
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sp := newFakeSpace()
	sp.knownGood = append(sp.knownGood, sp.config("c", 7))
	r := &fakeRunner{fn: func(ctx context.Context, tr runner.Trial, call int) runner.Result {
		return benchResult(float64(200+call), 20, 500)
	}}
	// The options the study was made with.
	opts := Options{Trials: 6, Sampler: "tpe", Seed: 7, SLA: DefaultSLA(), Workload: runner.DefaultWorkload(),
		WorkDir: t.TempDir(), Owner: store.Owner{Host: "test", PID: 1, Start: 1}}
	sum, err := New(db, r, sp, opts).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ran := r.ran(); len(ran) == 0 || ran[0] != fmt.Sprint([]string{"--x", "b", "--y", "3"}) {
		t.Fatalf("resumed study ran %v first, want trial 3's config [--x b --y 3]", ran)
	}
	rec, err := db.TrialByNumber(sum.StudyID, 4)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Label != "retry of #3" || rec.Params["x"] != "b" || rec.Params["y"] != "3" || rec.State != store.StateComplete {
		t.Errorf("trial 4: %q %v %s, want the retry of #3 with x=b y=3, complete", rec.Label, rec.Params, rec.State)
	}
	params, err := db.TrialParams(rec.TrialID)
	if err != nil {
		t.Fatal(err)
	}
	if params["x"] != 1 || params["y"] != 3 {
		t.Errorf("trial 4's values in goptuna's table: %v, want x=1 (b) y=3", params)
	}
}
