package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/runner/runnertest"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/store"
)

// TestTwoServersOnOnePort runs two simulated servers on one port, as two studies with the same --port do: the
// simulator, like vLLM, binds with SO_REUSEPORT, so both listen and the kernel spreads the benchmark's
// connections between them. A second server started while the study's trial runs must make that trial a
// harness fault naming the other process, never a result recorded as the config's. Before the ownership check
// the trial completed with numbers partly measured on the other server, and the run exited 0.
func TestTwoServersOnOnePort(t *testing.T) {
	k, v, _ := strings.Cut(runnertest.TrackChildren(t), "=")
	t.Setenv(k, v) // the servers get os.Environ: any of them left behind fails the test
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	flags := simFlags(t, db, "10") // slow enough that the other server is up long before the benchmark ends
	port := flags[len(flags)-1]
	type result struct {
		code      int
		out, errs string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := cli(t, append(flags, "--trials", "1")...)
		done <- result{code, out, errs}
	}()
	waitFor(t, 60*time.Second, "the study's first server", func() bool { _, ok := runningServer(db); return ok })

	// The other study's server: its own process group and simulated GPU, fast, on the same port.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	other := exec.Command(exe, "sim", "serve", "Qwen/Qwen2.5-0.5B", "--host", "127.0.0.1", "--port", port)
	other.Env = append(os.Environ(), sim.EnvSpeed+"=1000", sim.EnvState+"="+filepath.Join(dir, "other-sim"))
	other.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-other.Process.Pid, syscall.SIGKILL)
		other.Wait()
	})
	waitFor(t, 30*time.Second, "the other server to answer", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	var r result
	select {
	case r = <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("the study did not finish")
	}
	t.Logf("stderr:\n%s", r.errs)
	if r.code == 0 {
		t.Errorf("exit 0: the study finished although another server shared its port\n%s", r.errs)
	}
	pid := "pid " + strconv.Itoa(other.Process.Pid)
	if !strings.Contains(r.errs, pid) {
		t.Errorf("no message names the other server (%s):\n%s", pid, r.errs)
	}
	for _, tr := range readTrials(t, db).Trials {
		if tr.State == store.StateWaiting { // starting points queued for later
			continue
		}
		if tr.State == store.StateComplete || tr.Failure == nil || *tr.Failure != string(runner.Harness) {
			t.Errorf("trial %d: state %s, failure %s; want every trial a harness fault", tr.Number, tr.State, deref(tr.Failure))
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
