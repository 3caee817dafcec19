package tuner

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/runner"
)

// Every progress line fits in 100 columns, names its trial by number and the count of finished trials without
// mixing them up, and carries the trial's result and the best so far.
func TestProgressLines(t *testing.T) {
	db := openDB(t)
	sp := newFakeSpace()
	// x=d crashes (out of memory); y >= 8 misses the TTFT limit; the rest are feasible, faster with y.
	fn := func(ctx context.Context, tr runner.Trial, call int) runner.Result {
		if argValue(tr.Args, "--x") == "d" {
			return runner.Result{Class: runner.OutOfMemory, Message: "CUDA out of memory"}
		}
		y, _ := strconv.Atoi(argValue(tr.Args, "--y"))
		if y >= 8 {
			return benchResult(5000, 20, 2500)
		}
		return benchResult(3000+float64(100*y), 20, 1000)
	}
	opts := testOptions(t, 12)
	var progress strings.Builder
	opts.Progress = &progress
	sum, err := New(db, &fakeRunner{fn: fn}, sp, opts).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// store counts finished trials in SQL for the loop; the read model counts them from the records: the two
	// definitions must agree.
	recs, err := db.Trials(sum.StudyID)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.FinishedCount(sum.StudyID); err != nil || n != report.CountFinished(recs) {
		t.Errorf("store.FinishedCount = %d (%v), report.CountFinished = %d", n, err, report.CountFinished(recs))
	}
	line := regexp.MustCompile(`^#(\d+) +(\d+)/12 done  (feasible|infeasible|crashed|refused)\b.* \| (best [0-9.]+ \(#\d+\)|none feasible yet)`)
	counted := 0
	for _, l := range strings.Split(strings.TrimSpace(progress.String()), "\n") {
		if strings.Contains(l, "same flags as trial") {
			continue // a duplicate: nothing ran
		}
		if n := utf8.RuneCountInString(l); n > 100 {
			t.Errorf("progress line is %d columns: %q", n, l)
		}
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("progress line %q lacks number, count, result or best", l)
			continue
		}
		counted++
		if done, _ := strconv.Atoi(m[2]); done != counted {
			t.Errorf("line %q says %d done, want %d", l, done, counted)
		}
		if m[3] == "crashed" && !strings.Contains(l, "out_of_memory") {
			t.Errorf("a crash does not say why: %q", l)
		}
		if m[3] == "infeasible" && !strings.Contains(l, "!") {
			t.Errorf("an infeasible line does not mark the missed limit: %q", l)
		}
	}
	if counted != 12 {
		t.Errorf("%d progress lines, want 12:\n%s", counted, progress.String())
	}
}

// The phase of a running trial is read from the files the runner writes.
func TestCurrentPhase(t *testing.T) {
	dir := t.TempDir()
	serverLog, benchLog, benchJSON := runner.Files(dir)
	if p := currentPhase(dir); p != phaseStarting {
		t.Errorf("empty folder: %q", p)
	}
	os.WriteFile(serverLog, []byte("INFO starting\n"), 0o644)
	os.WriteFile(benchLog, []byte("Starting main benchmark run...\n 80/200 [00:12<00:18, 6.5it/s]"), 0o644)
	if p := currentPhase(dir); p != phaseBenchmark {
		t.Errorf("with bench.log: %q", p)
	}
	if got := benchProgress(dir, 0, 0); got != "40%" {
		t.Errorf("benchmark progress from the bar = %q, want 40%%", got)
	}
	os.WriteFile(benchLog, []byte("Starting main benchmark run...\n"), 0o644)
	if got := benchProgress(dir, 15*time.Second, 30*time.Second); got != "~50%" {
		t.Errorf("benchmark progress from the time = %q, want ~50%% (15 s of a typical 30 s)", got)
	}
	os.WriteFile(benchJSON, []byte("{}"), 0o644)
	if p := currentPhase(dir); p != phaseStopping {
		t.Errorf("with bench.json: %q", p)
	}
}
