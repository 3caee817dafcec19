package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	readmodel "github.com/autotune/autotune/report"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/store"
)

// The reports read the study through package report, the read model. These names are the views that the
// commands' renderers (the table, the export script) take.
type (
	studyView       = readmodel.Study
	measurementView = readmodel.Measurement
)

// trialView is a trial of the read model with autotune's full record at hand, as the export needs it.
type trialView struct {
	readmodel.Trial
	rec store.Trial
}

func viewOf(t *readmodel.Trial) *trialView {
	if t == nil {
		return nil
	}
	return &trialView{Trial: *t, rec: t.Record}
}

// loadedStudy is a study read for a readmodel.
type loadedStudy struct {
	model  *readmodel.View
	study  store.Study // the study's name, as the export's header gives it
	view   studyView
	trials []trialView
}

// defaultDB is the study database that run writes and the reports read unless --db names another.
const defaultDB = "tuning.db"

// reportFlags adds the flags that choose the study a report reads: --db and --study.
func reportFlags(fs *pflag.FlagSet) (db, study *string) {
	return fs.String("db", defaultDB, "study database"), fs.String("study", "", "study name (default: the only study in --db)")
}

// openExisting opens a database that must already exist: reports never create one.
func openExisting(path string) (*store.DB, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && !store.IsPostgres(path) {
		return nil, usagef("--db %s: no such file; run `autotune --trials N` first (or name the database with --db)", path)
	}
	db, err := store.OpenReadOnly(path)
	if err != nil {
		return nil, fmt.Errorf("--db %w", err) // store's error starts with the path
	}
	return db, nil
}

// loadStudy reads the study called name (or the only study in the file) with all its trials, and closes the
// database: the read model holds everything a report shows.
func loadStudy(path, name string) (*loadedStudy, error) {
	db, err := openExisting(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return loadFrom(readmodel.FromStore(db), store.Redact(path), name) // never print a password
}

// loadFrom reads a study from any source of the read model (tests pass reporttest's).
func loadFrom(src readmodel.Source, path, name string) (*loadedStudy, error) {
	v, err := readmodel.Load(src, path, name)
	switch {
	case errors.Is(err, readmodel.ErrSeveralStudies):
		return nil, usageError{fmt.Errorf("%w; choose one with --study", err)}
	case errors.Is(err, store.ErrNoStudy) && name != "":
		return nil, fmt.Errorf("--study %w", err) // the read model's error starts with the name
	case errors.Is(err, store.ErrNoStudy):
		return nil, fmt.Errorf("%w; run `autotune --trials N` first", err)
	case err != nil:
		return nil, err
	}
	ls := &loadedStudy{model: v, study: store.Study{Name: v.Study.Name}, view: v.Study}
	for i := range v.Trials {
		ls.trials = append(ls.trials, *viewOf(&v.Trials[i]))
	}
	return ls, nil
}

// bestAndBaseline are the read model's best config (with all of its runs) and baseline.
func (ls *loadedStudy) bestAndBaseline() (best, baseline *trialView) {
	return viewOf(ls.model.Best), viewOf(ls.model.Baseline)
}

// hint is a command for people to run next on this study: it names --db, and --study when the file holds
// other studies too.
func (ls *loadedStudy) hint(command string, rest ...string) string {
	parts := []string{"autotune", command, "--db", shellQuote(ls.view.DB)}
	if ls.model.NeedsStudyName() {
		parts = append(parts, "--study", shellQuote(ls.model.Study.Name))
	}
	return strings.Join(append(parts, rest...), " ")
}

// flagsText is the trial's flags for people, quoted so that they paste into a shell.
func (v trialView) flagsText() string {
	if v.Label == readmodel.BaselineLabel {
		return "(vLLM defaults)"
	}
	if len(v.Args) == 0 {
		return "(no flags)"
	}
	return shellJoin(v.Args)
}

// numbers are the trial numbers behind a view, formatted: its own, or every measurement's.
func (v trialView) numbers(format string) []string {
	if len(v.Measurements) < 2 {
		return []string{fmt.Sprintf(format, v.Number)}
	}
	var ns []string
	for _, m := range v.Measurements {
		ns = append(ns, fmt.Sprintf(format, m.Number))
	}
	return ns
}

// trialsText names the trials behind a view in prose: "trial 12", or "trials 12 and 38".
func (v trialView) trialsText() string {
	ns := v.numbers("%d")
	if len(ns) == 1 {
		return "trial " + ns[0]
	}
	return fmt.Sprintf("trials %s and %s", strings.Join(ns[:len(ns)-1], ", "), ns[len(ns)-1])
}

// measuredText says which trials a view's numbers come from: "#12", or "#12, #38: mean".
func (v trialView) measuredText() string {
	ns := v.numbers("#%d")
	if len(ns) == 1 {
		return ns[0]
	}
	return strings.Join(ns, ", ") + ": mean"
}

func fmtNum(p *float64, format string) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf(format, *p)
}

// simulatedNote is printed wherever a simulated study's numbers appear.
var simulatedNote = "SIMULATED: these numbers come from autotune's simulator of vLLM " + sim.VLLMVersion + " on a " +
	sim.T4().Name + ", not from a GPU."
