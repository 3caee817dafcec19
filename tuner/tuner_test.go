package tuner

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/space"
	"github.com/autotune/autotune/store"
)

// smooth is a fake benchmark whose throughput grows with y and depends on x.
func smooth(_ context.Context, t runner.Trial, _ int) runner.Result {
	if len(t.Args) == 0 {
		return benchResult(3332, 14.8, 1180)
	}
	y, _ := strconv.Atoi(argValue(t.Args, "--y"))
	bonus := map[string]float64{"a": 0, "b": 100, "c": 200, "d": 300}[argValue(t.Args, "--x")]
	return benchResult(3000+float64(y%10)*50+bonus, 20, 900)
}

func TestRunReachesTargetWithBaselineFirst(t *testing.T) {
	db := openDB(t)
	sp := newFakeSpace()
	sp.knownGood = []space.Config{{Params: map[string]string{"x": "d", "y": "9"}, Label: "known-good: test"}}
	r := &fakeRunner{fn: smooth}
	tu := New(db, r, sp, testOptions(t, 12))
	sum, err := tu.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Finished != 12 {
		t.Fatalf("finished = %d, want 12", sum.Finished)
	}
	recs, err := db.Trials(sum.StudyID)
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].Label != "baseline" || len(recs[0].Args) != 0 {
		t.Errorf("trial 0 = %q %v, want the baseline with no flags", recs[0].Label, recs[0].Args)
	}
	if recs[1].Label != "known-good: test" || argValue(recs[1].Args, "--x") != "d" || argValue(recs[1].Args, "--y") != "9" {
		t.Errorf("trial 1 = %q %v, want the known-good point x=d y=9", recs[1].Label, recs[1].Args)
	}
	// Every trial ran through the runner at most once per distinct command line.
	seen := map[string]bool{}
	for _, c := range r.ran() {
		if seen[c] {
			t.Errorf("config %s ran twice", c)
		}
		seen[c] = true
	}
	// goptuna holds the same values as our records.
	gts, err := db.GoptunaTrials(sum.StudyID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ft := range gts {
		rec, err := db.TrialByID(ft.ID)
		if err != nil {
			t.Fatalf("trial %d has no autotune record: %v", ft.Number, err)
		}
		if ft.State == goptuna.TrialStateComplete && (rec.Objective == nil || *rec.Objective != ft.Value) {
			t.Errorf("trial %d: goptuna value %v, record %v", ft.Number, ft.Value, rec.Objective)
		}
	}
}

// TestSamplerMovesAwayFromFailures proves the crash encoding: x=a always crashes, and TPE, told so with
// CrashValue, proposes x=a far less often after its startup trials than uniform sampling would (1 in 4).
func TestSamplerMovesAwayFromFailures(t *testing.T) {
	crashing := func(ctx context.Context, tr runner.Trial, call int) runner.Result {
		if argValue(tr.Args, "--x") == "a" {
			return runner.Result{Class: runner.OutOfMemory, Message: "CUDA out of memory"}
		}
		return smooth(ctx, tr, call)
	}
	db := openDB(t)
	opts := testOptions(t, 40)
	opts.StartupTrials = 10
	sp := newFakeSpace()
	sp.yhi = 99 // large enough that TPE is never forced back into x=a by running out of configs
	tu := New(db, &fakeRunner{fn: crashing}, sp, opts)
	sum, err := tu.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	recs, err := db.Trials(sum.StudyID)
	if err != nil {
		t.Fatal(err)
	}
	late, lateA := 0, 0
	for _, r := range recs {
		if r.Number < 15 || r.Label == "baseline" {
			continue
		}
		late++
		if r.Params["x"] == "a" {
			lateA++
		}
	}
	if late < 10 {
		t.Fatalf("only %d trials after startup", late)
	}
	if frac := float64(lateA) / float64(late); frac > 0.10 {
		t.Errorf("after startup TPE proposed the crashing region in %d of %d trials (%.0f%%), want <= 10%%", lateA, late, 100*frac)
	}
}

func TestHarnessFaultsAreRetriedNotCounted(t *testing.T) {
	db := openDB(t)
	calls := 0
	flaky := func(ctx context.Context, tr runner.Trial, call int) runner.Result {
		calls++
		if calls == 2 { // the first sampled trial hits a harness fault once
			return runner.Result{Class: runner.Harness, Message: "port 8000 is in use"}
		}
		return smooth(ctx, tr, call)
	}
	r := &fakeRunner{fn: flaky}
	sum, err := New(db, r, newFakeSpace(), testOptions(t, 5)).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := db.Trials(sum.StudyID)
	if recs[1].State != store.StateFailed || recs[1].Failure != string(runner.Harness) {
		t.Fatalf("trial 1 = %s/%s, want failed/harness", recs[1].State, recs[1].Failure)
	}
	if recs[2].Label != "retry of #1" || recs[2].ConfigKey != recs[1].ConfigKey {
		t.Errorf("trial 2 = %q key %q, want a retry of trial 1's config", recs[2].Label, recs[2].ConfigKey)
	}
	if sum.Finished != 5 {
		t.Errorf("finished = %d, want 5 (the harness fault does not count)", sum.Finished)
	}
}

func TestHarnessFaultsInARowStopTheStudy(t *testing.T) {
	db := openDB(t)
	broken := func(context.Context, runner.Trial, int) runner.Result {
		return runner.Result{Class: runner.Harness, Message: "GPU memory not released"}
	}
	_, err := New(db, &fakeRunner{fn: broken}, newFakeSpace(), testOptions(t, 5)).Run(context.Background())
	if !errors.Is(err, ErrHarness) {
		t.Fatalf("err = %v, want ErrHarness", err)
	}
}

func TestDuplicatesAreNotRunTwice(t *testing.T) {
	db := openDB(t)
	sp := newFakeSpace()
	sp.xs, sp.yhi = []string{"a", "b"}, 1 // four configs in all
	r := &fakeRunner{fn: smooth}
	sum, err := New(db, r, sp, testOptions(t, 5)).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ran := r.ran()
	if got := len(ran); got != 5 {
		t.Errorf("runner ran %d trials, want 5 (baseline + the four configs)", got)
	}
	if sum.Finished != 5 {
		t.Errorf("finished = %d, want 5", sum.Finished)
	}
	seen := map[string]bool{}
	for _, a := range ran {
		if seen[a] {
			t.Errorf("config %s ran twice", a)
		}
		seen[a] = true
	}
	// Proposals of measured configs are drawn again in memory: with configs left to measure, none is recorded.
	recs, _ := db.Trials(sum.StudyID)
	if len(recs) != 5 {
		t.Errorf("%d trial records, want 5 (no duplicate proposal recorded while new configs remain)", len(recs))
	}
}

func TestInterruptedTrialRunsFirstOnResume(t *testing.T) {
	db := openDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	var interruptedArgs []string
	first := func(c context.Context, tr runner.Trial, call int) runner.Result {
		if call == 3 {
			interruptedArgs = tr.Args
			cancel()
			return runner.Result{Class: runner.Interrupted, Message: "interrupted"}
		}
		return smooth(c, tr, call)
	}
	opts := testOptions(t, 6)
	_, err := New(db, &fakeRunner{fn: first}, newFakeSpace(), opts).Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	r2 := &fakeRunner{fn: smooth}
	sum, err := New(db, r2, newFakeSpace(), opts).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Finished != 6 {
		t.Errorf("finished = %d, want 6", sum.Finished)
	}
	if got := r2.ran(); len(got) == 0 || got[0] != fmtArgs(interruptedArgs) {
		t.Errorf("first trial after resume ran %v, want the interrupted config %v", got, interruptedArgs)
	}
}

func fmtArgs(a []string) string { return (&fakeRunner{calls: [][]string{a}}).ran()[0] }

func TestResumeDoesNotReplayStartupSamples(t *testing.T) {
	db := openDB(t)
	opts := testOptions(t, 6)
	if _, err := New(db, &fakeRunner{fn: smooth}, newFakeSpace(), opts).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	opts.Trials = 11
	if _, err := New(db, &fakeRunner{fn: smooth}, newFakeSpace(), opts).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, _ := db.StudyByName("default")
	recs, _ := db.Trials(st.ID)
	var firstRun, secondRun []string
	for _, r := range recs {
		if r.DuplicateOf != nil || r.Label == "baseline" {
			continue
		}
		if r.Number < 6 {
			firstRun = append(firstRun, r.ConfigKey)
		} else {
			secondRun = append(secondRun, r.ConfigKey)
		}
	}
	same := 0
	for i := 0; i < len(firstRun) && i < len(secondRun); i++ {
		if firstRun[i] == secondRun[i] {
			same++
		}
	}
	if same == len(firstRun) {
		t.Errorf("the resumed run replayed the first run's samples: %v", secondRun)
	}
}

func TestIncompatibleStudyIsRefusedUntouched(t *testing.T) {
	db := openDB(t)
	opts := testOptions(t, 3)
	sum, err := New(db, &fakeRunner{fn: smooth}, newFakeSpace(), opts).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	before, _ := db.Trials(sum.StudyID)
	for name, change := range map[string]func(*Options){
		"SLA":       func(o *Options) { o.SLA.MaxP99TPOTms = 40 },
		"workload":  func(o *Options) { o.Workload.MaxConcurrency = 10 },
		"simulated": func(o *Options) { o.Simulated = true },
		"sampler":   func(o *Options) { o.Sampler = "random" },
	} {
		o := opts
		o.Trials = 10
		change(&o)
		r := &fakeRunner{fn: smooth}
		_, err := New(db, r, newFakeSpace(), o).Run(context.Background())
		if !errors.Is(err, ErrIncompatible) {
			t.Errorf("%s changed: err = %v, want ErrIncompatible", name, err)
		}
		if len(r.ran()) != 0 {
			t.Errorf("%s changed: ran %d trials", name, len(r.ran()))
		}
	}
	after, _ := db.Trials(sum.StudyID)
	if len(after) != len(before) {
		t.Errorf("trials changed from %d to %d", len(before), len(after))
	}
}

// TestTimeBudget: with trials that take ten minutes each, a 35-minute budget starts only the trials that can
// finish in time, and says why it stopped.
func TestTimeBudget(t *testing.T) {
	db := openDB(t)
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	slow := func(ctx context.Context, tr runner.Trial, call int) runner.Result {
		now = now.Add(10 * time.Minute)
		return smooth(ctx, tr, call)
	}
	opts := testOptions(t, 10)
	opts.TimeBudget = 35 * time.Minute
	opts.Now = func() time.Time { return now }
	sum, err := New(db, &fakeRunner{fn: slow}, newFakeSpace(), opts).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Finished != 3 {
		t.Errorf("finished = %d, want 3 (a fourth would end at 40 min)", sum.Finished)
	}
	if !strings.Contains(sum.Stopped, "time budget") {
		t.Errorf("stopped = %q, want a time-budget reason", sum.Stopped)
	}
}

// A running trial's record already says where its logs go, so that `autotune show` can point at them.
func TestRunningTrialKnowsItsLogs(t *testing.T) {
	db := openDB(t)
	opts := testOptions(t, 2)
	var seen []store.Trial
	r := &fakeRunner{fn: func(ctx context.Context, tr runner.Trial, call int) runner.Result {
		recs, err := db.Trials(1)
		if err != nil {
			t.Error(err)
		}
		for _, rec := range recs {
			if rec.State == store.StateRunning {
				seen = append(seen, rec)
			}
		}
		return smooth(ctx, tr, call)
	}}
	if _, err := New(db, r, newFakeSpace(), opts).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 {
		t.Fatalf("saw %d running records, want one per trial", len(seen))
	}
	for _, rec := range seen {
		dir := filepath.Join(opts.WorkDir, fmt.Sprintf("trial-%04d", rec.Number))
		if rec.ServerLog != filepath.Join(dir, "server.log") || rec.BenchLog != filepath.Join(dir, "bench.log") ||
			rec.BenchPath != filepath.Join(dir, "bench.json") {
			t.Errorf("running trial %d: logs %q, %q, %q; want them in %s", rec.Number, rec.ServerLog, rec.BenchLog, rec.BenchPath, dir)
		}
	}
}

// A retry goes before the other queued trials, and a retry that fails again is not queued a third time.
func TestRetryRunsFirstAndOnlyOnce(t *testing.T) {
	db := openDB(t)
	sp := newFakeSpace()
	sp.knownGood = []space.Config{
		{Params: map[string]string{"x": "d", "y": "9"}, Label: "known-good: one"},
		{Params: map[string]string{"x": "c", "y": "8"}, Label: "known-good: two"},
	}
	flaky := func(ctx context.Context, tr runner.Trial, call int) runner.Result {
		if call == 2 || call == 3 { // known-good one, then its retry
			return runner.Result{Class: runner.Harness, Message: "port 8000 is in use"}
		}
		return smooth(ctx, tr, call)
	}
	r := &fakeRunner{fn: flaky}
	sum, err := New(db, r, sp, testOptions(t, 6)).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Trial numbers follow creation (known-good points are created up front), so the order is the runner's.
	ran := r.ran()
	if want := []string{"[]", "[--x d --y 9]", "[--x d --y 9]", "[--x c --y 8]"}; !reflect.DeepEqual(ran[:4], want) {
		t.Errorf("ran %q first, want %q (the retry before the second known-good point)", ran[:4], want)
	}
	recs, _ := db.Trials(sum.StudyID)
	for _, rec := range recs {
		if rec.Label == "retry of #2" {
			t.Errorf("trial %d retries a retry", rec.Number)
		}
	}
}

// A space with fewer configs than the budget ends as exhausted, after the sampler (and the random draws that
// follow a run of duplicates) have measured every config.
func TestExhaustedSpaceStops(t *testing.T) {
	db := openDB(t)
	sp := newFakeSpace()
	sp.xs, sp.yhi = []string{"a", "b"}, 0 // two configs, plus the baseline
	r := &fakeRunner{fn: smooth}
	sum, err := New(db, r, sp, testOptions(t, 10)).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.Stopped, "exhausted") || sum.Finished != 3 {
		t.Errorf("stopped %q after %d finished, want exhausted after 3", sum.Stopped, sum.Finished)
	}
	if got := len(r.ran()); got != 3 {
		t.Errorf("runner ran %d configs, want all 3 once", got)
	}
	// Once the space is exhausted, proposals are recorded as duplicates that reuse the earlier result.
	recs, _ := db.Trials(sum.StudyID)
	dups := 0
	for _, rec := range recs {
		if rec.DuplicateOf != nil {
			dups++
			orig, _ := db.TrialByNumber(sum.StudyID, *rec.DuplicateOf)
			if orig.ConfigKey != rec.ConfigKey || *orig.Objective != *rec.Objective || orig.BenchJSON != rec.BenchJSON {
				t.Errorf("duplicate %d does not match trial %d", rec.Number, orig.Number)
			}
		}
	}
	if dups != maxDuplicatesInARow {
		t.Errorf("%d duplicates recorded, want %d before the study stops", dups, maxDuplicatesInARow)
	}
}

// A study whose baseline (vLLM's defaults) fails, or whose vLLM cannot run on the machine at all, stops after
// that trial with the runner's diagnosis instead of sampling configs that would fail the same way.
func TestStudyStopsOnFailedBaselineOrUnusablePlatform(t *testing.T) {
	cases := []struct {
		name    string
		failOn  int // the call that fails
		class   runner.Class
		want    error
		wantRun int
	}{
		{"baseline refused", 1, runner.KVCacheTooSmall, ErrBaselineFailed, 1},
		{"baseline crashed", 1, runner.StartupCrash, ErrBaselineFailed, 1},
		{"no kernel image on a later trial", 3, runner.PlatformUnusable, ErrPlatformUnusable, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := openDB(t)
			fn := func(ctx context.Context, tr runner.Trial, call int) runner.Result {
				if call == c.failOn {
					return runner.Result{Class: c.class, Message: "the diagnosis"}
				}
				return smooth(ctx, tr, call)
			}
			r := &fakeRunner{fn: fn}
			_, err := New(db, r, newFakeSpace(), testOptions(t, 10)).Run(context.Background())
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), "the diagnosis") {
				t.Fatalf("err = %v, want %v with the diagnosis", err, c.want)
			}
			if len(r.calls) != c.wantRun {
				t.Errorf("%d trials ran, want %d", len(r.calls), c.wantRun)
			}
		})
	}
}
