package tuner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
)

const (
	// maxHarnessInARow stops the study when the harness fails this many trials in a row.
	maxHarnessInARow = 3
	// exploreAfterDuplicates switches to random draws after this many duplicates in a row.
	exploreAfterDuplicates = 3
	// maxDuplicatesInARow stops the study when this many trials in a row found only measured configs, each after
	// maxDraws draws in memory.
	maxDuplicatesInARow = 10
)

// Run runs trials until the study has Options.Trials finished trials, the context is cancelled, or the time
// budget says the next trial cannot finish. Every finished trial is committed before the next one starts.
func (t *Tuner) Run(ctx context.Context) (Summary, error) {
	t.started = t.opts.Now()
	if err := t.open(); err != nil {
		return Summary{}, err
	}
	defer func() { _ = t.db.Unregister(t.worker()) }()
	stopBeat := t.heartbeat()
	defer stopBeat()
	sum := Summary{StudyID: t.studyID}
	var err error
	t.announce()
	if err = t.stopOrphans(ctx); err != nil {
		return sum, err
	}
	if t.finishedAtStart, err = t.finished(); err != nil {
		return sum, err
	}
	harnessInARow, dupInARow := 0, 0
	var durations []time.Duration
	for {
		if err := t.reap(ctx); err != nil {
			return sum, err
		}
		finished, err := t.finished()
		if err != nil {
			return sum, err
		}
		sum.Finished = finished
		if finished >= t.opts.Trials {
			return sum, nil
		}
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		if t.opts.TimeBudget > 0 && len(durations) > 0 {
			left := t.opts.TimeBudget - t.opts.Now().Sub(t.started)
			if need := longest(durations); left < need {
				sum.Stopped = fmt.Sprintf("time budget: %s left, a trial takes up to %s",
					left.Round(time.Second), need.Round(time.Second))
				return sum, nil
			}
		}
		if t.opts.Preflight != nil {
			if err := t.opts.Preflight(); err != nil {
				return sum, err
			}
		}
		if err := t.queueRepeat(finished); err != nil {
			return sum, err
		}
		if err := t.queueLocal(finished); err != nil {
			return sum, err
		}
		// A slot: finished trials plus the trials other workers run must stay below --trials, so that the study
		// ends at exactly that count. Without one, wait: another worker's trial may still fail.
		claimed, err := t.db.ClaimSlot(t.studyID, t.worker(), t.opts.Trials)
		if errors.Is(err, store.ErrNoWorker) {
			if err := t.rejoin(); err != nil {
				return sum, err
			}
			continue
		}
		if err != nil {
			return sum, err
		}
		if !claimed {
			if err := sleep(ctx, t.opts.PollEvery); err != nil {
				return sum, err
			}
			continue
		}
		began := t.opts.Now()
		// After a few duplicates in a row the sampler is stuck on measured configs (TPE can propose the same
		// point again and again): draw the next trial at random instead.
		out, err := t.runOne(ctx, finished, dupInARow >= exploreAfterDuplicates)
		if rerr := t.db.ReleaseSlot(t.worker()); rerr != nil && err == nil {
			err = rerr
		}
		if errors.Is(err, store.ErrFinished) {
			fmt.Fprintf(t.opts.Progress, "%v: another worker failed it and queued it again while it ran (this worker "+
				"was silent for longer than %s); its result is dropped\n", err, t.opts.HeartbeatTimeout)
			continue
		}
		if err != nil {
			return sum, err
		}
		switch {
		case out.busy:
			if err := sleep(ctx, t.opts.PollEvery); err != nil {
				return sum, err
			}
			continue
		case out.duplicate:
			dupInARow++
			if dupInARow >= maxDuplicatesInARow {
				sum.Stopped = fmt.Sprintf("%d proposals in a row (%d draws each) found only measured configs: the space looks exhausted", dupInARow, maxDraws)
				return sum, nil
			}
			continue
		case out.interrupted:
			return sum, ctx.Err()
		case out.class == runner.PlatformUnusable:
			return sum, fmt.Errorf("%w: %s", ErrPlatformUnusable, out.message)
		case out.baseline && out.evidence && out.class != runner.OK:
			return sum, fmt.Errorf("%w (%s): %s", ErrBaselineFailed, out.class, out.message)
		case !out.evidence:
			harnessInARow++
			if harnessInARow >= maxHarnessInARow {
				return sum, fmt.Errorf("%w: %d trials in a row failed for reasons that are not the config's; last: %s",
					ErrHarness, harnessInARow, out.message)
			}
		default:
			harnessInARow = 0
		}
		dupInARow = 0
		durations = append(durations, t.opts.Now().Sub(began))
	}
}

// DefaultHeartbeatEvery is how often a worker refreshes its heartbeat, so that a worker on another host (a reset
// Colab VM) can tell a dead worker from a live one within minutes.
const DefaultHeartbeatEvery = 20 * time.Second

// DefaultHeartbeatTimeout is how long a worker on another host may stay silent before its trial is taken over.
const DefaultHeartbeatTimeout = 2 * time.Minute

// worker is this worker's ID.
func (t *Tuner) worker() int { return int(t.workerID.Load()) }

// heartbeat refreshes this worker's heartbeat in the background until the returned function is called.
func (t *Tuner) heartbeat() (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(t.opts.HeartbeatEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_ = t.db.Beat(t.worker())
			}
		}
	}()
	return func() { close(done); <-finished }
}

// rejoin registers this worker again after another worker took it for dead (it was silent too long: a
// suspended VM, a stalled disk) and failed its trial.
func (t *Tuner) rejoin() error {
	old := t.worker()
	w, err := t.db.Register(t.studyID, t.opts.Owner, t.opts.WorkerLabel)
	if err != nil {
		return err
	}
	t.workerID.Store(int64(w.ID))
	fmt.Fprintf(t.opts.Progress, "worker %d was taken for dead by another worker (no heartbeat for %s); it goes on as worker %d\n",
		old, t.opts.HeartbeatTimeout, w.ID)
	return nil
}

func longest(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		if d > m {
			m = d
		}
	}
	return m
}

// finished counts the trials that count toward --trials: complete ones that are not duplicates.
func (t *Tuner) finished() (int, error) { return t.db.FinishedCount(t.studyID) }

// outcome is what one pass of the loop did.
type outcome struct {
	duplicate, interrupted, evidence bool
	baseline                         bool         // the trial ran vLLM's defaults
	class                            runner.Class // the runner's verdict
	// busy: nothing could start now (every candidate config is running on another worker, or another worker
	// took the queued trial first).
	busy    bool
	message string
}

// runOne chooses the next trial, runs it to its end and records it.
func (t *Tuner) runOne(ctx context.Context, finishedBefore int, useExplorer bool) (outcome, error) {
	c, err := t.choose(useExplorer)
	if err != nil {
		return outcome{}, err
	}
	if c.busy {
		return outcome{busy: true}, nil
	}
	cfg := c.prop.cfg
	rec := store.Trial{
		StudyID: t.studyID, State: store.StateRunning, Label: cfg.Label,
		ConfigKey: cfg.Key(), Params: cfg.Params, Args: cfg.Args, Env: cfg.Env, Model: cfg.Model,
		OwnerHost: t.opts.Owner.Host, OwnerPID: t.opts.Owner.PID, StartedAt: t.opts.Now(), WorkerID: t.worker(),
	}
	// Where its logs go, so that `autotune show` of the running trial can point at them.
	logs := func(r *store.Trial) { r.ServerLog, r.BenchLog, r.BenchPath = runner.Files(t.trialDir(r.Number)) }
	if c.dup != nil {
		logs = nil
	}
	rec, err = t.db.StartTrial(c.waitingID, c.prop.params(), rec, logs)
	if errors.Is(err, store.ErrConfigRunning) || errors.Is(err, store.ErrTaken) {
		return outcome{busy: true}, nil // another worker was a moment faster; choose again
	}
	if err != nil {
		return outcome{}, err
	}
	id, number := rec.TrialID, rec.Number

	// A config already measured is not run again: the sampler is told the earlier value. Repeats (the
	// confirmation phase) exist to measure it again.
	if prev := c.dup; prev != nil {
		n := prev.Number
		rec.DuplicateOf = &n
		rec.State = store.StateComplete
		rec.Feasible = prev.Feasible
		rec.Violation = prev.Violation
		rec.Failure = prev.Failure
		rec.Message = fmt.Sprintf("same command line as trial %d; not run again", n)
		if rec.BenchJSON, err = t.db.BenchJSONOf(prev.TrialID); err != nil {
			return outcome{}, t.failTrial(id, err)
		}
		rec.FinishedAt = t.opts.Now()
		if err := t.tell(id, rec, goptuna.TrialStateComplete, prev.Objective); err != nil {
			return outcome{}, err
		}
		fmt.Fprintf(t.opts.Progress, "trial %d: same flags as trial %d, reusing its result\n", number, n)
		return outcome{duplicate: true, evidence: true}, nil
	}

	model := cfg.Model
	prune, err := t.pruneRule(cfg.Label)
	if err != nil {
		return outcome{}, t.failTrial(id, err)
	}
	stopWatch := t.watchPhases(number, t.trialDir(number), typical(t.benchDurations))
	res := t.runner.Run(ctx, runner.Trial{
		Number: number, Dir: t.trialDir(number), Model: model, Args: cfg.Args, Env: cfg.Env,
		Workload: t.opts.Workload, Prune: prune,
		OnStart: func(p runner.Process) {
			_ = t.db.SetServer(id, store.Server{PID: p.PID, PGID: p.PGID, Start: p.StartTicks, Host: p.Host, Port: p.Port, Token: p.Token})
		},
	})
	stopWatch()
	if res.Benchmark > 0 {
		t.benchDurations = append(t.benchDurations, res.Benchmark)
	}
	score := Evaluate(res, t.opts.SLA)
	fillResult(&rec, res, score)
	rec.FinishedAt = t.opts.Now()

	out := outcome{evidence: score.Evidence, message: res.Message, class: res.Class, baseline: cfg.Label == report.BaselineLabel}
	switch {
	case res.Class == runner.Interrupted || (ctx.Err() != nil && !score.Evidence):
		rec.State = store.StateFailed
		rec.Failure = string(runner.Interrupted)
		if err := t.tell(id, rec, goptuna.TrialStateFail, 0); err != nil {
			return outcome{}, err
		}
		if err := t.requeue(id, cfg.Label, number); err != nil {
			return outcome{}, err
		}
		if report.IsRepeat(cfg.Label) {
			fmt.Fprintf(t.opts.Progress, "trial %d: interrupted; the confirmation runs choose again when the study resumes\n", number)
		} else {
			fmt.Fprintf(t.opts.Progress, "trial %d: interrupted; its config runs first when the study resumes\n", number)
		}
		out.interrupted = true
		return out, nil
	case !score.Evidence:
		rec.State = store.StateFailed
		if err := t.tell(id, rec, goptuna.TrialStateFail, 0); err != nil {
			return outcome{}, err
		}
		if !report.IsRetry(cfg.Label) {
			if err := t.requeue(id, cfg.Label, number); err != nil {
				return outcome{}, err
			}
		}
	case res.Class == runner.Pruned:
		rec.State = store.StatePruned
		if err := t.tellPruned(id, rec, res, score.Value); err != nil {
			return outcome{}, err
		}
	default:
		rec.State = store.StateComplete
		if err := t.tell(id, rec, goptuna.TrialStateComplete, score.Value); err != nil {
			return outcome{}, err
		}
	}
	t.progress(rec, res, finishedBefore)
	if t.opts.AfterTrial != nil {
		t.opts.AfterTrial()
	}
	return out, nil
}

// requeue enqueues the params of trial id to run again, first. A repeat is not requeued: the confirmation
// phase chooses what to re-measure afresh before every trial.
func (t *Tuner) requeue(id int, label string, number int) error {
	if report.IsRepeat(label) {
		return nil
	}
	params, err := t.trials.TrialParams(id)
	if err != nil {
		return fmt.Errorf("requeue trial %d: %w", number, err)
	}
	newLabel := report.RetryLabel(number)
	if label == report.BaselineLabel {
		newLabel = report.BaselineLabel // the baseline keeps its role: it is not sampled
	}
	return t.enqueue(params, newLabel)
}

// tell records the finished trial in autotune's table and goptuna's, in one transaction.
func (t *Tuner) tell(id int, rec store.Trial, state goptuna.TrialState, value float64) error {
	if state == goptuna.TrialStateComplete {
		v := value
		rec.Objective = &v
	}
	rec.TrialID = id
	return t.db.Finish(rec, state, value)
}

// failTrial marks a trial failed in goptuna after an error of ours, and returns the error.
func (t *Tuner) failTrial(id int, cause error) error {
	_ = t.trials.FailTrial(id)
	return cause
}

// fillResult copies a runner result and its score into a trial record.
func fillResult(rec *store.Trial, res runner.Result, s Score) {
	rec.ServeArgv = res.ServeArgv
	rec.BenchArgv = res.BenchArgv
	rec.Failure = string(res.Class)
	rec.Message = res.Message
	rec.LogTail = res.LogTail
	rec.Startup, rec.Benchmark, rec.Teardown = res.Startup, res.Benchmark, res.Teardown
	rec.ServerLog, rec.BenchLog, rec.BenchPath = res.ServerLog, res.BenchLog, res.BenchJSON
	rec.Feasible = s.Feasible
	rec.Violation = s.Violation
	if res.Bench != nil {
		rec.BenchJSON = res.Bench.JSON()
	}
	if res.Process.PID != 0 {
		rec.ServerPID, rec.ServerPGID = res.Process.PID, res.Process.PGID
		rec.ServerStart, rec.ServerHost, rec.ServerPort = res.Process.StartTicks, res.Process.Host, res.Process.Port
		rec.ServerToken = res.Process.Token
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
