package tuner

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/space"
	"github.com/autotune/autotune/store"
)

// fakeSpace has two parameters: a categorical "x" and an integer "y".
type fakeSpace struct {
	xs          []string
	ylo, yhi    int
	fingerprint string
	knownGood   []space.Config
}

func newFakeSpace() *fakeSpace {
	return &fakeSpace{xs: []string{"a", "b", "c", "d"}, ylo: 0, yhi: 9, fingerprint: "fake-1"}
}

func (f *fakeSpace) Sample(s space.Suggester) (space.Config, error) {
	x, err := s.SuggestCategorical("x", f.xs)
	if err != nil {
		return space.Config{}, err
	}
	y, err := s.SuggestInt("y", f.ylo, f.yhi)
	if err != nil {
		return space.Config{}, err
	}
	return f.config(x, y), nil
}

func (f *fakeSpace) config(x string, y int) space.Config {
	return space.Config{
		Params: map[string]string{"x": x, "y": strconv.Itoa(y)},
		Args:   []string{"--x", x, "--y", strconv.Itoa(y)},
	}
}

func (f *fakeSpace) Baseline() space.Config { return space.Config{Label: "baseline"} }

func (f *fakeSpace) KnownGood() []space.Config { return f.knownGood }

func (f *fakeSpace) Encode(p map[string]string) (map[string]float64, error) {
	out := map[string]float64{}
	for i, x := range f.xs {
		if x == p["x"] {
			out["x"] = float64(i)
		}
	}
	y, err := strconv.Atoi(p["y"])
	if err != nil {
		return nil, err
	}
	out["y"] = float64(y)
	return out, nil
}

func (f *fakeSpace) Fingerprint() string { return f.fingerprint }

// fakeRunner answers each trial with a function of its args and records what it ran.
type fakeRunner struct {
	mu    sync.Mutex
	calls [][]string
	fn    func(ctx context.Context, t runner.Trial, call int) runner.Result
}

func (r *fakeRunner) Run(ctx context.Context, t runner.Trial) runner.Result {
	r.mu.Lock()
	r.calls = append(r.calls, t.Args)
	call := len(r.calls)
	r.mu.Unlock()
	return r.fn(ctx, t, call)
}

// benchResult is a successful result with the given throughput and P99s.
func benchResult(tput, p99tpot, p99ttft float64) runner.Result {
	return runner.Result{Bench: &runner.Bench{
		NumPrompts: 200, Completed: 200, OutputThroughput: tput,
		Latency: map[string]float64{"p99_tpot_ms": p99tpot, "p99_ttft_ms": p99ttft, "mean_tpot_ms": p99tpot / 2},
	}}
}

func argValue(args []string, flag string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return args[i+1]
		}
	}
	return ""
}

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "tuning.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func testOptions(t *testing.T, trials int) Options {
	w := runner.DefaultWorkload()
	return Options{
		Trials: trials, Sampler: "tpe", Seed: 7, SLA: DefaultSLA(), Workload: w,
		WorkDir: t.TempDir(), Owner: store.Owner{Host: "test", PID: 1, Start: 1},
	}
}

func (r *fakeRunner) ran() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		out = append(out, fmt.Sprint(c))
	}
	return out
}
