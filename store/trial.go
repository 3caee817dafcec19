package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/c-bata/goptuna"
)

// Trial states in autotune's records. They match the words of `autotune trials --format json`.
const (
	StateRunning  = "running"
	StateComplete = "complete"
	StatePruned   = "pruned"
	StateFailed   = "failed"
	StateWaiting  = "waiting"
)

// Trial is autotune's record of one trial. TrialID is goptuna's trial ID; Number is its number in the study.
type Trial struct {
	TrialID   int
	StudyID   int
	Number    int
	State     string
	Label     string // "baseline", "known-good: ...", "retry of #N", "repeat of #N", or empty for sampled trials
	ConfigKey string
	Params    map[string]string
	Args      []string
	Env       map[string]string
	Model     string // model argument when it differs from the study's

	ServeArgv []string
	BenchArgv []string
	BenchJSON string // the parsed benchmark result with every metric, as JSON; empty when none

	Feasible  bool
	Objective *float64 // the value told to the sampler; nil when nothing was told
	Violation string   // why an infeasible trial missed the SLA

	Failure string // failure class; empty on success
	Message string
	LogTail string

	Startup, Benchmark, Teardown time.Duration

	ServerLog, BenchLog, BenchPath string
	DuplicateOf                    *int // the trial whose result this one reused, without running

	OwnerHost   string
	OwnerPID    int
	ServerPID   int
	ServerPGID  int
	ServerStart uint64
	ServerHost  string
	ServerPort  int
	ServerToken string // the random token in the server's environment, to recognise its orphans
	// ServerOrphan: the worker that ran it died on another host than the one that took its trial over; its
	// server, if still there, is for its own host to stop.
	ServerOrphan bool
	WorkerID     int // the worker that runs or ran it; 0 in studies from before workers

	StartedAt, FinishedAt time.Time
}

// PutTrial inserts or replaces the record of t.TrialID. It commits before it returns.
func (db *DB) PutTrial(t Trial) error { return db.putTrial(db.sql, t) }

// execer is a connection or a transaction.
type execer interface {
	Exec(query string, args ...any) (sql.Result, error)
}

func (db *DB) putTrial(x execer, t Trial) error {
	params, _ := json.Marshal(orEmptyMap(t.Params))
	args, _ := json.Marshal(orEmptySlice(t.Args))
	env, _ := json.Marshal(orEmptyMap(t.Env))
	serve, _ := json.Marshal(orEmptySlice(t.ServeArgv))
	bench, _ := json.Marshal(orEmptySlice(t.BenchArgv))
	_, err := x.Exec(db.rebind(upsertTrial),
		t.TrialID, t.StudyID, t.Number, t.State, t.Label, db.encodeKey(t.ConfigKey), string(params), string(args), string(env),
		t.Model, string(serve), string(bench), t.BenchJSON, b2i(t.Feasible), t.Objective, t.Violation, t.Failure,
		t.Message, t.LogTail, t.Startup.Seconds(), t.Benchmark.Seconds(), t.Teardown.Seconds(), t.ServerLog,
		t.BenchLog, t.BenchPath, t.DuplicateOf, t.OwnerHost, t.OwnerPID, t.ServerPID, t.ServerPGID,
		int64(t.ServerStart), t.ServerHost, t.ServerPort, t.ServerToken, formatTime(t.StartedAt), formatTime(t.FinishedAt),
		t.WorkerID, b2i(t.ServerOrphan))
	if err != nil {
		return db.ExplainFull(fmt.Errorf("record trial %d: %w", t.Number, err))
	}
	return nil
}

// Server identifies the vLLM server of a trial, so that a later run can stop it if we die.
type Server struct {
	PID, PGID int
	Start     uint64
	Host      string
	Port      int
	Token     string
}

// SetServer records the server process of a running trial.
func (db *DB) SetServer(trialID int, s Server) error {
	_, err := db.exec(`UPDATE autotune_trials SET server_pid = ?, server_pgid = ?, server_start = ?,
		server_host = ?, server_port = ?, server_token = ? WHERE trial_id = ?`,
		s.PID, s.PGID, int64(s.Start), s.Host, s.Port, s.Token, trialID)
	if err != nil {
		return db.ExplainFull(fmt.Errorf("record server of trial: %w", err))
	}
	return nil
}

// ErrNoTrial is returned when a study has no trial of that number.
var ErrNoTrial = errors.New("no such trial")

// Trials returns the records of a study, by number.
func (db *DB) Trials(studyID int) ([]Trial, error) {
	return db.selectTrials("list trials", ` WHERE study_id = ? ORDER BY number`, studyID)
}

// selectTrials reads the records that the clause (WHERE ... ORDER BY ...) selects; what names the query in errors.
func (db *DB) selectTrials(what, clause string, args ...any) ([]Trial, error) {
	rows, err := db.query(db.trialSelect()+clause, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []Trial
	for rows.Next() {
		t, err := db.scanTrial(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// TrialByNumber returns the record of trial number n, or ErrNoTrial.
func (db *DB) TrialByNumber(studyID, n int) (Trial, error) {
	t, err := db.scanTrial(db.queryRow(db.trialSelect()+` WHERE study_id = ? AND number = ?`, studyID, n))
	if errors.Is(err, sql.ErrNoRows) {
		return Trial{}, ErrNoTrial
	}
	return t, err
}

// TrialByID returns the record of goptuna trial id, or ErrNoTrial.
func (db *DB) TrialByID(trialID int) (Trial, error) {
	t, err := db.scanTrial(db.queryRow(db.trialSelect()+` WHERE trial_id = ?`, trialID))
	if errors.Is(err, sql.ErrNoRows) {
		return Trial{}, ErrNoTrial
	}
	return t, err
}

// trialColumns are autotune_trials' columns in the order of trialSelect, upsertTrial and scanTrial.
var trialColumns = []string{"trial_id", "study_id", "number", "state", "label", "config_key", "params_json",
	"args_json", "env_json", "model", "serve_argv_json", "bench_argv_json", "bench_json", "feasible", "objective",
	"violation", "failure", "message", "log_tail", "startup_s", "benchmark_s", "teardown_s", "server_log",
	"bench_log", "bench_path", "duplicate_of", "owner_host", "owner_pid", "server_pid", "server_pgid",
	"server_start", "server_host", "server_port", "server_token", "started_at", "finished_at", "worker_id",
	"server_orphan"}

var trialSelect = "SELECT " + strings.Join(trialColumns, ", ") + " FROM autotune_trials"

// legacyTrialSelect reads a version 1 database, which has no worker_id or server_orphan column yet: both read
// as 0, what migrating it would store.
var legacyTrialSelect = strings.Replace(trialSelect, " worker_id, server_orphan FROM",
	" 0 AS worker_id, 0 AS server_orphan FROM", 1)

// trialSelect is the SELECT of every trial column that this database has.
func (db *DB) trialSelect() string {
	if db.legacy {
		return legacyTrialSelect
	}
	return trialSelect
}

// upsertTrial inserts a record or replaces every column of it (SQLite and PostgreSQL spell this alike).
var upsertTrial = func() string {
	var set []string
	for _, c := range trialColumns[1:] {
		set = append(set, c+" = excluded."+c)
	}
	return "INSERT INTO autotune_trials (" + strings.Join(trialColumns, ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?,", len(trialColumns)), ",") + ") ON CONFLICT (trial_id) DO UPDATE SET " +
		strings.Join(set, ", ")
}()

func (db *DB) scanTrial(row scanner) (Trial, error) {
	var t Trial
	var params, args, env, serve, bench, started, finished string
	var startup, benchmark, teardown float64
	var objective sql.NullFloat64
	var dup sql.NullInt64
	var serverStart int64
	var feasible, orphan int
	err := row.Scan(&t.TrialID, &t.StudyID, &t.Number, &t.State, &t.Label, &t.ConfigKey, &params, &args, &env,
		&t.Model, &serve, &bench, &t.BenchJSON, &feasible, &objective, &t.Violation, &t.Failure, &t.Message,
		&t.LogTail, &startup, &benchmark, &teardown, &t.ServerLog, &t.BenchLog, &t.BenchPath, &dup, &t.OwnerHost,
		&t.OwnerPID, &t.ServerPID, &t.ServerPGID, &serverStart, &t.ServerHost, &t.ServerPort, &t.ServerToken, &started, &finished, &t.WorkerID, &orphan)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Trial{}, err
		}
		return Trial{}, fmt.Errorf("read trial: %w", err)
	}
	for _, f := range []struct {
		raw string
		dst any
	}{{params, &t.Params}, {args, &t.Args}, {env, &t.Env}, {serve, &t.ServeArgv}, {bench, &t.BenchArgv}} {
		if err := json.Unmarshal([]byte(f.raw), f.dst); err != nil {
			return Trial{}, fmt.Errorf("read trial %d: %w", t.Number, err)
		}
	}
	t.Feasible = feasible != 0
	t.ServerOrphan = orphan != 0
	t.ConfigKey = db.decodeKey(t.ConfigKey)
	if objective.Valid {
		v := objective.Float64
		t.Objective = &v
	}
	if dup.Valid {
		d := int(dup.Int64)
		t.DuplicateOf = &d
	}
	t.ServerStart = uint64(serverStart)
	t.Startup = seconds(startup)
	t.Benchmark = seconds(benchmark)
	t.Teardown = seconds(teardown)
	t.StartedAt = parseTime(started)
	t.FinishedAt = parseTime(finished)
	return t, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// encodeKey spells a config key (space.Config.Key, which separates its parts with NUL bytes) for the database:
// PostgreSQL's TEXT cannot hold NUL, so there it is escaped (\ for a backslash, \0 for NUL). SQLite keeps keys
// as they are, as schema 1 did.
func (db *DB) encodeKey(k string) string {
	if db.dialect != postgresDB {
		return k
	}
	return strings.NewReplacer(`\`, `\\`, "\x00", `\0`).Replace(k)
}

// decodeKey undoes encodeKey.
func (db *DB) decodeKey(k string) string {
	if db.dialect != postgresDB || !strings.Contains(k, `\`) {
		return k
	}
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		if k[i] == '\\' && i+1 < len(k) {
			i++
			if k[i] == '0' {
				b.WriteByte(0)
				continue
			}
		}
		b.WriteByte(k[i])
	}
	return b.String()
}

// b2i stores a flag as 0 or 1: both databases keep flags in INTEGER columns, so that reports can compare them
// with 1 in either.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func orEmptySlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Finished reports whether a trial record counts toward --trials: complete or pruned (it used the GPU; see
// tuner/prune.go), and not a duplicate (a proposal answered from an earlier result without running).
// finishedQuery below is the same definition in SQL, for the loop's count at every trial; keep the two together
// (TestFinishedCountIsTrialFinished holds them to each other).
func (t Trial) Finished() bool {
	return (t.State == StateComplete || t.State == StatePruned) && t.DuplicateOf == nil
}

// FinishedCount counts the trials of a study that count toward its target (Trial.Finished), in one query
// whatever the study's size.
func (db *DB) FinishedCount(studyID int) (int, error) {
	var n int
	err := db.queryRow(finishedQuery, studyID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count finished trials: %w", err)
	}
	return n, nil
}

const finishedQuery = `SELECT count(*) FROM trials t WHERE t.study_id = ? AND t.state IN ('COMPLETE', 'PRUNED')
	AND NOT EXISTS (SELECT 1 FROM autotune_trials a WHERE a.trial_id = t.trial_id AND a.duplicate_of IS NOT NULL)`

// goptunaFail is goptuna's failed state, for worker.go.
var goptunaFail = goptuna.TrialStateFail

// Measurement is the part of a trial record that a duplicate reuses: its result, without logs.
type Measurement struct {
	TrialID, Number int
	Objective       float64
	Feasible        bool
	Violation       string
	Failure         string
	BenchJSON       string
}

// Measured returns, by config key, the first complete measurement of every command line the study has run
// (duplicates excluded): what a new proposal is checked against.
func (db *DB) Measured(studyID int) (map[string]Measurement, error) {
	rows, err := db.query(`SELECT config_key, trial_id, number, objective, feasible, violation, failure FROM autotune_trials
		WHERE study_id = ? AND state = ? AND duplicate_of IS NULL AND objective IS NOT NULL ORDER BY number`,
		studyID, StateComplete)
	if err != nil {
		return nil, fmt.Errorf("list measured configs: %w", err)
	}
	defer rows.Close()
	out := map[string]Measurement{}
	for rows.Next() {
		var key string
		var m Measurement
		var feasible int
		if err := rows.Scan(&key, &m.TrialID, &m.Number, &m.Objective, &feasible, &m.Violation, &m.Failure); err != nil {
			return nil, fmt.Errorf("list measured configs: %w", err)
		}
		key = db.decodeKey(key)
		m.Feasible = feasible != 0
		if _, seen := out[key]; !seen {
			out[key] = m
		}
	}
	return out, rows.Err()
}

// BenchJSONOf returns the stored benchmark result of a trial.
func (db *DB) BenchJSONOf(trialID int) (string, error) {
	var s string
	if err := db.queryRow(`SELECT bench_json FROM autotune_trials WHERE trial_id = ?`, trialID).Scan(&s); err != nil {
		return "", fmt.Errorf("read trial result: %w", err)
	}
	return s, nil
}

// Running returns, by config key, the number of every trial of the study that is running now (by any worker).
func (db *DB) Running(studyID int) (map[string]int, error) {
	rows, err := db.query(`SELECT config_key, number FROM autotune_trials WHERE study_id = ? AND state = ?`,
		studyID, StateRunning)
	if err != nil {
		return nil, fmt.Errorf("list running trials: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var key string
		var n int
		if err := rows.Scan(&key, &n); err != nil {
			return nil, fmt.Errorf("list running trials: %w", err)
		}
		key = db.decodeKey(key)
		out[key] = n
	}
	return out, rows.Err()
}

// Param is one sampled parameter of a trial in goptuna's terms.
type Param struct {
	Name         string
	Value        float64 // goptuna's internal representation
	Distribution interface{}
}

// SetParams records a trial's sampled parameters in goptuna's table in one transaction (goptuna's own
// SetTrialParam commits each one: a dozen disk syncs per trial on SQLite).
func (db *DB) SetParams(trialID int, params []Param) error {
	tx, err := db.sql.Begin()
	if err != nil {
		return fmt.Errorf("record params: %w", err)
	}
	defer tx.Rollback()
	if err := db.insertParams(tx, trialID, params); err != nil {
		return err
	}
	return tx.Commit()
}

func (db *DB) insertParams(x execer, trialID int, params []Param) error {
	for _, p := range params {
		js, err := goptuna.DistributionToJSON(p.Distribution)
		if err != nil {
			return fmt.Errorf("record param %s: %w", p.Name, err)
		}
		if _, err := x.Exec(db.rebind(`INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES (?,?,?,?)`),
			trialID, p.Name, p.Value, string(js)); err != nil {
			return fmt.Errorf("record param %s: %w", p.Name, err)
		}
	}
	return nil
}

// ErrFinished is returned by Finish when goptuna's trial was already finished (by another worker that judged
// its owner dead, say): nothing was written.
var ErrFinished = errors.New("trial already finished")

// Finish records a finished trial in one transaction: autotune's record t, then goptuna's value and state
// (state is goptuna's COMPLETE, FAIL or PRUNED; value counts only for COMPLETE). It fails with ErrFinished,
// writing nothing, when goptuna's trial is no longer running or waiting.
func (db *DB) Finish(t Trial, state goptuna.TrialState, value float64) error {
	word := map[goptuna.TrialState]string{goptuna.TrialStateComplete: "COMPLETE", goptuna.TrialStateFail: "FAIL",
		goptuna.TrialStatePruned: "PRUNED"}[state]
	if word == "" {
		return fmt.Errorf("finish trial %d: state %v is not a finished state", t.Number, state)
	}
	tx, err := db.sql.Begin()
	if err != nil {
		return fmt.Errorf("record trial %d: %w", t.Number, err)
	}
	defer tx.Rollback()
	q := `UPDATE trials SET state = ?, datetime_complete = ? WHERE trial_id = ? AND state IN ('RUNNING', 'WAITING')`
	args := []any{word, time.Now(), t.TrialID}
	if state == goptuna.TrialStateComplete {
		q = `UPDATE trials SET state = ?, datetime_complete = ?, value = ? WHERE trial_id = ? AND state IN ('RUNNING', 'WAITING')`
		args = []any{word, time.Now(), value, t.TrialID}
	}
	res, err := tx.Exec(db.rebind(q), args...)
	if err != nil {
		return fmt.Errorf("record trial %d state: %w", t.Number, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("record trial %d state: %w", t.Number, err)
	} else if n == 0 {
		return fmt.Errorf("trial %d: %w", t.Number, ErrFinished)
	}
	if err := db.putTrial(tx, t); err != nil {
		return err
	}
	return tx.Commit()
}

// Measurements returns the study's complete, non-duplicate trials with only what ranking them needs (number,
// label, config key, objective, feasibility): one light query, for the best-so-far of every progress line and
// the confirmation phase, instead of every record with its logs and benchmark JSON.
func (db *DB) Measurements(studyID int) ([]Trial, error) {
	rows, err := db.query(`SELECT trial_id, number, label, config_key, objective, feasible FROM autotune_trials
		WHERE study_id = ? AND state = ? AND duplicate_of IS NULL AND objective IS NOT NULL ORDER BY number`,
		studyID, StateComplete)
	if err != nil {
		return nil, fmt.Errorf("list measurements: %w", err)
	}
	defer rows.Close()
	var out []Trial
	for rows.Next() {
		t := Trial{StudyID: studyID, State: StateComplete}
		var objective float64
		var feasible int
		if err := rows.Scan(&t.TrialID, &t.Number, &t.Label, &t.ConfigKey, &objective, &feasible); err != nil {
			return nil, fmt.Errorf("list measurements: %w", err)
		}
		t.ConfigKey = db.decodeKey(t.ConfigKey)
		t.Objective, t.Feasible = &objective, feasible != 0
		out = append(out, t)
	}
	return out, rows.Err()
}
