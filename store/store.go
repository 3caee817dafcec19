// Package store keeps a study in one SQLite file (tuning.db by default).
//
// The file holds two sets of tables. goptuna's RDB tables (studies, trials, trial_params, trial_values, ...,
// created by rdb.RunAutoMigrate through gorm's sqlite driver over mattn/go-sqlite3) are the source of truth for
// the sampler, and goptuna's own dashboard reads them. autotune's tables, prefixed autotune_, keep what goptuna
// has no place for: the study's workload, SLA, sampler, seed, search space, vLLM version and GPU, and for each
// trial the exact `vllm serve` argv, every benchmark metric, phase timings, failure class and message, the log
// tail that proves it, log paths, and who ran it (PID and process group, to clean up after a crash).
//
// Safety rules, all enforced before anything is written:
//   - a file that is not SQLite, or SQLite that is neither empty nor an autotune database, is refused;
//   - a database written by a newer autotune (PRAGMA user_version above SchemaVersion) is refused;
//   - a location that cannot be written is reported as such, naming the file.
//
// Journal mode is DELETE (a rollback journal) with synchronous=FULL: WAL needs shared memory (mmap of the -shm
// file), which network and FUSE file systems such as Google Drive do not provide reliably, and a rollback
// journal survives a process killed at any point of a write.
package store

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	rdb "github.com/c-bata/goptuna/rdb.v2"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// ErrBadDatabase marks a file that cannot be used as a study database: not SQLite, foreign, corrupt, or newer.
// Callers report it as bad input (exit code 2).
var ErrBadDatabase = errors.New("unusable database")

// DB is an open study database.
type DB struct {
	Path    string // as given; for PostgreSQL the URL without its password
	file    string // Path with symbolic links resolved: what SQLite opens
	gorm    *gorm.DB
	sql     *sql.DB
	dialect dialect
	// legacy is set when a read-only open found a version 1 database: reports read it as it is, without the
	// columns version 2 added (a read-only open never migrates).
	legacy  bool
	storage *cachedStorage // goptuna's RDB storage over the same connection, with finished trials cached (goptuna.go)
}

// dialect is the SQL database behind a DB.
type dialect int

const (
	sqliteDB dialect = iota
	postgresDB
)

// rebind turns the ? placeholders of autotune's queries into PostgreSQL's $1, $2, ... Our queries have no ?
// inside string literals.
func (db *DB) rebind(q string) string {
	if db.dialect != postgresDB {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (db *DB) exec(q string, args ...any) (sql.Result, error) {
	return db.sql.Exec(db.rebind(q), args...)
}
func (db *DB) query(q string, args ...any) (*sql.Rows, error) {
	return db.sql.Query(db.rebind(q), args...)
}
func (db *DB) queryRow(q string, args ...any) *sql.Row { return db.sql.QueryRow(db.rebind(q), args...) }

// sqliteMagic is the first 16 bytes of every SQLite 3 database file.
const sqliteMagic = "SQLite format 3\x00"

// Open opens (creating if needed) the study database at path for a study run. It checks the file before it
// writes anything.
func Open(path string) (*DB, error) { return open(path, false) }

// OpenReadOnly opens an existing study database for reports: it never writes, so it works on a read-only copy
// or location, and while a study is running.
func OpenReadOnly(path string) (*DB, error) { return open(path, true) }

func open(path string, readOnly bool) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("%q: empty path: %w", path, ErrBadDatabase)
	}
	if IsPostgres(path) {
		return openPostgres(path, readOnly)
	}
	file, err := checkFile(path, readOnly)
	if err != nil {
		return nil, err
	}
	dsn := "file:" + (&url.URL{Path: file}).EscapedPath() + "?_busy_timeout=10000&_foreign_keys=on"
	if readOnly {
		dsn += "&mode=ro"
	} else {
		dsn += "&_journal_mode=DELETE&_synchronous=FULL&_txlock=immediate"
	}
	db := &DB{Path: path, file: file}
	g, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, db.openError(readOnly, fmt.Errorf("%s: cannot open: %v: %w", path, err, ErrBadDatabase))
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One connection: SQLite allows one writer, and goptuna's storage and our tables share the file. A single
	// connection also makes every pragma above apply to everything we do.
	sqlDB.SetMaxOpenConns(1)
	db.gorm, db.sql = g, sqlDB
	if err := db.checkContents(readOnly); err != nil {
		sqlDB.Close()
		return nil, db.openError(readOnly, err)
	}
	if readOnly {
		var ours int
		if err := sqlDB.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = 'autotune_studies'").Scan(&ours); err != nil || ours == 0 {
			sqlDB.Close()
			return nil, fmt.Errorf("%s: holds no autotune study yet: %w", path, ErrBadDatabase)
		}
		version, err := db.storedVersion()
		if err != nil {
			sqlDB.Close()
			return nil, fmt.Errorf("%s: %v: %w", path, err, ErrBadDatabase)
		}
		db.legacy = version < workersVersion
	} else if err := db.migrate(); err != nil {
		sqlDB.Close()
		return nil, err
	}
	db.storage = newCachedStorage(rdb.NewStorage(g), db)
	return db, nil
}

// OpenMemory opens a new, empty study database in memory (SQLite's): nothing touches a disk, and it is gone when
// closed. For the search-quality experiment, which runs hundreds of short studies it reads only while they are
// open. One connection holds it, as a file database's does.
func OpenMemory() (*DB, error) {
	db := &DB{Path: "(in memory)"}
	g, err := gorm.Open(sqlite.Open("file::memory:?_foreign_keys=on&_txlock=immediate"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, fmt.Errorf("open a database in memory: %w", err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("open a database in memory: %w", err)
	}
	// Every connection to ":memory:" is a database of its own: the one connection must never be replaced.
	sqlDB.SetMaxOpenConns(1)
	sqlDB.SetMaxIdleConns(1)
	db.gorm, db.sql = g, sqlDB
	if err := db.migrate(); err != nil {
		sqlDB.Close()
		return nil, err
	}
	db.storage = newCachedStorage(rdb.NewStorage(g), db)
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.sql.Close() }

// ErrHotJournal marks a database that a killed writer left mid-transaction: its rollback journal (FILE-journal)
// holds the pages to restore. The database is fine; the next writer rolls the journal back. A read-only opener
// cannot, and SQLite then says "attempt to write a readonly database", which reads as a broken file.
var ErrHotJournal = errors.New("hot journal")

// openError explains a failed read-only open that a hot journal caused; other errors pass unchanged.
func (db *DB) openError(readOnly bool, err error) error {
	// SQLite says "attempt to write a readonly database" when it would have to roll a journal back; a live
	// writer's journal gives "database is locked" after the busy timeout instead, and is not a hot journal.
	if !readOnly || !strings.Contains(err.Error(), "readonly database") || !hotJournal(db.file) {
		return err
	}
	return fmt.Errorf("%s: an autotune that was stopped mid-write left its rollback journal %s-journal, which only a "+
		"writer can roll back; the study is intact: `autotune run --db %s` (the same command as before) recovers it "+
		"first; do not delete either file: %w", db.Path, db.Path, db.Path, ErrHotJournal)
}

// hotJournal reports whether file has a rollback journal that is not empty and has a header (SQLite zeroes or
// deletes the header when a transaction ends). A live writer has one too; callers ask only after SQLite
// refused the file, which it does not for a live writer's journal (it waits for it instead).
func hotJournal(file string) bool {
	f, err := os.Open(file + "-journal")
	if err != nil {
		return false
	}
	defer f.Close()
	var head [8]byte
	n, _ := io.ReadFull(f, head[:])
	return n > 0 && head != [8]byte{}
}

// checkFile refuses paths that are not regular files (directories, FIFOs, devices, sockets, symbolic links to
// any of these), that are not SQLite, or that cannot be written, without creating anything but the folder of a
// new database. It returns the file to open: path with its symbolic links resolved, so that SQLite's journal
// goes next to the real file. Nothing here can block: a FIFO is refused before it is opened, and the file is
// opened with O_NONBLOCK and checked again (it may have been swapped since the stat).
func checkFile(path string, readOnly bool) (string, error) {
	file := path
	if lst, err := os.Lstat(path); err == nil && lst.Mode()&os.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return "", fmt.Errorf("%s: a symbolic link that does not resolve to a file (%v); give the database file itself: %w",
				path, err, ErrBadDatabase)
		}
		file = target
	}
	st, err := os.Stat(file)
	switch {
	case readOnly && err != nil:
		return "", fmt.Errorf("%s: %v: %w", path, err, ErrBadDatabase)
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		// A new study: create its folder (on Drive, say) if needed, and make sure we can write there.
		dir := filepath.Dir(file)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("%s: cannot create directory %s: %v: %w", path, dir, err, ErrBadDatabase)
		}
		f, cerr := os.CreateTemp(dir, ".autotune-write-test-*")
		if cerr != nil {
			return "", fmt.Errorf("%s: cannot create files in %s: %v: %w", path, dir, cerr, ErrBadDatabase)
		}
		f.Close()
		os.Remove(f.Name())
		return file, nil
	case err != nil:
		return "", fmt.Errorf("%s: %v: %w", path, err, ErrBadDatabase)
	case st.IsDir():
		return "", fmt.Errorf("%s: is a directory: %w", path, ErrBadDatabase)
	case !st.Mode().IsRegular():
		return "", notRegular(path, file, st.Mode())
	}
	mode := os.O_RDWR
	if readOnly {
		mode = os.O_RDONLY
	}
	f, err := os.OpenFile(file, mode|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", fmt.Errorf("%s: cannot open for writing: %v: %w", path, err, ErrBadDatabase)
	}
	defer f.Close()
	if fst, err := f.Stat(); err != nil || !fst.Mode().IsRegular() {
		mode := os.ModeIrregular
		if err == nil {
			mode = fst.Mode()
		}
		return "", notRegular(path, file, mode)
	}
	if st.Size() == 0 {
		return file, nil
	}
	head := make([]byte, len(sqliteMagic))
	if _, err := io.ReadFull(f, head); err != nil || string(head) != sqliteMagic {
		return "", fmt.Errorf("%s: not an SQLite database (a study database is an SQLite file): %w", path, ErrBadDatabase)
	}
	if readOnly {
		return file, nil
	}
	// Refuse a directory we cannot write a journal into: SQLite would fail later, mid-trial.
	f2, err := os.CreateTemp(filepath.Dir(file), ".autotune-write-test-*")
	if err != nil {
		return "", fmt.Errorf("%s: cannot create the journal next to it: %v: %w", path, err, ErrBadDatabase)
	}
	f2.Close()
	os.Remove(f2.Name())
	return file, nil
}

// notRegular is the error for a --db that is a FIFO, a device or a socket (SQLite would block on a FIFO, and
// create FILE-journal next to a device, in /dev for /dev/null).
func notRegular(path, file string, mode os.FileMode) error {
	what := "not a regular file"
	switch {
	case mode&os.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case mode&os.ModeCharDevice != 0:
		what = "a character device"
	case mode&os.ModeDevice != 0:
		what = "a block device"
	case mode&os.ModeSocket != 0:
		what = "a socket"
	}
	if file != path {
		what = "a symbolic link to " + file + ", " + what
	}
	return fmt.Errorf("%s: is %s; a study database must be a regular file: %w", path, what, ErrBadDatabase)
}

// checkContents refuses a database that is corrupt, foreign, or from a newer autotune. Before a study is
// written, PRAGMA integrity_check also compares every index with its table (quick_check, enough for a report,
// does not, and writing through a corrupt index spreads the damage); it reads the whole file, a few MiB at
// most for a study.
func (db *DB) checkContents(readOnly bool) error {
	pragma := "integrity_check"
	if readOnly {
		pragma = "quick_check"
	}
	var check string
	if err := db.sql.QueryRow("PRAGMA " + pragma).Scan(&check); err != nil {
		return fmt.Errorf("%s: cannot read: %v: %w", db.Path, err, ErrBadDatabase)
	}
	if check != "ok" {
		return fmt.Errorf("%s: corrupt database (PRAGMA %s: %s); nothing was written to it: restore a copy, "+
			"or start a new study in another file: %w", db.Path, pragma, check, ErrBadDatabase)
	}
	var version int
	if err := db.sql.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("%s: %v: %w", db.Path, err, ErrBadDatabase)
	}
	if version > SchemaVersion {
		return fmt.Errorf("%s: written by a newer autotune (schema %d, this one knows %d); upgrade autotune: %w",
			db.Path, version, SchemaVersion, ErrBadDatabase)
	}
	rows, err := db.sql.Query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
	if err != nil {
		return fmt.Errorf("%s: %v: %w", db.Path, err, ErrBadDatabase)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("%s: %v: %w", db.Path, err, ErrBadDatabase)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %v: %w", db.Path, err, ErrBadDatabase)
	}
	if len(tables) == 0 {
		return nil
	}
	for _, t := range tables {
		if t == "autotune_studies" {
			return nil
		}
	}
	return fmt.Errorf("%s: an SQLite database that autotune did not create (tables: %s); use another file: %w",
		db.Path, strings.Join(tables, ", "), ErrBadDatabase)
}
