package store

import (
	"fmt"
	"sync"

	"github.com/c-bata/goptuna"
)

// cachedStorage is goptuna's RDB storage with a cache of finished trials. goptuna's samplers read the whole
// study (GetAllTrials: five queries that load every trial with its params and attributes) for every parameter
// they draw; at trial 1,000 that is tens of thousands of rows per proposal. A finished trial (complete, pruned
// or failed) can no longer change in goptuna's storage, so it is read once and kept: GetAllTrials then reads
// only the list of trial IDs and states, and loads just the trials that are new or still running or waiting
// (at most a few per worker). The cache is per process; other workers' trials reach it through that list.
type cachedStorage struct {
	goptuna.Storage
	db *DB

	mu       sync.Mutex
	finished map[int]goptuna.FrozenTrial // by trial ID
}

func newCachedStorage(inner goptuna.Storage, db *DB) *cachedStorage {
	return &cachedStorage{Storage: inner, db: db, finished: map[int]goptuna.FrozenTrial{}}
}

// goptuna's words for trial states in its trials table.
var finishedStates = map[string]bool{"COMPLETE": true, "PRUNED": true, "FAIL": true}

// GetAllTrials implements goptuna.Storage: every trial of the study, by trial ID, as goptuna's storage returns
// them.
func (c *cachedStorage) GetAllTrials(studyID int) ([]goptuna.FrozenTrial, error) {
	rows, err := c.db.query(`SELECT trial_id, state FROM trials WHERE study_id = ? ORDER BY trial_id`, studyID)
	if err != nil {
		return nil, fmt.Errorf("list trials: %w", err)
	}
	type idState struct {
		id    int
		state string
	}
	var list []idState
	for rows.Next() {
		var r idState
		if err := rows.Scan(&r.id, &r.state); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list trials: %w", err)
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list trials: %w", err)
	}
	out := make([]goptuna.FrozenTrial, 0, len(list))
	for _, r := range list {
		c.mu.Lock()
		ft, ok := c.finished[r.id]
		c.mu.Unlock()
		if !ok {
			ft, err = c.Storage.GetTrial(r.id)
			if err != nil {
				return nil, err
			}
			if ft.State.IsFinished() && finishedStates[r.state] {
				c.mu.Lock()
				c.finished[r.id] = ft
				c.mu.Unlock()
			}
		}
		out = append(out, ft)
	}
	return out, nil
}

// GetTrial implements goptuna.Storage, from the cache when the trial is finished.
func (c *cachedStorage) GetTrial(trialID int) (goptuna.FrozenTrial, error) {
	c.mu.Lock()
	ft, ok := c.finished[trialID]
	c.mu.Unlock()
	if ok {
		return ft, nil
	}
	return c.Storage.GetTrial(trialID)
}
