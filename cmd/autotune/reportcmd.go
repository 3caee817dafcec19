package main

import (
	"fmt"
	"io"
	"time"

	readmodel "github.com/autotune/autotune/report"
	"github.com/autotune/autotune/store"
)

func runReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", stderr)
	db, study := reportFlags(fs)
	html := fs.String("html", "", "write the study as one self-contained HTML page to `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("report: unexpected argument %q", fs.Arg(0))
	}
	if *html == "" {
		return usagef("report: --html FILE is required (the page to write, e.g. --html report.html)")
	}
	ls, err := loadStudy(*db, *study)
	if err != nil {
		return err
	}
	if err := writeReport(*html, ls, 0); err != nil {
		return fmt.Errorf("--html %s: %w", *html, err)
	}
	fmt.Fprintf(stderr, "autotune: wrote %s (%d trials); open it in a browser\n", *html, len(ls.trials))
	return nil
}

// writeReport writes the study's HTML page to path atomically (a temporary file renamed over it), so that a
// browser or a notebook reading it mid-study never sees half a page. refresh > 0 makes the page reload itself.
func writeReport(path string, ls *loadedStudy, refresh time.Duration) error {
	return writeAtomic(path, 0o644, func(w io.Writer) error {
		return readmodel.WriteHTML(w, ls.model, readmodel.HTMLOptions{ExportHint: ls.hint("best", "--export", "flags.sh"),
			Generated: time.Now(), SimulatedNote: simulatedNote, Refresh: refresh})
	})
}

// reportAfterTrial returns what `run --report FILE` does after every trial: rewrite the page from the study as
// it stands. A failure is reported once on stderr and does not stop the study: the page is a view.
func reportAfterTrial(path string, db *store.DB, study string, stderr io.Writer) func() {
	warned := false
	return func() {
		ls, err := loadFrom(readmodel.FromStore(db), db.Path, study)
		if err == nil {
			err = writeReport(path, ls, 30*time.Second)
		}
		if err != nil && !warned {
			warned = true
			fmt.Fprintf(stderr, "autotune: --report %s: %v (the study goes on)\n", path, err)
		}
	}
}
