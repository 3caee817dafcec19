package main

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autotune/autotune/internal/citest"
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/runner/runnertest"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/store"
)

// child is an autotune process started from the test binary.
type child struct {
	cmd    *exec.Cmd
	stderr *runnertest.SyncBuffer
	stdout *runnertest.SyncBuffer
	done   chan struct{}
	err    error
}

// startAutotune starts `autotune args...` as a child process with extra environment.
func startAutotune(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: exec.Command(exe, append([]string{"autotune"}, args...)...), stderr: &runnertest.SyncBuffer{}, stdout: &runnertest.SyncBuffer{},
		done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr, c.cmd.Stdout = c.stderr, c.stdout
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

func (c *child) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		t.Fatalf("autotune did not exit within %s\nstderr:\n%s", d, c.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return ee.ExitCode()
	}
	if c.err != nil {
		t.Fatal(c.err)
	}
	return 0
}

// failNow, when set by a test, ends a wait early (the child it waits on has exited).
var failNow func() bool

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		if failNow != nil && failNow() {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serverPastBanner waits for a trial of the study in db whose server has logged past its first line: from there
// on, a simulator started with the ignore_sigterm fault ignores SIGTERM.
func serverPastBanner(t *testing.T, db string) store.Trial {
	t.Helper()
	var victim store.Trial
	waitFor(t, 60*time.Second, "a running server", func() bool {
		var ok bool
		victim, ok = runningServer(db)
		return ok
	})
	waitFor(t, 30*time.Second, "the server to log past its banner", func() bool {
		data, _ := os.ReadFile(victim.ServerLog) // recorded when the trial started
		return strings.Count(string(data), "\n") >= 2
	})
	return victim
}

// runningServer reads the database for a running trial whose server has started, as a second reader would.
func runningServer(db string) (store.Trial, bool) {
	if _, err := os.Stat(db); err != nil {
		return store.Trial{}, false
	}
	d, err := store.OpenReadOnly(db)
	if err != nil {
		return store.Trial{}, false
	}
	defer d.Close()
	studies, err := d.Studies()
	if err != nil || len(studies) == 0 {
		return store.Trial{}, false
	}
	trials, _ := d.Trials(studies[0].ID)
	for _, tr := range trials {
		if tr.State == store.StateRunning && tr.ServerPGID != 0 {
			return tr, true
		}
	}
	return store.Trial{}, false
}

// groupGone reports whether no process of the group is left (zombies aside: nobody reaps them here).
func groupGone(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) > 3 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			_ = pid
			return false
		}
	}
	return true
}

// simFlags are the flags of a simulated study with its own port and simulator state, and trial limits generous
// enough for a loaded machine (scaled by --sim-speed they would be 3 s at 400: a busy CI box misses that). The
// port is the last element.
func simFlags(t *testing.T, db string, speed string) []string {
	return []string{"--simulate", "--db", db, "--sim-speed", speed, "--startup-timeout", "120s", "--bench-timeout", "120s",
		"--port", strconv.Itoa(runnertest.Port(t))}
}

// TestKill9MidTrialThenResume: SIGKILL of autotune takes its server with it (parent-death signal), and the
// same command then finishes the study, running the interrupted trial's config first.
func TestKill9MidTrialThenResume(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	flags := simFlags(t, db, "40")
	c := startAutotune(t, nil, append([]string{"--trials", "4"}, flags...)...)
	var victim store.Trial
	waitFor(t, 60*time.Second, "a trial with a running server", func() bool {
		tr, ok := runningServer(db)
		if ok && tr.Number >= 1 {
			victim = tr
			return true
		}
		return false
	})
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.wait(t, time.Minute)
	waitFor(t, time.Minute, "the server's process group to die with autotune", func() bool { return groupGone(victim.ServerPGID) })

	code, out, errs := cli(t, append([]string{"--trials", "4"}, flags...)...)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, errs)
	}
	if !strings.Contains(errs, "interrupted in an earlier run") {
		t.Errorf("resume did not report the interrupted trial:\n%s", errs)
	}
	if !strings.Contains(out, "best") {
		t.Errorf("resume printed no summary:\n%s", out)
	}
	tj := readTrials(t, db)
	if tj.Study.Finished != 4 {
		t.Errorf("finished = %d, want 4", tj.Study.Finished)
	}
	for _, tr := range tj.Trials {
		if tr.Number == victim.Number && (tr.State != store.StateFailed || tr.Failure == nil || *tr.Failure != string(runner.Interrupted)) {
			t.Errorf("killed trial %d: state %s failure %v, want failed/interrupted", tr.Number, tr.State, tr.Failure)
		}
	}
	// Every trial after the victim ran in the resumed run; the retry of the victim's config must have started
	// first among them.
	d, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	recs, _ := d.Trials(1)
	var first store.Trial
	for _, r := range recs {
		if r.Number > victim.Number && (first.StartedAt.IsZero() || r.StartedAt.Before(first.StartedAt)) {
			first = r
		}
	}
	if first.Label != "retry of #"+strconv.Itoa(victim.Number) || first.ConfigKey != victim.ConfigKey {
		t.Errorf("first trial after resume was #%d %q %v, want the retry of #%d %v",
			first.Number, first.Label, first.Args, victim.Number, victim.Args)
	}
}

// TestInterruptTwice: the first SIGINT asks the server to stop (it ignores SIGTERM here, so the grace period
// would be ten minutes); the second exits at once, killing the server's process group. "At once" is checked
// against the grace period, not against a clock a loaded machine could miss.
func TestInterruptTwice(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	flags := append(simFlags(t, db, "40"), "--trials", "3", "--stop-grace", "10m")
	c := startAutotune(t, []string{sim.EnvFault + "=ignore_sigterm"}, flags...)
	victim := serverPastBanner(t, db)
	c.cmd.Process.Signal(syscall.SIGINT)
	waitFor(t, 60*time.Second, "the first interrupt to be acknowledged", func() bool {
		return strings.Contains(c.stderr.String(), "interrupted")
	})
	select {
	case <-c.done:
		t.Fatalf("autotune exited on the first interrupt, before its server (which ignores SIGTERM) was stopped:\n%s", c.stderr.String())
	case <-time.After(time.Second): // a correct autotune never exits here: load only makes the check weaker
	}
	c.cmd.Process.Signal(syscall.SIGINT)
	if code := c.wait(t, 2*time.Minute); code != 130 { // far inside the grace period it would otherwise wait out
		t.Errorf("exit %d, want 130", code)
	}
	waitFor(t, time.Minute, "the server group to be killed", func() bool { return groupGone(victim.ServerPGID) })
	if n := workerRows(t, db); n != 0 {
		t.Errorf("%d workers still registered after the second interrupt, want 0", n)
	}
	for _, tr := range readTrials(t, db).Trials {
		if tr.Number == victim.Number && (tr.Failure == nil || *tr.Failure != string(runner.Interrupted)) {
			t.Errorf("trial %d: state %s failure %v, want failed/interrupted", tr.Number, tr.State, tr.Failure)
		}
	}
}

// TestInterruptOnce: one SIGINT stops the server cleanly, records the trial as interrupted, prints the best so
// far and exits 130.
func TestInterruptOnce(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	c := startAutotune(t, nil, append(simFlags(t, db, "40"), "--trials", "6")...)
	var victim store.Trial
	waitFor(t, 60*time.Second, "a running server after the baseline", func() bool {
		var ok bool
		victim, ok = runningServer(db)
		return ok && victim.Number >= 1
	})
	c.cmd.Process.Signal(syscall.SIGINT)
	if code := c.wait(t, 30*time.Second); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, c.stderr.String())
	}
	if !groupGone(victim.ServerPGID) {
		t.Errorf("server group %d survived", victim.ServerPGID)
	}
	if !strings.Contains(c.stdout.String(), "baseline") {
		t.Errorf("no best-so-far summary on stdout:\n%s", c.stdout.String())
	}
	if !strings.Contains(c.stderr.String(), "run the same command again") {
		t.Errorf("no resume hint:\n%s", c.stderr.String())
	}
	tj := readTrials(t, db)
	for _, tr := range tj.Trials {
		if tr.Number == victim.Number && (tr.Failure == nil || *tr.Failure != string(runner.Interrupted)) {
			t.Errorf("trial %d: failure %v, want interrupted", tr.Number, tr.Failure)
		}
	}
}

// TestSecondAutotuneJoins: a second run on the same database while the first runs joins it as a worker; the
// two finish the study at exactly --trials, and no config runs on both at once.
func TestSecondAutotuneJoins(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	flags := append([]string{"--trials", "6"}, simFlags(t, db, "20")...)
	first := startAutotune(t, nil, flags...)
	waitFor(t, 60*time.Second, "the first run to start a trial", func() bool { _, ok := runningServer(db); return ok })
	flags2 := append(flags, "--workdir", filepath.Join(dir, "second.trials"), "--port", strconv.Itoa(runnertest.Port(t)))
	code, _, errs := cli(t, flags2...)
	if code != 0 || !strings.Contains(errs, "joins 1 other worker") {
		t.Errorf("second run: exit %d, stderr %q; want 0 and that it joined the first", code, errs)
	}
	if code := first.wait(t, 120*time.Second); code != 0 {
		t.Errorf("first run: exit %d\n%s", code, first.stderr.String())
	}
	tj := readTrials(t, db)
	if tj.Study.Finished != 6 {
		t.Errorf("finished = %d, want exactly 6", tj.Study.Finished)
	}
}

// TestStaleServerFromDeadRun: the engine core forked by a server survives autotune's SIGKILL (the parent-death
// signal only reaches the server) and keeps holding GPU memory. The next run finds it through what the dead run
// recorded (process group and the token in its environment), stops only that group, waits for the memory and
// finishes the study.
func TestStaleServerFromDeadRun(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	flags := append(simFlags(t, db, "40"), "--trials", "3")
	c := startAutotune(t, []string{sim.EnvFault + "=fork_holder"}, flags...)
	var victim store.Trial
	waitFor(t, 60*time.Second, "a running server", func() bool {
		var ok bool
		victim, ok = runningServer(db)
		return ok
	})
	// Let the server fork its engine core and take its GPU memory.
	waitFor(t, 30*time.Second, "the engine core to hold GPU memory", func() bool { return gpuUsedMiB(t, dir) > 0 })
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.wait(t, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	// The scenario is deterministic: the parent-death signal reaches the server only, and its engine core keeps
	// its group and the GPU memory. If that no longer holds, the test has nothing to check: a failure, not a skip.
	if groupGone(victim.ServerPGID) || gpuUsedMiB(t, dir) == 0 {
		t.Fatalf("the forked engine core did not outlive autotune (group %d gone: %v): the fork_holder fault no longer leaves a stale server to clean up",
			victim.ServerPGID, groupGone(victim.ServerPGID))
	}

	code, _, errs := cli(t, flags...)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, errs)
	}
	if !strings.Contains(errs, "left by an earlier run") {
		t.Errorf("resume did not say it stopped the leftover server:\n%s", errs)
	}
	if !groupGone(victim.ServerPGID) {
		t.Errorf("the leftover group %d is still there", victim.ServerPGID)
	}
	if tj := readTrials(t, db); tj.Study.Finished != 3 {
		t.Errorf("finished = %d, want 3", tj.Study.Finished)
	}
}

// gpuUsedMiB asks the simulated nvidia-smi of a study's work folder how much GPU memory is held.
func gpuUsedMiB(t *testing.T, dir string) int {
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "sim", "nvidia-smi", "--query-gpu=name,compute_cap,memory.total,memory.used", "--format=csv,noheader,nounits")
	cmd.Env = append(os.Environ(), sim.EnvState+"="+filepath.Join(dir, "tuning.trials", "sim-state"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("simulated nvidia-smi: %v", err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), ",")
	n, _ := strconv.Atoi(strings.TrimSpace(f[len(f)-1]))
	return n
}

// TestFaultsInsideTrials: faults the simulator injects into every server or benchmark either fail the baseline
// (a crash under load: the study stops with the diagnosis) or stop the study with a clear error after three harness
// faults in a row (broken benchmark JSON, a port held by another program), leaving the database readable.
func TestFaultsInsideTrials(t *testing.T) {
	t.Run("a baseline that crashes under load stops the study with the diagnosis", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "tuning.db")
		t.Setenv(sim.EnvFault, "crash_mid_bench")
		code, _, errs := cli(t, append(simFlags(t, db, "400"), "--trials", "2")...)
		if code != 1 || !strings.Contains(errs, "the baseline (vLLM's defaults) failed (crashed_during_benchmark)") {
			t.Fatalf("exit %d, stderr:\n%s\nwant 1 and the baseline's diagnosis", code, errs)
		}
		tj := readTrials(t, db)
		if tj.Study.Finished != 1 {
			t.Errorf("finished = %d, want 1 (the baseline only)", tj.Study.Finished)
		}
		for _, tr := range tj.Trials {
			if tr.State == store.StateWaiting {
				continue
			}
			if tr.Number != 0 || tr.Failure == nil || *tr.Failure != string(runner.CrashedDuringBenchmark) {
				t.Errorf("trial %d failure %v, want only trial 0, crashed_during_benchmark", tr.Number, tr.Failure)
			}
		}
	})
	t.Run("corrupt benchmark JSON stops the study", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "tuning.db")
		t.Setenv(sim.EnvFault, "bench_bad_json")
		code, _, errs := cli(t, append(simFlags(t, db, "400"), "--trials", "3")...)
		if code != 1 || !strings.Contains(errs, "harness keeps failing") || !strings.Contains(errs, "JSON") {
			t.Errorf("exit %d, stderr:\n%s\nwant 1 and an error about the benchmark JSON", code, errs)
		}
		tj := readTrials(t, db)
		if tj.Study.Finished != 0 || len(tj.Trials) < 3 {
			t.Errorf("finished %d of %d trials, want 0 finished and the failures recorded", tj.Study.Finished, len(tj.Trials))
		}
	})
	t.Run("port held by another program", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "tuning.db")
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		code, _, errs := cli(t, "--simulate", "--db", db, "--sim-speed", "400", "--port", port, "--trials", "2")
		if code != 1 || !strings.Contains(errs, port) {
			t.Errorf("exit %d, stderr:\n%s\nwant 1 and an error naming port %s", code, errs, port)
		}
	})
}

// TestDiskFull: a --workdir on a full disk stops the study before a trial with an error naming the folder, and
// the database keeps what it had.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	os.Mkdir(full, 0o755)
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", full).Run(); err != nil {
		citest.SkipUnlessCI(t, "cannot mount a small tmpfs here (it needs root): %v", err)
	}
	defer exec.Command("umount", full).Run()
	db := filepath.Join(dir, "tuning.db")
	flags := simFlags(t, db, "400")
	if code, _, errs := cli(t, append(flags, "--trials", "2")...); code != 0 {
		t.Fatalf("first run: %s", errs)
	}
	code, _, errs := cli(t, append(flags, "--trials", "4", "--workdir", filepath.Join(full, "work"))...)
	if code != 1 || !strings.Contains(errs, "--workdir "+filepath.Join(full, "work")) || !strings.Contains(errs, "KiB free") {
		t.Errorf("exit %d, stderr:\n%s\nwant 1 and an error naming --workdir and the free space", code, errs)
	}
	if tj := readTrials(t, db); tj.Study.Finished != 2 {
		t.Errorf("finished = %d, want the 2 trials of the first run", tj.Study.Finished)
	}
}

// TestNoFeasibleTrialExitsNonZero: a study that finishes its trials without one that meets the SLA exits 1 and
// says so; the trials are kept.
func TestNoFeasibleTrialExitsNonZero(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tuning.db")
	code, _, errs := cli(t, append(simFlags(t, db, "400"), "--trials", "2", "--max-p99-tpot-ms", "0.5")...)
	if code != 1 || !strings.Contains(errs, "no trial has met the SLA") {
		t.Fatalf("exit %d, stderr:\n%s\nwant 1 and a word that nothing met the SLA", code, errs)
	}
	if tj := readTrials(t, db); tj.Study.Finished != 2 {
		t.Errorf("finished = %d, want 2", tj.Study.Finished)
	}
}

// TestUnusablePlatformStopsTheStudy: when the installed vLLM cannot run on the GPU at all (no kernel image for
// it), the study stops after that trial with the diagnosis and exits 1 instead of failing every config.
func TestUnusablePlatformStopsTheStudy(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tuning.db")
	t.Setenv(sim.EnvFault, "no_kernel_image")
	code, _, errs := cli(t, append(simFlags(t, db, "400"), "--trials", "5")...)
	if code != 1 || !strings.Contains(errs, "vLLM cannot run on this machine") ||
		!strings.Contains(errs, "no kernel image is available for execution on the device") {
		t.Fatalf("exit %d, stderr:\n%s\nwant 1 and the diagnosis", code, errs)
	}
	tj := readTrials(t, db)
	ran := 0
	for _, tr := range tj.Trials {
		if tr.State == store.StateWaiting {
			continue
		}
		ran++
		if tr.Failure == nil || *tr.Failure != string(runner.PlatformUnusable) {
			t.Errorf("trial %d failure %v, want platform_unusable", tr.Number, tr.Failure)
		}
	}
	if ran != 1 || tj.Study.Finished != 0 {
		t.Errorf("%d trials ran, %d finished; want 1 ran and none counted", ran, tj.Study.Finished)
	}
}
