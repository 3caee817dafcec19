package store

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	rdb "github.com/c-bata/goptuna/rdb.v2"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// IsPostgres reports whether a --db value names a PostgreSQL database (postgres:// or postgresql://).
func IsPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Redact returns a --db value fit to print: a PostgreSQL URL without its password; a path as it is.
func Redact(db string) string {
	if !IsPostgres(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	return u.Redacted()
}

// pgConnectTimeout bounds the wait for a PostgreSQL server that does not answer.
const pgConnectTimeout = 10 * time.Second

// openPostgres opens the study database at a postgres:// URL: goptuna's tables and autotune's in the URL's
// database (its default schema), created on first use. It refuses, writing nothing, a URL it cannot parse, a
// server it cannot reach, and a database that holds other tables but not autotune's.
func openPostgres(raw string, readOnly bool) (*DB, error) {
	shown := Redact(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: not a valid PostgreSQL URL (want postgres://user:password@host:5432/database): %w", ErrBadDatabase)
	}
	if u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, fmt.Errorf("%s: a PostgreSQL URL needs a host and a database (postgres://user:password@host:5432/database): %w",
			shown, ErrBadDatabase)
	}
	password, _ := u.User.Password()
	// scrub keeps the password out of every error, whatever the driver put in its text.
	scrub := func(err error) string {
		msg := err.Error()
		if password != "" {
			msg = strings.ReplaceAll(msg, password, "xxxxx")
		}
		return msg
	}
	q := u.Query()
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", fmt.Sprint(int(pgConnectTimeout.Seconds())))
		u.RawQuery = q.Encode()
	}
	db := &DB{Path: shown, dialect: postgresDB}
	g, err := gorm.Open(postgres.Open(u.String()), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, fmt.Errorf("%s: cannot connect: %s: %w", shown, scrub(err), ErrBadDatabase)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("%s: %s", shown, scrub(err))
	}
	// A few connections: the workers of one process (--gpus) share them; their heartbeats must not queue
	// behind a slow query.
	sqlDB.SetMaxOpenConns(8)
	ctx, cancel := context.WithTimeout(context.Background(), pgConnectTimeout)
	defer cancel()
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("%s: cannot connect: %s: %w", shown, scrub(err), ErrBadDatabase)
	}
	db.gorm, db.sql = g, sqlDB
	if err := db.checkPostgres(readOnly); err != nil {
		sqlDB.Close()
		return nil, err
	}
	if !readOnly {
		if err := db.migrate(); err != nil {
			sqlDB.Close()
			return nil, fmt.Errorf("%s", scrub(err))
		}
	}
	db.storage = newCachedStorage(rdb.NewStorage(g), db)
	return db, nil
}

// checkPostgres refuses a database that holds tables but not autotune's, or autotune's from a newer version.
func (db *DB) checkPostgres(readOnly bool) error {
	rows, err := db.sql.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`)
	if err != nil {
		return fmt.Errorf("%s: cannot list its tables: %v: %w", db.Path, err, ErrBadDatabase)
	}
	defer rows.Close()
	var tables []string
	ours := false
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("%s: %v: %w", db.Path, err, ErrBadDatabase)
		}
		tables = append(tables, name)
		ours = ours || name == "autotune_studies"
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %v: %w", db.Path, err, ErrBadDatabase)
	}
	switch {
	case len(tables) > 0 && !ours:
		if len(tables) > 8 {
			tables = append(tables[:8], "...")
		}
		return fmt.Errorf("%s: a database that autotune did not create (tables: %s); give autotune a database of its own: %w",
			db.Path, strings.Join(tables, ", "), ErrBadDatabase)
	case len(tables) == 0 && readOnly:
		return fmt.Errorf("%s: holds no autotune study yet: %w", db.Path, ErrBadDatabase)
	}
	version, err := db.storedVersion()
	if err != nil {
		return fmt.Errorf("%s: %v: %w", db.Path, err, ErrBadDatabase)
	}
	if version > SchemaVersion {
		return fmt.Errorf("%s: written by a newer autotune (schema %d, this one knows %d); upgrade autotune: %w",
			db.Path, version, SchemaVersion, ErrBadDatabase)
	}
	return nil
}
