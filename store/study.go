package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Study is autotune's record of a study: what it measures and on what. goptuna's study row of the same ID holds
// the direction and the trials.
type Study struct {
	ID               int
	Name             string
	CreatedAt        time.Time
	Model            string
	WorkloadJSON     string // the benchmark workload, as JSON
	SLAJSON          string // the SLA limits, as JSON
	Sampler          string
	Seed             int64
	Simulated        bool
	SpaceFingerprint string
	SpaceJSON        string
	VLLMVersion      string
	GPU              string
	AutotuneVersion  string
}

// ErrNoStudy is returned when the database holds no study of that name.
var ErrNoStudy = errors.New("no study")

// CreateStudy records s for the goptuna study s.ID.
func (db *DB) CreateStudy(s Study) error {
	_, err := db.exec(`INSERT INTO autotune_studies (study_id, name, created_at, model, workload_json, sla_json,
		sampler, seed, simulated, space_fingerprint, space_json, vllm_version, gpu, autotune_version)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		s.ID, s.Name, s.CreatedAt.UTC().Format(time.RFC3339), s.Model, s.WorkloadJSON, s.SLAJSON, s.Sampler, s.Seed,
		b2i(s.Simulated), s.SpaceFingerprint, s.SpaceJSON, s.VLLMVersion, s.GPU, s.AutotuneVersion)
	if err != nil {
		return db.ExplainFull(fmt.Errorf("record study %q: %w", s.Name, err))
	}
	return nil
}

// StudyByName returns the study called name, or ErrNoStudy.
func (db *DB) StudyByName(name string) (Study, error) {
	return db.scanStudy(db.queryRow(studySelect+` WHERE name = ?`, name))
}

// Studies returns every study in the database, oldest first.
func (db *DB) Studies() ([]Study, error) {
	rows, err := db.query(studySelect + ` ORDER BY study_id`)
	if err != nil {
		return nil, fmt.Errorf("list studies: %w", err)
	}
	defer rows.Close()
	var out []Study
	for rows.Next() {
		s, err := db.scanStudy(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

const studySelect = `SELECT study_id, name, created_at, model, workload_json, sla_json, sampler, seed, simulated,
	space_fingerprint, space_json, vllm_version, gpu, autotune_version FROM autotune_studies`

type scanner interface{ Scan(dest ...any) error }

func (db *DB) scanStudy(row scanner) (Study, error) {
	var s Study
	var created string
	var simulated int
	err := row.Scan(&s.ID, &s.Name, &created, &s.Model, &s.WorkloadJSON, &s.SLAJSON, &s.Sampler, &s.Seed,
		&simulated, &s.SpaceFingerprint, &s.SpaceJSON, &s.VLLMVersion, &s.GPU, &s.AutotuneVersion)
	if errors.Is(err, sql.ErrNoRows) {
		return Study{}, ErrNoStudy
	}
	if err != nil {
		return Study{}, fmt.Errorf("read study: %w", err)
	}
	s.Simulated = simulated != 0
	s.CreatedAt, _ = time.Parse(time.RFC3339, created)
	return s, nil
}
