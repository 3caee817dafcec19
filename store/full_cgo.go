//go:build cgo

package store

import (
	"errors"

	"github.com/mattn/go-sqlite3"
)

// isSQLiteFull reports whether err is SQLite's SQLITE_FULL. sqlite3.Error exists only in cgo builds.
func isSQLiteFull(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrFull
}
