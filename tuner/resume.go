package tuner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
)

// deadWhy says why a registered worker is dead, or "" while it counts as alive: taken over by name
// (Options.Takeover), its process gone from this host, or silent for longer than the heartbeat timeout.
func (t *Tuner) deadWhy(w store.Worker) string {
	switch {
	case w.ID == t.worker():
		return ""
	case slices.Contains(t.opts.Takeover, w.Owner.Host):
		return fmt.Sprintf("host %s taken over with --takeover", w.Owner.Host)
	case w.Owner.Host == t.opts.Owner.Host && t.opts.ProcessGone != nil && t.opts.ProcessGone(w.Owner):
		return fmt.Sprintf("its process (pid %d) is gone", w.Owner.PID)
	case w.Silent > t.opts.HeartbeatTimeout:
		return fmt.Sprintf("no heartbeat for %s (timeout %s)", w.Silent.Round(time.Second), t.opts.HeartbeatTimeout)
	}
	return ""
}

// announce tells who else works on the study.
func (t *Tuner) announce() {
	workers, err := t.db.Workers(t.studyID)
	if err != nil {
		return
	}
	var others []string
	for _, w := range workers {
		if w.ID != t.worker() && t.deadWhy(w) == "" {
			others = append(others, describe(w))
		}
	}
	if len(others) > 0 {
		fmt.Fprintf(t.opts.Progress, "worker %d joins %d other worker(s) on this study: %s\n", t.worker(), len(others),
			strings.Join(others, "; "))
	}
}

func describe(w store.Worker) string {
	s := fmt.Sprintf("worker %d (pid %d on %s", w.ID, w.Owner.PID, w.Owner.Host)
	if w.Label != "" {
		s += ", " + w.Label
	}
	return s + ")"
}

// reap settles the trials of dead workers, whoever notices first: each such trial is failed as interrupted
// (one transaction that only one worker can win), its server stopped if it ran on this host, and its config
// queued to run first again. Workers on other hosts are judged by their heartbeat; a silent one is reported
// once, with when it will be taken over.
func (t *Tuner) reap(ctx context.Context) error {
	workers, err := t.db.Workers(t.studyID)
	if err != nil {
		return err
	}
	live := map[int]bool{}
	dead := map[int]string{}
	for _, w := range workers {
		if why := t.deadWhy(w); why != "" {
			dead[w.ID] = why
			continue
		}
		live[w.ID] = true
		if w.ID != t.worker() && w.Busy && w.Silent > 2*t.opts.HeartbeatEvery && !t.warned[w.ID] {
			if t.warned == nil {
				t.warned = map[int]bool{}
			}
			t.warned[w.ID] = true
			at := time.Now().Add(t.opts.HeartbeatTimeout - w.Silent)
			fmt.Fprintf(t.opts.Progress, "%s has sent no heartbeat for %s; if it is gone, its trial is taken over "+
				"automatically at %s (after %s of silence), or now with --takeover %s\n",
				describe(w), w.Silent.Round(time.Second), at.Format("15:04:05"), t.opts.HeartbeatTimeout, w.Owner.Host)
		}
	}
	trials, err := t.trials.GoptunaTrials(t.studyID)
	if err != nil {
		return fmt.Errorf("read study: %w", err)
	}
	for _, ft := range trials {
		if ft.State != goptuna.TrialStateRunning {
			continue
		}
		rec, err := t.db.TrialByID(ft.ID)
		noRecord := errors.Is(err, store.ErrNoTrial)
		if err != nil && !noRecord {
			return err
		}
		var why string
		switch {
		case !noRecord && rec.WorkerID != 0:
			if live[rec.WorkerID] {
				continue
			}
			if why = dead[rec.WorkerID]; why == "" {
				why = "its worker is no longer registered"
			}
		case noRecord:
			// A worker creates goptuna's trial a moment before autotune's record of it.
			if age := time.Since(ft.DatetimeStart); age < t.opts.HeartbeatTimeout {
				continue
			}
			why = "started by a worker that never recorded it"
			rec = store.Trial{TrialID: ft.ID, StudyID: t.studyID, Number: ft.Number, Label: ft.SystemAttrs[store.LabelAttr]}
		default:
			// A trial from before workers (schema 1): its owner is a process.
			owner := store.Owner{Host: rec.OwnerHost, PID: rec.OwnerPID}
			switch {
			case owner.Host == t.opts.Owner.Host && owner.PID == t.opts.Owner.PID:
				continue
			case owner.Host == t.opts.Owner.Host && t.opts.ProcessGone != nil && t.opts.ProcessGone(owner):
				why = fmt.Sprintf("its process (pid %d) is gone", owner.PID)
			case time.Since(rec.StartedAt) > t.opts.HeartbeatTimeout:
				why = "the autotune that ran it is gone"
			default:
				continue
			}
		}
		if err := t.settle(ctx, ft, rec, why); err != nil {
			return err
		}
	}
	for id := range dead {
		_ = t.db.Unregister(id)
	}
	return nil
}

// settle fails a trial whose worker is gone and queues its config again.
func (t *Tuner) settle(ctx context.Context, ft goptuna.FrozenTrial, rec store.Trial, why string) error {
	if rec.State == store.StateComplete && rec.Objective != nil {
		// Recorded by autotune but not yet told to goptuna (schema 1 wrote the two apart).
		err := t.tell(ft.ID, rec, goptuna.TrialStateComplete, *rec.Objective)
		if errors.Is(err, store.ErrFinished) {
			return nil
		}
		return err
	}
	msg := "interrupted: " + why
	orphan := false
	if rec.ServerPID != 0 {
		switch {
		case rec.OwnerHost != "" && rec.OwnerHost != t.opts.Owner.Host:
			orphan = true
			msg += fmt.Sprintf("; its server (pid %d) is left for host %s to stop", rec.ServerPID, rec.OwnerHost)
		case t.opts.StopStale != nil:
			stopped, err := t.opts.StopStale(ctx, serverOf(rec))
			if err != nil {
				return fmt.Errorf("stop the server left by trial %d (pid %d): %w", ft.Number, rec.ServerPID, err)
			}
			if stopped {
				msg += fmt.Sprintf("; stopped its leftover server (pid %d)", rec.ServerPID)
				fmt.Fprintf(t.opts.Progress, "trial %d: stopped the vLLM server (pid %d) left by an earlier run that died\n",
					ft.Number, rec.ServerPID)
			}
		}
	}
	rec.Failure = string(runner.Interrupted)
	rec.Message = msg
	if rec.FinishedAt.IsZero() {
		rec.FinishedAt = t.opts.Now()
	}
	won, err := t.db.TakeOver(rec, orphan)
	if err != nil || !won {
		return err // !won: another worker was first
	}
	if err := t.requeue(ft.ID, rec.Label, ft.Number); err != nil {
		return err
	}
	fmt.Fprintf(t.opts.Progress, "trial %d was interrupted in an earlier run or by a dead worker (%s); its config runs again first\n",
		ft.Number, strings.TrimPrefix(msg, "interrupted: "))
	return nil
}

func serverOf(rec store.Trial) runner.Process {
	return runner.Process{PID: rec.ServerPID, PGID: rec.ServerPGID, StartTicks: rec.ServerStart,
		Host: rec.ServerHost, Port: rec.ServerPort, Token: rec.ServerToken}
}

// stopOrphans stops the servers that workers of this host left behind when they died and a worker on another
// host took their trials over: only the host that started a server may stop it.
func (t *Tuner) stopOrphans(ctx context.Context) error {
	orphans, err := t.db.Orphans(t.studyID, t.opts.Owner.Host)
	if err != nil {
		return err
	}
	for _, rec := range orphans {
		if t.opts.StopStale != nil {
			stopped, err := t.opts.StopStale(ctx, serverOf(rec))
			if err != nil {
				return fmt.Errorf("stop the server left by trial %d (pid %d): %w", rec.Number, rec.ServerPID, err)
			}
			if stopped {
				fmt.Fprintf(t.opts.Progress, "trial %d: stopped the vLLM server (pid %d) that a dead worker left on this host\n",
					rec.Number, rec.ServerPID)
			}
		}
		if err := t.db.ClearOrphan(rec.TrialID); err != nil {
			return err
		}
	}
	return nil
}
