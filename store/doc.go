// Package store keeps a study in SQLite: goptuna's RDB tables and autotune's own per-trial records.
package store

import (
	_ "github.com/c-bata/goptuna/rdb.v2"
	_ "github.com/mattn/go-sqlite3"
	_ "gorm.io/driver/sqlite"
)
