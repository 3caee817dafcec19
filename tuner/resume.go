package tuner

import (
	"context"
	"errors"
	"fmt"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
)

// recoverStale settles trials that a previous autotune left running. We hold the study's lock, so no live
// process owns them. A trial whose result was recorded by us but not yet told to goptuna is completed from our
// record; any other is failed as interrupted, its server stopped if it is still there, and its config enqueued.
func (t *Tuner) recoverStale(ctx context.Context) error {
	trials, err := t.study.GetTrials()
	if err != nil {
		return fmt.Errorf("read study: %w", err)
	}
	for _, ft := range trials {
		if ft.State != goptuna.TrialStateRunning {
			continue
		}
		rec, err := t.db.TrialByID(ft.ID)
		switch {
		case errors.Is(err, store.ErrNoTrial):
			rec = store.Trial{TrialID: ft.ID, StudyID: t.study.ID, Number: ft.Number, Label: ft.SystemAttrs[report.LabelAttr]}
		case err != nil:
			return err
		}
		if rec.State == store.StateComplete && rec.Objective != nil {
			if err := t.tell(ft.ID, rec, goptuna.TrialStateComplete, *rec.Objective); err != nil {
				return err
			}
			continue
		}
		if rec.State == store.StateFailed {
			if err := t.db.Storage.SetTrialState(ft.ID, goptuna.TrialStateFail); err != nil {
				return fmt.Errorf("settle trial %d: %w", ft.Number, err)
			}
			continue
		}
		msg := "interrupted: the autotune that ran it is gone"
		if rec.ServerPID != 0 && t.opts.StopStale != nil {
			stopped, err := t.opts.StopStale(ctx, runner.Process{
				PID: rec.ServerPID, PGID: rec.ServerPGID, StartTicks: rec.ServerStart,
				Host: rec.ServerHost, Port: rec.ServerPort, Token: rec.ServerToken,
			})
			if err != nil {
				return fmt.Errorf("stop the server left by trial %d (pid %d): %w", ft.Number, rec.ServerPID, err)
			}
			if stopped {
				msg += fmt.Sprintf("; stopped its leftover server (pid %d)", rec.ServerPID)
				fmt.Fprintf(t.opts.Progress, "trial %d: stopped the vLLM server (pid %d) left by an earlier run\n",
					ft.Number, rec.ServerPID)
			}
		}
		rec.State = store.StateFailed
		rec.Failure = string(runner.Interrupted)
		rec.Message = msg
		if rec.FinishedAt.IsZero() {
			rec.FinishedAt = t.opts.Now()
		}
		if err := t.tell(ft.ID, rec, goptuna.TrialStateFail, 0); err != nil {
			return err
		}
		if err := t.requeue(ft.ID, rec.Label, ft.Number); err != nil {
			return err
		}
		fmt.Fprintf(t.opts.Progress, "trial %d was interrupted in an earlier run; its config runs again first\n", ft.Number)
	}
	return nil
}
