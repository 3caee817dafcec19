package tuner

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/internal/pgtest"
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sampler"
	"github.com/autotune/autotune/space"
	"github.com/autotune/autotune/store"
)

// concurrentRunner runs each trial for a few milliseconds and records any config that started while the same
// config was running.
type concurrentRunner struct {
	mu      sync.Mutex
	running map[string]int
	twice   []string
	ran     int
}

func (r *concurrentRunner) Run(ctx context.Context, tr runner.Trial) runner.Result {
	key := fmt.Sprint(tr.Args)
	r.mu.Lock()
	if r.running == nil {
		r.running = map[string]int{}
	}
	if r.running[key] > 0 {
		r.twice = append(r.twice, key)
	}
	r.running[key]++
	r.ran++
	r.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	r.mu.Lock()
	r.running[key]--
	r.mu.Unlock()
	return smooth(ctx, tr, 0)
}

// TestWorkersShareAStudy: four workers on one database finish the study at exactly --trials, and no config runs
// on two of them at once.
func TestWorkersShareAStudy(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testWorkersShareAStudy(t, openDB(t)) })
	t.Run("postgres", func(t *testing.T) {
		db, err := store.Open(pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		testWorkersShareAStudy(t, db)
	})
}

func testWorkersShareAStudy(t *testing.T, db *store.DB) {
	r := &concurrentRunner{}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := testOptions(t, 14)
			opts.WorkerLabel = fmt.Sprintf("GPU %d", i)
			opts.PollEvery = 5 * time.Millisecond
			_, errs[i] = New(db, r, newFakeSpace(), opts).Run(context.Background())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st, _ := db.StudyByName("default")
	if n, _ := db.FinishedCount(st.ID); n != 14 {
		t.Errorf("finished %d, want exactly 14", n)
	}
	if r.ran != 14 {
		t.Errorf("ran %d trials, want 14 (nothing failed, so nothing beyond the target)", r.ran)
	}
	if len(r.twice) > 0 {
		t.Errorf("configs ran twice at once: %v", r.twice)
	}
	if ws, _ := db.Workers(st.ID); len(ws) != 0 {
		t.Errorf("%d workers still registered after the study", len(ws))
	}
}

// deadWorkerTrial records a trial that worker w is running with config cfg, as a worker that then died leaves it.
func deadWorkerTrial(t *testing.T, db *store.DB, studyID int, w store.Worker, cfg space.Config) int {
	t.Helper()
	internal, _ := newFakeSpace().Encode(cfg.Params)
	d := sampler.NewDraw(sampler.NewUniform(1), sampler.History{}, goptuna.FrozenTrial{}, internal)
	if _, err := newFakeSpace().Sample(d); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ClaimSlot(studyID, w.ID, 100); err != nil {
		t.Fatal(err)
	}
	rec := store.Trial{StudyID: studyID, State: store.StateRunning, ConfigKey: cfg.Key(),
		Params: cfg.Params, Args: cfg.Args, WorkerID: w.ID, OwnerHost: w.Owner.Host, OwnerPID: w.Owner.PID,
		StartedAt: time.Now()}
	rec, err := db.StartTrial(0, proposal{cfg: cfg, draw: d}.params(), rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := rec.Number
	return n
}

// TestDeadWorkersTrialIsTakenOver: a worker whose process is gone (this host), or that is silent for longer than
// the heartbeat timeout (another host), or whose host is named by --takeover, loses its running trial to the
// next worker that looks: failed as interrupted and run again first. A live worker's trial is left alone, and
// its slot keeps the study from overshooting while it runs.
func TestDeadWorkersTrialIsTakenOver(t *testing.T) {
	cases := []struct {
		name     string
		owner    store.Owner
		opts     func(*Options)
		takeover bool
	}{
		{"process gone on this host", store.Owner{Host: "test", PID: 99, Start: 5},
			func(o *Options) { o.ProcessGone = func(ow store.Owner) bool { return ow.PID == 99 } }, true},
		{"silent on another host", store.Owner{Host: "vm-1", PID: 99, Start: 5},
			func(o *Options) { o.HeartbeatTimeout = time.Millisecond }, true},
		{"--takeover its host", store.Owner{Host: "vm-1", PID: 99, Start: 5},
			func(o *Options) { o.Takeover = []string{"vm-1"} }, true},
		{"alive on another host", store.Owner{Host: "vm-1", PID: 99, Start: 5}, func(o *Options) {}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := openDB(t)
			opts := testOptions(t, 2)
			if _, err := New(db, &fakeRunner{fn: smooth}, newFakeSpace(), opts).Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			st, _ := db.StudyByName("default")
			w, err := db.Register(st.ID, c.owner, "GPU 0")
			if err != nil {
				t.Fatal(err)
			}
			cfg := newFakeSpace().config("d", 7)
			n := deadWorkerTrial(t, db, st.ID, w, cfg)
			time.Sleep(5 * time.Millisecond)

			opts.Trials = 4
			c.opts(&opts)
			var progress strings.Builder
			opts.Progress = &progress
			r := &fakeRunner{fn: smooth}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			opts.PollEvery = 10 * time.Millisecond
			sum, err := New(db, r, newFakeSpace(), opts).Run(ctx)
			rec, _ := db.TrialByNumber(st.ID, n)
			if !c.takeover {
				// 2 finished + its running trial + this worker's: the study of 4 runs one trial, then waits.
				if err == nil || rec.State != store.StateRunning || len(r.ran()) != 1 {
					t.Errorf("live worker: err %v, its trial %s, this worker ran %d; want its trial left running and one trial run", err, rec.State, len(r.ran()))
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, &progress)
			}
			if rec.State != store.StateFailed || rec.Failure != string(runner.Interrupted) {
				t.Errorf("dead worker's trial: %s %s, want failed as interrupted", rec.State, rec.Failure)
			}
			if got := r.ran(); len(got) == 0 || got[0] != fmtArgs(cfg.Args) {
				t.Errorf("first trial ran %v, want the dead worker's config %v first", got, cfg.Args)
			}
			if sum.Finished != 4 {
				t.Errorf("finished %d, want 4", sum.Finished)
			}
			if ws, _ := db.Workers(st.ID); len(ws) != 0 {
				t.Errorf("the dead worker is still registered: %+v", ws)
			}
		})
	}
}
