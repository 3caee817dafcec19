package store

import (
	"fmt"
	"strings"

	rdb "github.com/c-bata/goptuna/rdb.v2"
	"gorm.io/gorm"
)

// SchemaVersion is the version of autotune's own tables. Both databases keep it in autotune_schema; SQLite
// also in PRAGMA user_version, which every autotune checks before it reads anything (version 1, with a
// whole-study lock instead of workers, knew only that).
//
//	1: studies, trials and a whole-study lock
//	2: workers (autotune_workers) instead of the lock; each trial names the worker that runs it
//	3: a queued trial keeps its values in autotune's system attribute "autotune:params" instead of goptuna's
//	   "fixed_params" (an older autotune would start such a trial with values of its own: it must refuse the file)
const SchemaVersion = 3

// workersVersion is the version that added the worker columns that reports read.
const workersVersion = 2

// schemaV2 creates the current schema (version 3 changed data, not tables). {{REAL}}, {{BIGINT}} and {{SERIAL}} are spelled per database.
const schemaV2 = `
CREATE TABLE IF NOT EXISTS autotune_schema (
	version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS autotune_studies (
	study_id          INTEGER PRIMARY KEY,
	name              TEXT NOT NULL UNIQUE,
	created_at        TEXT NOT NULL,
	model             TEXT NOT NULL,
	workload_json     TEXT NOT NULL,
	sla_json          TEXT NOT NULL,
	sampler           TEXT NOT NULL,
	seed              {{BIGINT}} NOT NULL,
	simulated         INTEGER NOT NULL,
	space_fingerprint TEXT NOT NULL,
	space_json        TEXT NOT NULL,
	vllm_version      TEXT NOT NULL,
	gpu               TEXT NOT NULL,
	autotune_version  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS autotune_trials (
	trial_id        INTEGER PRIMARY KEY,
	study_id        INTEGER NOT NULL,
	number          INTEGER NOT NULL,
	state           TEXT NOT NULL,
	label           TEXT NOT NULL DEFAULT '',
	config_key      TEXT NOT NULL DEFAULT '',
	params_json     TEXT NOT NULL DEFAULT '{}',
	args_json       TEXT NOT NULL DEFAULT '[]',
	env_json        TEXT NOT NULL DEFAULT '{}',
	model           TEXT NOT NULL DEFAULT '',
	serve_argv_json TEXT NOT NULL DEFAULT '[]',
	bench_argv_json TEXT NOT NULL DEFAULT '[]',
	bench_json      TEXT NOT NULL DEFAULT '',
	feasible        INTEGER NOT NULL DEFAULT 0,
	objective       {{REAL}},
	violation       TEXT NOT NULL DEFAULT '',
	failure         TEXT NOT NULL DEFAULT '',
	message         TEXT NOT NULL DEFAULT '',
	log_tail        TEXT NOT NULL DEFAULT '',
	startup_s       {{REAL}} NOT NULL DEFAULT 0,
	benchmark_s     {{REAL}} NOT NULL DEFAULT 0,
	teardown_s      {{REAL}} NOT NULL DEFAULT 0,
	server_log      TEXT NOT NULL DEFAULT '',
	bench_log       TEXT NOT NULL DEFAULT '',
	bench_path      TEXT NOT NULL DEFAULT '',
	duplicate_of    INTEGER,
	owner_host      TEXT NOT NULL DEFAULT '',
	owner_pid       INTEGER NOT NULL DEFAULT 0,
	server_pid      INTEGER NOT NULL DEFAULT 0,
	server_pgid     INTEGER NOT NULL DEFAULT 0,
	server_start    {{BIGINT}} NOT NULL DEFAULT 0,
	server_host     TEXT NOT NULL DEFAULT '',
	server_port     INTEGER NOT NULL DEFAULT 0,
	server_token    TEXT NOT NULL DEFAULT '',
	started_at      TEXT NOT NULL DEFAULT '',
	finished_at     TEXT NOT NULL DEFAULT '',
	worker_id       INTEGER NOT NULL DEFAULT 0,
	server_orphan   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS autotune_trials_study ON autotune_trials (study_id, number);
` + workersV2

// workersV2 is what version 2 added: workers, the trial's worker, and the lookups a proposal makes.
const workersV2 = `
CREATE TABLE IF NOT EXISTS autotune_workers (
	worker_id    {{SERIAL}},
	study_id     INTEGER NOT NULL,
	host         TEXT NOT NULL,
	pid          INTEGER NOT NULL,
	start_ticks  {{BIGINT}} NOT NULL,
	label        TEXT NOT NULL DEFAULT '',
	started_at   TEXT NOT NULL,
	heartbeat    {{REAL}} NOT NULL,
	busy         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS autotune_trials_key ON autotune_trials (study_id, config_key);
CREATE INDEX IF NOT EXISTS autotune_trials_state ON autotune_trials (study_id, state);
`

// migrateV1 turns a version 1 database (SQLite only: PostgreSQL came with version 2) into version 2.
const migrateV1 = `
CREATE TABLE IF NOT EXISTS autotune_schema (
	version INTEGER NOT NULL
);
ALTER TABLE autotune_trials ADD COLUMN worker_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE autotune_trials ADD COLUMN server_orphan INTEGER NOT NULL DEFAULT 0;
DROP TABLE IF EXISTS autotune_locks;
` + workersV2

// migrateV2 turns a version 2 database into version 3: queued values under autotune's name. Every trial that
// autotune queued has them (its record of the enqueued values; only the waiting ones are still read).
const migrateV2 = `
UPDATE trial_system_attributes SET key = '` + paramsAttr + `' WHERE key = 'fixed_params';
`

// ddl spells a schema for the database.
func (db *DB) ddl(s string) string {
	r := strings.NewReplacer("{{REAL}}", "REAL", "{{BIGINT}}", "INTEGER", "{{SERIAL}}", "INTEGER PRIMARY KEY")
	if db.dialect == postgresDB {
		r = strings.NewReplacer("{{REAL}}", "DOUBLE PRECISION", "{{BIGINT}}", "BIGINT",
			"{{SERIAL}}", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
	}
	return r.Replace(s)
}

// storedVersion is the schema version the database says it has: 0 for an empty one.
func (db *DB) storedVersion() (int, error) {
	var version int
	if db.dialect == sqliteDB {
		err := db.sql.QueryRow("PRAGMA user_version").Scan(&version)
		return version, err
	}
	var has int
	if err := db.sql.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()
		AND table_name = 'autotune_schema'`).Scan(&has); err != nil || has == 0 {
		return 0, err
	}
	err := db.sql.QueryRow("SELECT coalesce(max(version), 0) FROM autotune_schema").Scan(&version)
	return version, err
}

// migrate creates goptuna's tables and ours, or brings ours to SchemaVersion, and stamps the version, all in one
// transaction. An up-to-date database is left byte for byte as it is: a command that is refused must not touch
// it.
func (db *DB) migrate() error {
	version, err := db.storedVersion()
	if err != nil {
		return fmt.Errorf("%s: %w", db.Path, err)
	}
	if version == SchemaVersion {
		return nil
	}
	// One transaction (SQLite: BEGIN IMMEDIATE, see _txlock; PostgreSQL: an advisory lock): another autotune
	// opening the same new database either sees nothing or every table, never goptuna's tables without ours,
	// which it would refuse as foreign.
	err = db.gorm.Transaction(func(tx *gorm.DB) error {
		if db.dialect == postgresDB {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(4242001)").Error; err != nil {
				return fmt.Errorf("lock the schema: %w", err)
			}
			// Another autotune may have created or migrated it while we waited for the lock.
			var has int
			if err := tx.Raw(`SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()
				AND table_name = 'autotune_schema'`).Scan(&has).Error; err != nil {
				return err
			}
			if has > 0 {
				if err := tx.Raw("SELECT coalesce(max(version), 0) FROM autotune_schema").Scan(&version).Error; err != nil {
					return err
				}
				if version == SchemaVersion {
					return nil
				}
			}
		}
		if err := rdb.RunAutoMigrate(tx); err != nil {
			return fmt.Errorf("create goptuna tables: %w", err)
		}
		var steps string
		switch version {
		case 0:
			steps = schemaV2
		case 1:
			steps = migrateV1 + migrateV2
		case 2:
			steps = migrateV2
		default:
			return fmt.Errorf("no migration from schema %d", version)
		}
		for _, stmt := range strings.Split(db.ddl(steps), ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if err := tx.Exec(stmt).Error; err != nil {
				return fmt.Errorf("migrate autotune tables from schema %d: %w", version, err)
			}
		}
		if err := tx.Exec("DELETE FROM autotune_schema").Error; err != nil {
			return err
		}
		if err := tx.Exec(fmt.Sprintf("INSERT INTO autotune_schema (version) VALUES (%d)", SchemaVersion)).Error; err != nil {
			return err
		}
		if db.dialect == sqliteDB {
			return tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion)).Error
		}
		return nil
	})
	if err != nil {
		return db.ExplainFull(fmt.Errorf("%s: %w", db.Path, err))
	}
	return nil
}
