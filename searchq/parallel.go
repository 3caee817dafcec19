package searchq

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/store"
	"github.com/autotune/autotune/tuner"
)

// pacedRunner is one worker's view of a shared SimRunner: it sleeps each trial's simulated GPU time divided by
// pace, so that workers finish trials in the order the simulated clock says, and adds that time up.
type pacedRunner struct {
	sr   *SimRunner
	pace float64
	busy float64 // simulated seconds
}

func (p *pacedRunner) Run(ctx context.Context, t runner.Trial) runner.Result {
	res := p.sr.Run(ctx, t)
	if c, ok := p.sr.Cost(t.Number); ok {
		p.busy += c.Seconds()
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(c.Seconds() / p.pace * float64(time.Second))):
		}
	}
	return res
}

// runWorkers runs one study with Opts.StudyWorkers tuners on db, as `autotune --gpus` does, and returns its
// makespan on the simulated clock.
func (x *Experiment) runWorkers(ctx context.Context, db *store.DB, sr *SimRunner, sampler string, seed int64, gpu string) (tuner.Summary, float64, error) {
	pace := x.Opts.Pace
	if pace <= 0 {
		pace = 500
	}
	n := x.Opts.StudyWorkers
	sums := make([]tuner.Summary, n)
	errs := make([]error, n)
	runners := make([]*pacedRunner, n)
	var wg sync.WaitGroup
	clock := fixedClock()
	for w := range n {
		runners[w] = &pacedRunner{sr: sr, pace: pace}
		t := tuner.New(db, runners[w], x.Space, tuner.Options{
			Trials: x.Opts.Trials, Sampler: sampler, Seed: seed, StartupTrials: x.Opts.StartupTrials, Confirm: x.Opts.Confirm,
			SLA: x.Eval.sla, Workload: x.Eval.workload, WorkDir: simWorkDir, Simulated: true,
			VLLMVersion: sim.VLLMVersion, GPU: gpu, SpaceJSON: x.Space.JSON(), WorkerLabel: fmt.Sprintf("GPU %d", w),
			Owner: store.Owner{Host: "searchq", PID: os.Getpid(), Start: 1}, PollEvery: 20 * time.Millisecond,
			Now: clock, Local: x.Opts.Local, LocalEvery: x.Opts.LocalEvery, Prune: x.Opts.Prune,
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[w], errs[w] = t.Run(ctx)
		}()
	}
	wg.Wait()
	makespan := 0.0
	for w := range n {
		if errs[w] != nil {
			return tuner.Summary{}, 0, errs[w]
		}
		makespan = max(makespan, runners[w].busy)
	}
	return sums[0], makespan, nil
}
