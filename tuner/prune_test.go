package tuner

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sampler"
	"github.com/autotune/autotune/store"
)

// A trial the runner stops early is recorded as PRUNED with its evidence and intermediate values, counts toward
// --trials, is never the pick, and TPE is told its projection; the runner is given the rule with the incumbent.
func TestPrunedTrialsAreRecordedAndCounted(t *testing.T) {
	db := openDB(t)
	sp := newFakeSpace()
	var rules []*runner.PruneRule
	r := &fakeRunner{fn: func(ctx context.Context, tr runner.Trial, call int) runner.Result {
		rules = append(rules, tr.Prune)
		if argValue(tr.Args, "--x") == "a" {
			watch := []runner.Verdict{{Elapsed: 2, Projected: 900}, {Elapsed: 4, Projected: 1000, Prune: true, Rule: "throughput", Reason: "cannot win: test"}}
			return runner.Result{Class: runner.Pruned, Message: "cannot win: test", Watch: watch}
		}
		return smooth(ctx, tr, call)
	}}
	opts := testOptions(t, 14)
	opts.Prune = true
	sum, err := New(db, r, sp, opts).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	recs, err := db.Trials(sum.StudyID)
	if err != nil {
		t.Fatal(err)
	}
	gts, err := db.GoptunaTrials(sum.StudyID)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int]goptuna.FrozenTrial{}
	for _, ft := range gts {
		byID[ft.ID] = ft
	}
	pruned, counted := 0, 0
	for _, rec := range recs {
		if rec.DuplicateOf == nil && (rec.State == store.StateComplete || rec.State == store.StatePruned) {
			counted++
		}
		if argValue(rec.Args, "--x") != "a" || rec.DuplicateOf != nil {
			continue
		}
		pruned++
		ft := byID[rec.TrialID]
		if rec.State != store.StatePruned || ft.State != goptuna.TrialStatePruned || rec.Failure != string(runner.Pruned) ||
			!strings.Contains(rec.Message, "cannot win") {
			t.Errorf("trial %d: state %s/%v, failure %q, message %q; want pruned with its evidence", rec.Number, rec.State, ft.State, rec.Failure, rec.Message)
		}
		if v, ok := sampler.ToldValue(ft); !ok || v != 1000 || ft.IntermediateValues[0] != 900 {
			t.Errorf("trial %d: intermediate values %v, told %v; want 900, 1000 then the told 1000", rec.Number, ft.IntermediateValues, v)
		}
	}
	if pruned == 0 {
		t.Fatal("no trial with x=a ran; the test needs one")
	}
	if counted != 14 || sum.Finished != 14 {
		t.Errorf("%d counted trials (summary %d), want 14 with the pruned ones", counted, sum.Finished)
	}
	if rules[0] == nil || rules[0].Incumbent != 0 || rules[0].MaxP99TTFT != 2 || rules[0].NumPrompts != 200 {
		t.Errorf("first rule %+v: want the TTFT rule only (no incumbent yet)", rules[0])
	}
	last := rules[len(rules)-1]
	if last == nil || last.Incumbent < 3000 || last.Margin < PruneProjectionError {
		t.Errorf("last rule %+v: want the incumbent's throughput and a margin", last)
	}
}

func TestPruneMarginFollowsMeasuredNoise(t *testing.T) {
	cand := func(vals ...float64) report.Candidate {
		c := report.Candidate{Feasible: true}
		sum := 0.0
		for _, v := range vals {
			v := v
			c.Trials = append(c.Trials, store.Trial{Objective: &v})
			sum += v
		}
		c.Mean = sum / float64(len(vals))
		return c
	}
	def := pruneMargin(nil)
	quiet := pruneMargin([]report.Candidate{cand(1000, 1000.5), cand(2000, 2001), cand(3000, 3000)})
	noisy := pruneMargin([]report.Candidate{cand(1000, 1200), cand(2000, 2400), cand(3000, 3500)})
	if !(quiet < def && def < noisy) || quiet < PruneProjectionError {
		t.Errorf("margins: quiet %v, default %v, noisy %v; want quiet < default < noisy, all above %v", quiet, def, noisy, PruneProjectionError)
	}
}

// In the local window the study runs the incumbent with one lever moved, and every such move is new.
func TestLocalMovesOneLeverOfTheIncumbent(t *testing.T) {
	db := openDB(t)
	sp := newFakeSpace()
	r := &fakeRunner{fn: smooth}
	opts := testOptions(t, 20)
	opts.Local, opts.LocalEvery = 6, 1
	sum, err := New(db, r, sp, opts).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	recs, err := db.Trials(sum.StudyID)
	if err != nil {
		t.Fatal(err)
	}
	byNumber := map[int]store.Trial{}
	for _, rec := range recs {
		byNumber[rec.Number] = rec
	}
	local := 0
	for _, rec := range recs {
		if !IsLocal(rec.Label) {
			continue
		}
		local++
		var around int
		if i := strings.LastIndex(rec.Label, "#"); i >= 0 {
			around, _ = strconv.Atoi(rec.Label[i+1:])
		}
		inc, ok := byNumber[around]
		if !ok {
			t.Fatalf("%q: no trial %d", rec.Label, around)
		}
		diff := 0
		for _, k := range []string{"x", "y"} {
			if rec.Params[k] != inc.Params[k] {
				diff++
			}
		}
		if diff != 1 {
			t.Errorf("%q: params %v against the incumbent's %v: want exactly one lever moved", rec.Label, rec.Params, inc.Params)
		}
	}
	if local < 4 {
		t.Errorf("%d local moves in a 20-trial study with Local 6, want at least 4 (the rest may be duplicates)", local)
	}
}
