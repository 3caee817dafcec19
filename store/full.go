package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/autotune/autotune/internal/diskfree"
)

// ErrDiskFull marks a write that SQLite refused because the database's disk (or its size limit) is full.
var ErrDiskFull = errors.New("database or disk is full")

// diskFullError names the file and the free space on its disk, which SQLite's own message does not.
type diskFullError struct {
	path  string
	free  uint64 // bytes available to us on the file's disk
	known bool   // whether free could be read
	err   error
}

func (e *diskFullError) Error() string {
	free := "free space unknown"
	if e.known {
		free = fmt.Sprintf("%s free", humanBytes(e.free))
	}
	return fmt.Sprintf("%s: the disk holding it is full (%s; SQLite: %v): nothing more was written; free some space, "+
		"then run the same command again: every committed trial is kept", e.path, free, e.err)
}

func (e *diskFullError) Unwrap() []error { return []error{ErrDiskFull, e.err} }

// ExplainFull returns err with the database's path and the free space on its disk when err is SQLite's
// "database or disk is full" (SQLITE_FULL), from this package or from goptuna's storage over the same file;
// any other error is returned unchanged.
func (db *DB) ExplainFull(err error) error {
	if err == nil || !isFull(err) {
		return err
	}
	var done *diskFullError
	if errors.As(err, &done) {
		return err
	}
	e := &diskFullError{path: db.Path, err: err}
	e.free, e.known = diskfree.Bytes(filepath.Dir(db.file))
	return e
}

// isFull recognises SQLITE_FULL, also when a caller flattened the error to its text.
func isFull(err error) bool {
	if isSQLiteFull(err) {
		return true
	}
	return strings.Contains(err.Error(), "database or disk is full")
}

func humanBytes(n uint64) string {
	switch {
	case n >= 10<<30:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 10<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d KiB", n>>10)
	}
}
