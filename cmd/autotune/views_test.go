package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/autotune/autotune/report/reporttest"
	"github.com/autotune/autotune/store"
)

func fixtureStudy(t *testing.T) *loadedStudy {
	t.Helper()
	ls, err := loadFrom(reporttest.Study(), "tuning.db", "")
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// The trials table at 80 columns: every line fits, crashed and refused trials say so, and the queued retry
// shows whose flags it will run.
func TestTrialsTable80Golden(t *testing.T) {
	ls := fixtureStudy(t)
	var b bytes.Buffer
	writeTrialsTable(&b, ls, ls.model.Trials, 80)
	for i, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		if n := utf8.RuneCountInString(line); n > 80 {
			t.Errorf("line %d is %d columns wide: %q", i, n, line)
		}
	}
	for _, want := range []string{"crashed", "refused", "queued", "retry of #6", "[kv_cache_too_small]", "3033!"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
	checkGolden(t, "trials-80.txt.golden", b.String())
}

func TestTrialsSortTop(t *testing.T) {
	ls := fixtureStudy(t)
	got := sortTrials(ls.model.Trials, "throughput")[:3]
	if got[0].Number != 1 || got[1].Number != 5 || got[2].Number != 7 {
		t.Errorf("by throughput: #%d #%d #%d, want #1 #5 #7", got[0].Number, got[1].Number, got[2].Number)
	}
	got = sortTrials(ls.model.Trials, "ttft")
	if got[0].Number != 0 || got[len(got)-1].Number != 10 {
		t.Errorf("by ttft: first #%d, last #%d; want the baseline first and the unmeasured last", got[0].Number, got[len(got)-1].Number)
	}
}

// The JSON schemas of trials, show and best are stable interfaces.
func TestReportJSONGolden(t *testing.T) {
	ls := fixtureStudy(t)
	var b bytes.Buffer
	writeTrialsJSON(&b, ls, ls.model.Trials)
	checkGolden(t, "trials.json.golden", b.String())

	b.Reset()
	best, baseline := ls.bestAndBaseline()
	if err := writeBestJSON(&b, ls, best, baseline); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "best.json.golden", b.String())

	b.Reset()
	writeShowJSON(&b, ls, ls.model.Trial(2))
	checkGolden(t, "show-2.json.golden", b.String())
}

func TestShowText(t *testing.T) {
	ls := fixtureStudy(t)
	var b bytes.Buffer
	writeShow(&b, ls, ls.model.Trial(0))
	out := b.String()
	for _, want := range []string{"command:   vllm serve Qwen/Qwen2.5-0.5B", "objective: 3340, the output throughput", "output_throughput            3340"} {
		if !strings.Contains(out, want) {
			t.Errorf("show 0 lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "go-build") {
		t.Errorf("show prints the temporary binary:\n%s", out)
	}
	b.Reset()
	writeShow(&b, ls, ls.model.Trial(2))
	out = b.String()
	for _, want := range []string{"trial 2: refused (kv_cache_too_small)", "the lowest value the sampler is told", "  | ERROR"} {
		if !strings.Contains(out, want) {
			t.Errorf("show 2 lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Loading weights") {
		t.Errorf("show 2 prints INFO lines as proof:\n%s", out)
	}
	checkGolden(t, "show-2.txt.golden", out)
}

// With two studies in one file, the closing hint names --study, and it works as printed (issue 15: it failed
// with "holds several studies"). Neither study is called "default", so without --study nothing is chosen.
func TestHintsNameTheStudy(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	var errs string
	for _, study := range []string{"one", "two"} {
		var code int
		code, _, errs = cli(t, append(simFlags(t, db, "400"), "--trials", "1", "--study", study)...)
		if code != 0 {
			t.Fatalf("study %s: exit %d\n%s", study, code, errs)
		}
	}
	i := strings.Index(errs, "export it with: ")
	if i < 0 {
		t.Fatalf("no export hint:\n%s", errs)
	}
	hint := strings.Fields(strings.SplitN(errs[i+len("export it with: "):], "\n", 2)[0])
	if len(hint) < 2 || hint[0] != "autotune" || !strings.Contains(strings.Join(hint, " "), "--study two") {
		t.Fatalf("hint %q does not name --study two", hint)
	}
	script := filepath.Join(dir, "flags.sh")
	for j, a := range hint {
		if a == "flags.sh" {
			hint[j] = script
		}
	}
	if code, _, errs := cli(t, hint[1:]...); code != 0 {
		t.Errorf("the hint as printed fails: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(script); err != nil {
		t.Errorf("the hint wrote no script: %v", err)
	}
	// trials names --study in its own hint too.
	if _, out, _ := cli(t, "trials", "--db", db, "--study", "one"); !strings.Contains(out, "--study one") {
		t.Errorf("trials' hint does not name --study:\n%s", out)
	}
}

// --wide clips nothing: every change of every row is there in full.
func TestTrialsWide(t *testing.T) {
	ls := fixtureStudy(t)
	var b bytes.Buffer
	writeTrialsTable(&b, ls, ls.model.Trials, 0)
	if !strings.Contains(b.String(), "[crashed_during_benchmark] max_num_seqs=256 speculative=suffix") || strings.Contains(b.String(), "…") {
		t.Errorf("--wide clipped a row:\n%s", b.String())
	}
}

// run --report's page, rewritten after every trial, reloads itself; a page that cannot be written warns once
// and does not stop the study.
func TestReportAfterTrial(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	if code, _, errs := cli(t, append(simFlags(t, db, "400"), "--trials", "1")...); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, errs)
	}
	st, err := store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page := filepath.Join(dir, "page.html")
	var stderr bytes.Buffer
	reportAfterTrial(page, st, "default", &stderr)()
	html, err := os.ReadFile(page)
	if err != nil || !strings.Contains(string(html), `http-equiv="refresh" content="30"`) {
		t.Errorf("mid-study page: %v; want one that reloads every 30 s", err)
	}
	bad := reportAfterTrial(filepath.Join(dir, "no", "such", "dir", "page.html"), st, "default", &stderr)
	bad()
	bad()
	if n := strings.Count(stderr.String(), "the study goes on"); n != 1 {
		t.Errorf("an unwritable page warned %d times, want once: %q", n, stderr.String())
	}
}

// The read model names the study and the file; cmd adds its flags and what to do.
func TestStudyErrorsNameTheFlag(t *testing.T) {
	if _, err := loadFrom(reporttest.Study(), "tuning.db", "nope"); err == nil || !strings.HasPrefix(err.Error(), `--study "nope": `) {
		t.Errorf("unknown study: %v, want it to start with --study \"nope\"", err)
	}
	empty := reporttest.Study()
	empty.StudyList = nil
	if _, err := loadFrom(empty, "tuning.db", ""); err == nil || !strings.Contains(err.Error(), "run `autotune --trials N` first") {
		t.Errorf("no study: %v, want the command to run first", err)
	}
}

func TestGPUTimeKeepsShortTimesVisible(t *testing.T) {
	for _, c := range []struct {
		s    float64
		want string
	}{
		{0.44, "0.4 s"}, // a simulated trial: "0 s" would read as free
		{9.94, "9.9 s"},
		{46, "46 s"},
		{119, "119 s"},
		{3600, "60 min"},
		{7200, "2.0 h"},
	} {
		if got := gpuTime(c.s); got != c.want {
			t.Errorf("gpuTime(%g) = %q, want %q", c.s, got, c.want)
		}
	}
}
