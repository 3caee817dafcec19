package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/c-bata/goptuna"
)

// goptuna's tables hold the sampler's view of a study: its direction, every trial's state, value, internal
// parameter values and intermediate values. The methods here are the only way in: goptuna's storage API stays
// inside this package (cachedStorage), so that a caller names what it does instead of driving a storage.

// LabelAttr is the goptuna system attribute that carries a trial's label before autotune's record of it exists
// (a queued trial; report reads it).
const LabelAttr = "autotune:label"

// paramsAttr is the system attribute that carries a queued trial's values. Schema version 2 and earlier used
// goptuna's own "fixed_params" (goptuna's EnqueueTrial spelling), which migrate renames.
const paramsAttr = "autotune:params"

// NewStudy creates goptuna's study called name, maximising, and returns its ID; autotune's record of it
// (CreateStudy) follows. It fails when the name is taken.
func (db *DB) NewStudy(name string) (int, error) {
	id, err := db.storage.CreateNewStudy(name)
	if err != nil {
		return 0, db.ExplainFull(fmt.Errorf("create study %q: %w", name, err))
	}
	if err := db.storage.SetStudyDirection(id, goptuna.StudyDirectionMaximize); err != nil {
		return 0, db.ExplainFull(fmt.Errorf("create study %q: %w", name, err))
	}
	return id, nil
}

// GoptunaTrials returns goptuna's trials of a study, by trial ID: the source of truth for trial states and the
// values the sampler was told. Finished trials come from a cache (cache.go).
func (db *DB) GoptunaTrials(studyID int) ([]goptuna.FrozenTrial, error) {
	ts, err := db.storage.GetAllTrials(studyID)
	if err != nil {
		return nil, fmt.Errorf("read the trials of study %d: %w", studyID, err)
	}
	return ts, nil
}

// TrialParams returns a trial's parameter values in goptuna's internal representation.
func (db *DB) TrialParams(trialID int) (map[string]float64, error) {
	ft, err := db.storage.GetTrial(trialID)
	if err != nil {
		return nil, fmt.Errorf("read trial %d: %w", trialID, err)
	}
	return ft.InternalParams, nil
}

// Queued is a trial waiting in a study's queue: where it comes from and the parameter values it will run with
// (goptuna's internal representation; a parameter without a value is drawn when the trial starts).
type Queued struct {
	Label  string
	Params map[string]float64
}

// Enqueue adds a waiting trial to the study, with its label and values in the same transaction: another worker
// may start it the moment it exists, and must see where it came from.
func (db *DB) Enqueue(studyID int, q Queued) error {
	params := q.Params
	if params == nil {
		params = map[string]float64{}
	}
	js, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", q.Label, err)
	}
	_, err = db.storage.CloneTrial(studyID, goptuna.FrozenTrial{
		State: goptuna.TrialStateWaiting, DatetimeStart: time.Now(),
		InternalParams: map[string]float64{}, Params: map[string]interface{}{}, Distributions: map[string]interface{}{},
		UserAttrs: map[string]string{}, IntermediateValues: map[int]float64{},
		SystemAttrs: map[string]string{paramsAttr: string(js), LabelAttr: q.Label},
	})
	if err != nil {
		return db.ExplainFull(fmt.Errorf("enqueue %s: %w", q.Label, err))
	}
	return nil
}

// QueuedOf reads the label and values that Enqueue gave a trial (nothing for a trial that was not queued).
func QueuedOf(ft goptuna.FrozenTrial) (Queued, error) {
	q := Queued{Label: ft.SystemAttrs[LabelAttr], Params: map[string]float64{}}
	if js := ft.SystemAttrs[paramsAttr]; js != "" {
		if err := json.Unmarshal([]byte(js), &q.Params); err != nil {
			return Queued{}, fmt.Errorf("queued trial %d: its values: %w", ft.Number, err)
		}
	}
	return q, nil
}

// SetIntermediateValue records a running trial's value at a step (a pruned trial's projections).
func (db *DB) SetIntermediateValue(trialID, step int, value float64) error {
	if err := db.storage.SetTrialIntermediateValue(trialID, step, value); err != nil {
		return db.ExplainFull(fmt.Errorf("record trial %d at step %d: %w", trialID, step, err))
	}
	return nil
}

// FailTrial marks a running trial failed in goptuna's table (after an error of the caller's, before anything
// else was recorded).
func (db *DB) FailTrial(trialID int) error {
	if err := db.storage.SetTrialState(trialID, goptuna.TrialStateFail); err != nil {
		return db.ExplainFull(fmt.Errorf("fail trial %d: %w", trialID, err))
	}
	return nil
}
