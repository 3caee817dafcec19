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

// Worker is one autotune worker of a study, as registered: any number of them (processes on any host, or
// several in one process, one per GPU) run trials of the same study. Each heartbeats while it lives.
type Worker struct {
	ID    int
	Owner Owner
	Label string // what it runs on, for people ("GPU 2")
	// Silent is how long ago its last heartbeat was, by the database's clock (so that clocks of different hosts
	// need not agree).
	Silent time.Duration
	Busy   bool // it holds one of the study's trial slots (see ClaimSlot)
}

// nowExpr is the database's clock in seconds since the epoch.
func (db *DB) nowExpr() string {
	if db.dialect == postgresDB {
		return "extract(epoch from clock_timestamp())::double precision"
	}
	return "((julianday('now') - 2440587.5) * 86400.0)"
}

// Register records a new worker of the study and returns it.
func (db *DB) Register(studyID int, me Owner, label string) (Worker, error) {
	w := Worker{Owner: me, Label: label}
	err := db.queryRow(`INSERT INTO autotune_workers (study_id, host, pid, start_ticks, label, started_at, heartbeat)
		VALUES (?,?,?,?,?,?,`+db.nowExpr()+`) RETURNING worker_id`,
		studyID, me.Host, me.PID, int64(me.Start), label, formatTime(time.Now())).Scan(&w.ID)
	if err != nil {
		return Worker{}, db.ExplainFull(fmt.Errorf("register worker: %w", err))
	}
	return w, nil
}

// ErrNoWorker is returned by Beat when the worker's registration is gone: another worker judged it dead (it
// was silent for longer than the heartbeat timeout, or taken over) and failed its trial.
var ErrNoWorker = errors.New("worker no longer registered")

// Beat refreshes a worker's heartbeat.
func (db *DB) Beat(workerID int) error {
	res, err := db.exec(`UPDATE autotune_workers SET heartbeat = `+db.nowExpr()+` WHERE worker_id = ?`, workerID)
	if err != nil {
		return db.ExplainFull(fmt.Errorf("heartbeat: %w", err))
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNoWorker
	}
	return nil
}

// Unregister removes a worker.
func (db *DB) Unregister(workerID int) error {
	_, err := db.exec(`DELETE FROM autotune_workers WHERE worker_id = ?`, workerID)
	return err
}

// Workers lists the registered workers of a study.
func (db *DB) Workers(studyID int) ([]Worker, error) {
	rows, err := db.query(`SELECT worker_id, host, pid, start_ticks, label, `+db.nowExpr()+` - heartbeat, busy
		FROM autotune_workers WHERE study_id = ? ORDER BY worker_id`, studyID)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	defer rows.Close()
	var out []Worker
	for rows.Next() {
		var w Worker
		var start int64
		var silent float64
		var busy int
		if err := rows.Scan(&w.ID, &w.Owner.Host, &w.Owner.PID, &start, &w.Label, &silent, &busy); err != nil {
			return nil, fmt.Errorf("list workers: %w", err)
		}
		w.Owner.Start = uint64(start)
		w.Silent = time.Duration(silent * float64(time.Second))
		w.Busy = busy != 0
		out = append(out, w)
	}
	return out, rows.Err()
}

// studyTx runs fn in one transaction with the study locked against other workers: SQLite's transactions are
// already exclusive (BEGIN IMMEDIATE); PostgreSQL locks goptuna's row of the study.
func (db *DB) studyTx(studyID int, fn func(tx *sql.Tx) error) error {
	tx, err := db.sql.Begin()
	if err != nil {
		return db.ExplainFull(err)
	}
	defer tx.Rollback()
	if db.dialect == postgresDB {
		// goptuna's own trial creation locks the same row (rdb.v2 CreateNewTrial, CloneTrial), so trial numbers
		// stay consecutive whoever creates a trial.
		if _, err := tx.Exec(`SELECT study_id FROM studies WHERE study_id = $1 FOR UPDATE`, studyID); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return db.ExplainFull(tx.Commit())
}

// ClaimSlot lets a worker start a trial that will count toward the study's target: it marks the worker busy
// if the finished trials plus the trials that other workers are running stay below target, and reports
// whether it did. Checked and marked in one transaction with the study locked, so that several workers never
// start more trials than the target needs.
func (db *DB) ClaimSlot(studyID, workerID, target int) (bool, error) {
	claimed := false
	err := db.studyTx(studyID, func(tx *sql.Tx) error {
		var finished, busy int
		if err := tx.QueryRow(db.rebind(finishedQuery), studyID).Scan(&finished); err != nil {
			return err
		}
		if err := tx.QueryRow(db.rebind(`SELECT count(*) FROM autotune_workers WHERE study_id = ? AND busy = 1 AND worker_id <> ?`),
			studyID, workerID).Scan(&busy); err != nil {
			return err
		}
		if finished+busy >= target {
			return nil
		}
		res, err := tx.Exec(db.rebind(`UPDATE autotune_workers SET busy = 1 WHERE worker_id = ?`), workerID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNoWorker
		}
		claimed = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("claim a trial slot: %w", err)
	}
	return claimed, nil
}

// ReleaseSlot marks the worker idle again.
func (db *DB) ReleaseSlot(workerID int) error {
	if _, err := db.exec(`UPDATE autotune_workers SET busy = 0 WHERE worker_id = ?`, workerID); err != nil {
		return db.ExplainFull(fmt.Errorf("release a trial slot: %w", err))
	}
	return nil
}

// TakeOver fails a trial that a dead worker was running: it sets autotune's record and goptuna's state to
// failed in one transaction, if the trial is still running, and reports whether it did (another worker may
// have been first). orphan records that the trial's server, if any, is still to be stopped by its own host.
func (db *DB) TakeOver(t Trial, orphan bool) (bool, error) {
	t.ServerOrphan = orphan
	t.State = StateFailed
	err := db.Finish(t, goptunaFail, 0)
	if errors.Is(err, ErrFinished) {
		return false, nil
	}
	return err == nil, err
}

// Orphans lists the trials whose servers were left on host by a worker that died there, for that host to stop.
func (db *DB) Orphans(studyID int, host string) ([]Trial, error) {
	return db.selectTrials("list orphaned servers", ` WHERE study_id = ? AND server_orphan = 1 AND owner_host = ? ORDER BY number`, studyID, host)
}

// ClearOrphan records that a trial's orphaned server was dealt with by its host.
func (db *DB) ClearOrphan(trialID int) error {
	_, err := db.exec(`UPDATE autotune_trials SET server_orphan = 0 WHERE trial_id = ?`, trialID)
	return err
}

// ErrConfigRunning is returned by StartTrial when another trial of the study runs the same config now.
var ErrConfigRunning = errors.New("the same config is running")

// ErrTaken is returned by StartTrial when another worker started the queued trial first.
var ErrTaken = errors.New("queued trial already started")

// StartTrial starts a trial in one transaction with the study locked: it checks that no trial of the study runs
// the same config (rec.ConfigKey) now, creates goptuna's trial (or starts the queued trial waitingID), records
// its params and autotune's record rec (state running; fill, if set, completes it once the trial's number is
// known). It returns the record as stored. Because the check and the record are one transaction, two workers
// that drew the same config at once cannot both run it.
func (db *DB) StartTrial(waitingID int, params []Param, rec Trial, fill func(*Trial)) (Trial, error) {
	var id, number int
	err := db.studyTx(rec.StudyID, func(tx *sql.Tx) error {
		var other int
		err := tx.QueryRow(db.rebind(`SELECT number FROM autotune_trials WHERE study_id = ? AND state = ? AND config_key = ?`),
			rec.StudyID, StateRunning, db.encodeKey(rec.ConfigKey)).Scan(&other)
		switch {
		case err == nil:
			return fmt.Errorf("%w: trial %d", ErrConfigRunning, other)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if waitingID > 0 {
			res, err := tx.Exec(db.rebind(`UPDATE trials SET state = 'RUNNING', datetime_start = ? WHERE trial_id = ? AND state = 'WAITING'`),
				time.Now(), waitingID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return ErrTaken
			}
			id = waitingID
			if err := tx.QueryRow(db.rebind(`SELECT number FROM trials WHERE trial_id = ?`), id).Scan(&number); err != nil {
				return err
			}
		} else {
			// As goptuna's CreateNewTrial: the number is the count of the study's earlier trials, computed with the
			// study locked.
			if err := tx.QueryRow(db.rebind(`INSERT INTO trials (number, study_id, state, value, datetime_start)
				VALUES (0, ?, 'RUNNING', 0, ?) RETURNING trial_id`), rec.StudyID, time.Now()).Scan(&id); err != nil {
				return err
			}
			if err := tx.QueryRow(db.rebind(`SELECT count(*) FROM trials WHERE study_id = ? AND trial_id < ?`),
				rec.StudyID, id).Scan(&number); err != nil {
				return err
			}
			if _, err := tx.Exec(db.rebind(`UPDATE trials SET number = ? WHERE trial_id = ?`), number, id); err != nil {
				return err
			}
		}
		if err := db.insertParams(tx, id, params); err != nil {
			return err
		}
		rec.TrialID, rec.Number = id, number
		if fill != nil {
			fill(&rec)
		}
		return db.putTrial(tx, rec)
	})
	if err != nil {
		return Trial{}, fmt.Errorf("start trial: %w", err)
	}
	return rec, nil
}
