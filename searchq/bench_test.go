package searchq

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/autotune/autotune/internal/pgtest"
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
	"github.com/autotune/autotune/tuner"
)

// BenchmarkTunerAtTrial1000 measures the tuner's own time per trial (sampling, duplicate checks, every database
// read and write; the trial itself is sim.Predict in process, which takes microseconds) once a study holds
// 1,000 trials, on SQLite. The goal is < 100 ms per trial (issue 12).
//
//	go test -run XXX -bench TunerAtTrial1000 -benchtime 20x ./searchq/
func BenchmarkTunerAtTrial1000(b *testing.B) { benchmarkTunerAtN(b, 1000) }

// BenchmarkTunerAtTrial300 is the same at trial 300, to see how the cost grows.
func BenchmarkTunerAtTrial300(b *testing.B) { benchmarkTunerAtN(b, 300) }

func benchmarkTunerAtN(b *testing.B, n int) {
	benchmarkTunerAt(b, n, func(b *testing.B) *store.DB {
		db, err := store.Open(filepath.Join(b.TempDir(), "tuning.db"))
		if err != nil {
			b.Fatal(err)
		}
		return db
	})
}

// BenchmarkTunerAtTrial1000Postgres is the same on PostgreSQL (see internal/pgtest for the server).
func BenchmarkTunerAtTrial1000Postgres(b *testing.B) {
	benchmarkTunerAt(b, 1000, func(b *testing.B) *store.DB {
		db, err := store.Open(pgtest.URL(b))
		if err != nil {
			b.Fatal(err)
		}
		return db
	})
}

func benchmarkTunerAt(b *testing.B, n int, open func(*testing.B) *store.DB) {
	db := open(b)
	defer db.Close()
	sp, err := Space("t4")
	if err != nil {
		b.Fatal(err)
	}
	opts := tuner.Options{
		Trials: n, Sampler: "tpe", Seed: 1, SLA: tuner.DefaultSLA(), Workload: runner.DefaultWorkload(),
		WorkDir: b.TempDir(), Simulated: true, VLLMVersion: "0.15.1", GPU: "Tesla T4", SpaceJSON: sp.JSON(),
		Owner: store.Owner{Host: "bench", PID: os.Getpid(), Start: 1},
	}
	began := time.Now()
	if _, err := tuner.New(db, &SimRunner{Seed: 1}, sp, opts).Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	setup := time.Since(began)
	opts.Trials = n + b.N
	r := &timedRunner{inner: &SimRunner{Seed: 1}}
	cpu0 := cpuTime()
	b.ResetTimer()
	began = time.Now()
	sum, err := tuner.New(db, r, sp, opts).Run(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	wall := time.Since(began)
	b.StopTimer()
	cpu := cpuTime() - cpu0
	if sum.Finished != n+b.N {
		b.Fatalf("finished %d, want %d (stopped: %s)", sum.Finished, n+b.N, sum.Stopped)
	}
	recs, err := db.Trials(sum.StudyID)
	if err != nil {
		b.Fatal(err)
	}
	dups := 0
	for _, r := range recs {
		if r.DuplicateOf != nil {
			dups++
		}
	}
	b.ReportMetric(float64(dups)/float64(len(recs)), "dup-records/record")
	b.ReportMetric(setup.Seconds()*1000/float64(n), "setup-ms/trial")
	// The tuner's own time: wall time outside the (in-process, simulated) trials, and the process's CPU time
	// (which includes the simulator's). On a loaded machine the wall time also holds the waits for a CPU.
	b.ReportMetric(float64((wall-r.spent).Milliseconds())/float64(b.N), "tuner-wall-ms/trial")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/trial")
}

// timedRunner adds up the time spent inside trials.
type timedRunner struct {
	inner tuner.Runner
	spent time.Duration
}

func (r *timedRunner) Run(ctx context.Context, t runner.Trial) runner.Result {
	began := time.Now()
	defer func() { r.spent += time.Since(began) }()
	return r.inner.Run(ctx, t)
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
