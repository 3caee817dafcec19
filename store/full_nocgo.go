//go:build !cgo

package store

// isSQLiteFull: without cgo there is no SQLite error type to match (nor a database to open: go-sqlite3 needs
// cgo); isFull still matches the text. This file lets the module cross-compile (GOOS=darwin go build ./...).
func isSQLiteFull(error) bool { return false }
