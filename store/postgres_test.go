package store

import (
	"database/sql"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/internal/pgtest"
	"github.com/autotune/autotune/runner/runnertest"
)

// bothDatabases runs test on a new SQLite file and on a new PostgreSQL database (skipped, and saying why,
// without one; see pgtest).
func bothDatabases(t *testing.T, test func(t *testing.T, db *DB)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := Open(filepath.Join(t.TempDir(), "tuning.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		test(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := Open(pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		test(t, db)
	})
}

// TestPostgresURLsRefused: a URL that is not one, one without a database, and a server that refuses the
// connection are refused as bad databases, naming the URL without its password and never printing it.
func TestPostgresURLsRefused(t *testing.T) {
	// A reserved port where nothing listens, and nothing else can while the test runs: the connection is refused.
	closed := net.JoinHostPort("127.0.0.1", strconv.Itoa(runnertest.Port(t)))
	for _, c := range []struct{ url, want string }{
		{"postgres://u:s3cret-pw@" + closed + "/study?sslmode=disable", "cannot connect"},
		{"postgresql://u:s3cret-pw@" + closed + "/study?sslmode=disable", "cannot connect"},
		{"postgres://u:s3cret-pw@" + closed, "needs a host and a database"},
		{"postgres://u:s3cret-pw@[::1/study", "not a valid PostgreSQL URL"},
	} {
		_, err := Open(c.url)
		if !errors.Is(err, ErrBadDatabase) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrBadDatabase saying %q", Redact(c.url), err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("the error prints the password: %v", err)
		}
	}
	if got := Redact("postgres://u:s3cret-pw@h:5432/d"); got != "postgres://u:xxxxx@h:5432/d" {
		t.Errorf("Redact = %q", got)
	}
}

// TestPostgresStudyDatabase: a new database gets goptuna's tables and autotune's at SchemaVersion, and a second
// open changes nothing; trials round-trip with every column; a database with other tables, or from a newer
// autotune, is refused before anything is written.
func TestPostgresStudyDatabase(t *testing.T) {
	url := pgtest.URL(t)
	db, err := Open(url)
	if err != nil {
		t.Fatal(err)
	}
	study, err := goptuna.CreateStudy("s", goptuna.StudyOptionStorage(db.storage), goptuna.StudyOptionLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	id, err := db.storage.CreateNewTrial(study.ID)
	if err != nil {
		t.Fatal(err)
	}
	v := 3333.5
	in := Trial{TrialID: id, StudyID: study.ID, Number: 0, State: StateRunning, Label: "baseline", ConfigKey: "k",
		Params: map[string]string{"a": "1"}, Args: []string{"--a", "1"}, Feasible: true, Objective: &v,
		ServerStart: 1 << 40, WorkerID: 3, ServerOrphan: true}
	if err := db.PutTrial(in); err != nil {
		t.Fatal(err)
	}
	if err := db.SetParams(id, []Param{{Name: "a", Value: 1, Distribution: goptuna.IntUniformDistribution{Low: 0, High: 4}}}); err != nil {
		t.Fatal(err)
	}
	out, err := db.TrialByID(id)
	if err != nil {
		t.Fatal(err)
	}
	if out.Label != "baseline" || !out.Feasible || *out.Objective != v || out.ServerStart != 1<<40 || out.WorkerID != 3 || !out.ServerOrphan {
		t.Errorf("round trip: %+v", out)
	}
	if ft, err := db.storage.GetTrial(id); err != nil || ft.InternalParams["a"] != 1 {
		t.Errorf("goptuna's view of the params: %+v, %v", ft.InternalParams, err)
	}
	db.Close()

	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var version int
	if err := raw.QueryRow("SELECT version FROM autotune_schema").Scan(&version); err != nil || version != SchemaVersion {
		t.Fatalf("schema version %d (%v), want %d", version, err, SchemaVersion)
	}
	db2, err := Open(url)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	db2.Close()

	if _, err := raw.Exec("UPDATE autotune_schema SET version = 99"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(url); !errors.Is(err, ErrBadDatabase) || !strings.Contains(err.Error(), "newer autotune") {
		t.Errorf("newer schema: %v", err)
	}

	foreign := pgtest.URL(t)
	f, err := sql.Open("pgx", foreign)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Exec("CREATE TABLE invoices (id integer)"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(foreign); !errors.Is(err, ErrBadDatabase) || !strings.Contains(err.Error(), "did not create (tables: invoices)") {
		t.Errorf("foreign database: %v", err)
	}
	var n int
	if err := f.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()").Scan(&n); err != nil || n != 1 {
		t.Errorf("the refused database has %d tables (%v), want its 1", n, err)
	}
}

// A PostgreSQL study of schema version 2 with a queued trial is migrated on open: the trial keeps its label and
// values (version 2 kept them in goptuna's "fixed_params"), and the schema says 3.
func TestPostgresMigratesQueuedValues(t *testing.T) {
	url := pgtest.URL(t)
	db, err := Open(url)
	if err != nil {
		t.Fatal(err)
	}
	id, err := db.NewStudy("s")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Enqueue(id, Queued{Label: "retry of #3", Params: map[string]float64{"x": 1, "y": 3}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// Back to what version 2 wrote.
	for _, q := range []string{"UPDATE trial_system_attributes SET key = 'fixed_params' WHERE key = 'autotune:params'",
		"UPDATE autotune_schema SET version = 2"} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db, err = Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	trials, err := db.GoptunaTrials(id)
	if err != nil || len(trials) != 1 {
		t.Fatalf("%d trials, %v; want the queued one", len(trials), err)
	}
	q, err := QueuedOf(trials[0])
	if err != nil || q.Label != "retry of #3" || q.Params["x"] != 1 || q.Params["y"] != 3 {
		t.Errorf("queued trial after the migration: %+v, %v; want retry of #3 with x=1 y=3", q, err)
	}
	var version int
	if err := raw.QueryRow("SELECT max(version) FROM autotune_schema").Scan(&version); err != nil || version != SchemaVersion {
		t.Errorf("schema version %d (%v), want %d", version, err, SchemaVersion)
	}
}
