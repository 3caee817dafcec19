package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autotune/autotune/internal/pgtest"
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/runner/runnertest"
	"github.com/autotune/autotune/space"
	"github.com/autotune/autotune/store"
)

// TestFourWorkersOnPostgresOneKilled runs four autotune processes on one simulated study in PostgreSQL and kills
// one with SIGKILL while its server runs a trial. The others notice (its process is gone), fail the trial as
// interrupted and run its config again; the study ends at exactly --trials; no config ever ran on two workers
// at once; the dead worker's server went with it; and no worker stays registered.
func TestFourWorkersOnPostgresOneKilled(t *testing.T) {
	url := pgtest.URL(t)
	dir := t.TempDir()
	const trials = 12
	var workers []*child
	for i := range 4 {
		workers = append(workers, startAutotune(t, nil, "--simulate", "--db", url, "--sim-speed", "40",
			"--trials", strconv.Itoa(trials), "--port", strconv.Itoa(runnertest.Port(t)),
			"--workdir", filepath.Join(dir, fmt.Sprintf("worker-%d", i))))
	}
	pids := map[int]*child{}
	for _, c := range workers {
		pids[c.cmd.Process.Pid] = c
	}
	var victim store.Trial
	waitFor(t, 120*time.Second, "a worker's trial with a running server, after the first trials", func() bool {
		db, err := store.OpenReadOnly(url)
		if err != nil {
			return false
		}
		defer db.Close()
		studies, err := db.Studies()
		if err != nil || len(studies) == 0 {
			return false
		}
		recs, _ := db.Trials(studies[0].ID)
		for _, r := range recs {
			if r.State == store.StateRunning && r.ServerPGID != 0 && r.Number >= 4 && pids[r.OwnerPID] != nil {
				victim = r
				return true
			}
		}
		return false
	})
	killed := pids[victim.OwnerPID]
	killed.cmd.Process.Signal(syscall.SIGKILL)
	killed.wait(t, 10*time.Second)
	for _, c := range workers {
		if c == killed {
			continue
		}
		if code := c.wait(t, 300*time.Second); code != 0 {
			t.Errorf("worker pid %d: exit %d\n%s", c.cmd.Process.Pid, code, c.stderr.String())
		}
	}

	db, err := store.OpenReadOnly(url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.StudyByName("default")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.FinishedCount(st.ID); err != nil || n != trials {
		t.Errorf("finished %d (%v), want exactly %d", n, err, trials)
	}
	recs, err := db.Trials(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	var rerun bool
	for _, r := range recs {
		if r.Number == victim.Number && (r.State != store.StateFailed || r.Failure != string(runner.Interrupted)) {
			t.Errorf("the killed worker's trial %d: %s %q, want failed as interrupted", r.Number, r.State, r.Failure)
		}
		// Ran again: a later record of the config that finished one way or another (complete, or pruned early: a
		// slow config's rerun may be; or failed for the config's own reasons), not merely queued.
		if r.Number != victim.Number && r.ConfigKey == victim.ConfigKey && r.DuplicateOf == nil &&
			(r.Finished() || (r.State == store.StateFailed && runner.Class(r.Failure).ConfigFault())) {
			rerun = true
		}
		if r.Number != victim.Number && r.ConfigKey == victim.ConfigKey {
			t.Logf("the killed worker's config again: trial %d %s %q", r.Number, r.State, r.Failure)
		}
		if r.State == store.StateRunning {
			t.Errorf("trial %d is still running after every worker ended", r.Number)
		}
	}
	if !rerun {
		t.Errorf("the killed worker's config (trial %d, %q) never ran again: it was lost", victim.Number, victim.Args)
	}
	// Nothing twice at once: trials of one config never overlap in time.
	for i, a := range recs {
		for _, b := range recs[i+1:] {
			if a.ConfigKey != b.ConfigKey || a.DuplicateOf != nil || b.DuplicateOf != nil || a.FinishedAt.IsZero() || b.FinishedAt.IsZero() {
				continue
			}
			if a.StartedAt.Before(b.FinishedAt) && b.StartedAt.Before(a.FinishedAt) {
				t.Errorf("trials %d and %d ran the same config at the same time (%s-%s, %s-%s)", a.Number, b.Number,
					a.StartedAt.Format(time.StampMilli), a.FinishedAt.Format(time.StampMilli),
					b.StartedAt.Format(time.StampMilli), b.FinishedAt.Format(time.StampMilli))
			}
		}
	}
	if !groupGone(victim.ServerPGID) {
		t.Errorf("the killed worker's server group %d survived", victim.ServerPGID)
	}
	if ws, err := db.Workers(st.ID); err != nil || len(ws) != 0 {
		t.Errorf("workers still registered: %+v (%v)", ws, err)
	}
	owners := map[int]bool{}
	for _, r := range recs {
		owners[r.WorkerID] = true
	}
	if ids := len(owners); ids < 3 {
		t.Errorf("trials were run by %d workers, want all four sharing the study", ids)
	}
}

// TestGPUsFlag: --gpus runs one worker per GPU of the simulated machine in this process; together they finish
// the study at exactly --trials, each with its own port.
func TestGPUsFlag(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	code, _, errs := cli(t, "--simulate", "--db", db, "--sim-speed", "40", "--trials", "6", "--gpus", "0,1,2",
		"--port", strconv.Itoa(runnertest.Ports(t, 3))) // a worker per GPU, each on its own port from --port on
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	if !strings.Contains(errs, "3 workers, one per GPU (0,1,2)") {
		t.Errorf("no word of the three workers:\n%s", errs)
	}
	d, err := store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st, _ := d.StudyByName("default")
	if n, _ := d.FinishedCount(st.ID); n != 6 {
		t.Errorf("finished %d, want 6", n)
	}
	recs, _ := d.Trials(st.ID)
	ports, workers := map[int]bool{}, map[int]bool{}
	for _, r := range recs {
		ports[r.ServerPort], workers[r.WorkerID] = true, true
	}
	if len(workers) < 2 || len(ports) < 2 {
		t.Errorf("trials ran on %d workers and %d ports, want the GPUs' workers sharing the study", len(workers), len(ports))
	}
}

func TestParseAndPickGPUs(t *testing.T) {
	t4 := runner.GPU{Name: "Tesla T4", ComputeCap: 7.5, MemoryTotalMiB: 15360}
	a100 := runner.GPU{Name: "NVIDIA A100-SXM4-80GB", ComputeCap: 8.0, MemoryTotalMiB: 81920}
	for _, c := range []struct {
		flag  string
		found []runner.GPU
		want  []int
		err   string
	}{
		{"0,2", []runner.GPU{t4, t4, t4}, []int{0, 2}, ""},
		{"all", []runner.GPU{t4, t4}, []int{0, 1}, ""},
		{"", []runner.GPU{t4, a100}, nil, ""},
		{"0,1", []runner.GPU{t4, a100}, nil, "not comparable"},
		{"all", []runner.GPU{t4, a100}, nil, "not comparable"},
		{"1", []runner.GPU{a100, t4}, []int{1}, ""},
		{"4", []runner.GPU{t4}, nil, "there is no GPU 4"},
		{"0,0", []runner.GPU{t4}, nil, "listed twice"},
		{"x", []runner.GPU{t4}, nil, "want GPU indices"},
	} {
		var p space.Platform
		gpus, all, err := parseGPUs(c.flag)
		if err == nil {
			gpus, err = pickGPUs(gpus, all, c.found, &p)
		}
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "--gpus") {
				t.Errorf("--gpus %q on %v: %v, want an error naming --gpus saying %q", c.flag, c.found, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(gpus, c.want) {
			t.Errorf("--gpus %q: %v %v, want %v", c.flag, gpus, err, c.want)
		}
		if len(c.want) > 0 && p.GPUName != c.found[c.want[0]].Name {
			t.Errorf("--gpus %q: the space is built for %q, want %q", c.flag, p.GPUName, c.found[c.want[0]].Name)
		}
	}
}
