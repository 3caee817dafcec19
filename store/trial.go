package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
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

	StartedAt, FinishedAt time.Time
}

// PutTrial inserts or replaces the record of t.TrialID. It commits before it returns.
func (db *DB) PutTrial(t Trial) error {
	params, _ := json.Marshal(orEmptyMap(t.Params))
	args, _ := json.Marshal(orEmptySlice(t.Args))
	env, _ := json.Marshal(orEmptyMap(t.Env))
	serve, _ := json.Marshal(orEmptySlice(t.ServeArgv))
	bench, _ := json.Marshal(orEmptySlice(t.BenchArgv))
	_, err := db.sql.Exec(`INSERT OR REPLACE INTO autotune_trials (trial_id, study_id, number, state, label,
		config_key, params_json, args_json, env_json, model, serve_argv_json, bench_argv_json, bench_json, feasible,
		objective, violation, failure, message, log_tail, startup_s, benchmark_s, teardown_s, server_log, bench_log,
		bench_path, duplicate_of, owner_host, owner_pid, server_pid, server_pgid, server_start, server_host,
		server_port, server_token, started_at, finished_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		t.TrialID, t.StudyID, t.Number, t.State, t.Label, t.ConfigKey, string(params), string(args), string(env),
		t.Model, string(serve), string(bench), t.BenchJSON, t.Feasible, t.Objective, t.Violation, t.Failure,
		t.Message, t.LogTail, t.Startup.Seconds(), t.Benchmark.Seconds(), t.Teardown.Seconds(), t.ServerLog,
		t.BenchLog, t.BenchPath, t.DuplicateOf, t.OwnerHost, t.OwnerPID, t.ServerPID, t.ServerPGID,
		int64(t.ServerStart), t.ServerHost, t.ServerPort, t.ServerToken, formatTime(t.StartedAt), formatTime(t.FinishedAt))
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
	_, err := db.sql.Exec(`UPDATE autotune_trials SET server_pid = ?, server_pgid = ?, server_start = ?,
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
	rows, err := db.sql.Query(trialSelect+` WHERE study_id = ? ORDER BY number`, studyID)
	if err != nil {
		return nil, fmt.Errorf("list trials: %w", err)
	}
	defer rows.Close()
	var out []Trial
	for rows.Next() {
		t, err := scanTrial(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// TrialByNumber returns the record of trial number n, or ErrNoTrial.
func (db *DB) TrialByNumber(studyID, n int) (Trial, error) {
	t, err := scanTrial(db.sql.QueryRow(trialSelect+` WHERE study_id = ? AND number = ?`, studyID, n))
	if errors.Is(err, sql.ErrNoRows) {
		return Trial{}, ErrNoTrial
	}
	return t, err
}

// TrialByID returns the record of goptuna trial id, or ErrNoTrial.
func (db *DB) TrialByID(trialID int) (Trial, error) {
	t, err := scanTrial(db.sql.QueryRow(trialSelect+` WHERE trial_id = ?`, trialID))
	if errors.Is(err, sql.ErrNoRows) {
		return Trial{}, ErrNoTrial
	}
	return t, err
}

const trialSelect = `SELECT trial_id, study_id, number, state, label, config_key, params_json, args_json, env_json,
	model, serve_argv_json, bench_argv_json, bench_json, feasible, objective, violation, failure, message, log_tail,
	startup_s, benchmark_s, teardown_s, server_log, bench_log, bench_path, duplicate_of, owner_host, owner_pid,
	server_pid, server_pgid, server_start, server_host, server_port, server_token, started_at, finished_at
	FROM autotune_trials`

func scanTrial(row scanner) (Trial, error) {
	var t Trial
	var params, args, env, serve, bench, started, finished string
	var startup, benchmark, teardown float64
	var objective sql.NullFloat64
	var dup sql.NullInt64
	var serverStart int64
	err := row.Scan(&t.TrialID, &t.StudyID, &t.Number, &t.State, &t.Label, &t.ConfigKey, &params, &args, &env,
		&t.Model, &serve, &bench, &t.BenchJSON, &t.Feasible, &objective, &t.Violation, &t.Failure, &t.Message,
		&t.LogTail, &startup, &benchmark, &teardown, &t.ServerLog, &t.BenchLog, &t.BenchPath, &dup, &t.OwnerHost,
		&t.OwnerPID, &t.ServerPID, &t.ServerPGID, &serverStart, &t.ServerHost, &t.ServerPort, &t.ServerToken, &started, &finished)
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
