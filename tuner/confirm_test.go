package tuner

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/report/reporttest"
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
)

func TestRepeatOf(t *testing.T) {
	recs := []store.Trial{
		reporttest.Measurement(0, "base", 3300, true),
		reporttest.Measurement(1, "a", 7600, true),
		reporttest.Measurement(2, "b", 7400, true),
		reporttest.Measurement(3, "c", 7700, true),
		reporttest.Measurement(4, "c", 7650, true),
	}
	cases := []struct {
		top  int
		want int // trial number to repeat; -1 for none
	}{
		{1, -1}, // the best, c, has two measurements already
		{2, 1},  // a: measured once, second best
		{3, 1},  // a before b: fewer measurements tie, a is better
	}
	for _, c := range cases {
		got, ok := repeatOf(recs, c.top)
		if (c.want < 0) != !ok || (ok && got.Number != c.want) {
			t.Errorf("repeatOf(top %d) = %d, %v; want %d", c.top, got.Number, ok, c.want)
		}
	}
	if n := confirmSlots(3, 40); n != 3 {
		t.Errorf("confirmSlots(3, 40) = %d, want 3", n)
	}
	if n := confirmSlots(3, 10); n != 1 {
		t.Errorf("confirmSlots(3, 10) = %d, want 1", n)
	}
	if n := confirmSlots(3, 7); n != 0 {
		t.Errorf("confirmSlots(3, 7) = %d, want 0", n)
	}
}

// The last trials of a study re-measure its best configs through the runner, are labelled as repeats, count
// toward --trials, and Best ranks by the mean of the measurements.
func TestConfirmationPhase(t *testing.T) {
	db := openDB(t)
	sp := newFakeSpace()
	// Each measurement of a config is 150 tok/s higher on odd runner calls than on even ones: noise.
	noisy := func(ctx context.Context, tr runner.Trial, call int) runner.Result {
		r := smooth(ctx, tr, call)
		if call%2 == 1 && len(tr.Args) > 0 {
			r.Bench.OutputThroughput += 150
		}
		return r
	}
	r := &fakeRunner{fn: noisy}
	opts := testOptions(t, 24)
	opts.Confirm = 3
	var progress strings.Builder
	opts.Progress = &progress
	sum, err := New(db, r, sp, opts).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(progress.String(), "| confirms #"); n != 3 {
		t.Errorf("progress names %d confirmation runs, want 3:\n%s", n, progress.String())
	}
	if sum.Finished != 24 {
		t.Fatalf("finished %d, want 24", sum.Finished)
	}
	recs, err := db.Trials(sum.StudyID)
	if err != nil {
		t.Fatal(err)
	}
	var repeats []store.Trial
	counted := 0
	for _, rec := range recs {
		if rec.State == store.StateComplete && rec.DuplicateOf == nil {
			counted++
			if counted > 21 && !report.IsRepeat(rec.Label) {
				t.Errorf("counted trial %d (trial #%d, %q) is not a repeat", counted, rec.Number, rec.Label)
			}
		}
		if report.IsRepeat(rec.Label) {
			repeats = append(repeats, rec)
		}
	}
	if len(repeats) != 3 {
		t.Fatalf("%d repeats, want 3", len(repeats))
	}
	// Each repeat re-ran an earlier config through the runner, and the three were distinct.
	ranTimes := map[string]int{}
	for _, c := range r.ran() {
		ranTimes[c]++
	}
	seen := map[string]bool{}
	for _, rep := range repeats {
		key := fmt.Sprint(rep.Args)
		if ranTimes[key] != 2 {
			t.Errorf("repeat #%d (%s) ran %d times, want 2", rep.Number, key, ranTimes[key])
		}
		if seen[rep.ConfigKey] {
			t.Errorf("config %s repeated twice", key)
		}
		seen[rep.ConfigKey] = true
	}
	// The repeated configs were the top three before the confirmation phase.
	var before []store.Trial
	for _, rec := range recs {
		if !report.IsRepeat(rec.Label) {
			before = append(before, rec)
		}
	}
	for i, c := range report.Candidates(before)[:3] {
		if !seen[c.Key] {
			t.Errorf("candidate %d before confirmation (%v, mean %.0f) was not repeated", i+1, c.Numbers(), c.Mean)
		}
	}
	best, ok := report.Best(recs)
	if !ok || len(best.Trials) != 2 {
		t.Errorf("best = %+v, want a confirmed (twice measured) config", best)
	}
}
