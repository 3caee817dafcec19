package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Owner identifies a running autotune process.
type Owner struct {
	Host  string
	PID   int
	Start uint64 // the process's start time in clock ticks since boot; guards against PID reuse
}

// Lock is the holder of a study's lock as recorded.
type Lock struct {
	Owner     Owner
	Heartbeat time.Time
}

// ErrLocked is returned when another live autotune holds the study.
var ErrLocked = errors.New("study is being run by another autotune")

// AcquireLock takes the study's lock for me. A recorded holder is overruled only when isDead says it is gone:
// the caller decides that (same host: its PID is gone or was reused; other host: its heartbeat is stale).
func (db *DB) AcquireLock(studyID int, me Owner, isDead func(Lock) bool) error {
	tx, err := db.sql.Begin()
	if err != nil {
		return db.ExplainFull(fmt.Errorf("lock study: %w", err))
	}
	defer tx.Rollback()
	var l Lock
	var hb string
	var start int64
	err = tx.QueryRow(`SELECT owner_host, owner_pid, owner_start, heartbeat_at FROM autotune_locks WHERE study_id = ?`,
		studyID).Scan(&l.Owner.Host, &l.Owner.PID, &start, &hb)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return db.ExplainFull(fmt.Errorf("lock study: %w", err))
	default:
		l.Owner.Start = uint64(start)
		l.Heartbeat = parseTime(hb)
		if l.Owner != me && !isDead(l) {
			return fmt.Errorf("%w: pid %d on host %s (last heartbeat %s); stop it first, or wait for it to finish",
				ErrLocked, l.Owner.PID, l.Owner.Host, l.Heartbeat.Local().Format(time.RFC3339))
		}
	}
	_, err = tx.Exec(`INSERT OR REPLACE INTO autotune_locks (study_id, owner_host, owner_pid, owner_start, heartbeat_at)
		VALUES (?,?,?,?,?)`, studyID, me.Host, me.PID, int64(me.Start), formatTime(time.Now()))
	if err != nil {
		return db.ExplainFull(fmt.Errorf("lock study: %w", err))
	}
	return db.ExplainFull(tx.Commit())
}

// Heartbeat refreshes the lock's timestamp if I hold it (the same whole Owner as AcquireLock compares).
func (db *DB) Heartbeat(studyID int, me Owner) error {
	_, err := db.exec(`UPDATE autotune_locks SET heartbeat_at = ? WHERE study_id = ? AND owner_host = ? AND owner_pid = ? AND owner_start = ?`,
		formatTime(time.Now()), studyID, me.Host, me.PID, int64(me.Start))
	return db.ExplainFull(err)
}

// ReleaseLock drops the lock if I hold it.
func (db *DB) ReleaseLock(studyID int, me Owner) error {
	_, err := db.exec(`DELETE FROM autotune_locks WHERE study_id = ? AND owner_host = ? AND owner_pid = ? AND owner_start = ?`,
		studyID, me.Host, me.PID, int64(me.Start))
	return db.ExplainFull(err)
}
