// Package runnertest holds the test doubles of package runner, for its tests and for those of code that runs
// trials through it (cmd/autotune).
//
// Machine is the one fake vLLM machine: the test binary re-executed as `vllm` (version, serve --help, serve,
// bench serve), `nvidia-smi` and `python` (the helper-process pattern of os/exec's own tests; call Main first in
// TestMain). Serve and Bench are the scenarios a test asks the fake server and benchmark for, through the flags
// the runner passes on; Events (Await) let a test act when a fake reaches a point instead of after a sleep.
//
// Port reserves a port for a test's servers for as long as the test runs, instead of handing on one that was
// free a moment ago.
//
// TrackChildren fails a test that leaves a process behind. It marks the processes a test starts with an
// environment entry, which everything they fork inherits (a vLLM engine core, a process that escaped its group
// with setsid, an orphan adopted by init), so that it finds them wherever they ended up, where a check of the
// server's process group or of the test's children would miss them.
package runnertest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// leakWait is how long the check waits for marked processes to exit on their own (a server reaped just before
// the test returned may still be on its way out). It is a bound on waiting, not on how fast anything must be.
var leakWait = 10 * time.Second

// TrackChildren returns an environment entry (NAME=VALUE) to add to the environment of every process the test
// starts (runner.Options.Env, or t.Setenv of it for code that passes os.Environ on). When the test ends, any
// live process carrying it fails the test with its PID and command line, and is then killed: only this test's
// processes carry the entry, so nothing else is touched.
func TrackChildren(t testing.TB) string {
	t.Helper()
	var b [12]byte
	_, _ = rand.Read(b[:])
	entry := "RUNNERTEST_LEAK_TOKEN=" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		var left []int
		deadline := time.Now().Add(leakWait)
		for {
			left = marked(entry)
			if len(left) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, pid := range left {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			t.Errorf("process %d outlived the test (%s after it ended): %s", pid, leakWait,
				strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")))
			_ = killProcess(pid)
		}
	})
	return entry
}

// marked lists the live processes (zombies aside: they hold nothing) whose environment holds entry.
func marked(entry string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, dir := range dirs {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(dir + "/environ")
		if err != nil || !bytes.Contains(append(append([]byte{0}, env...), 0), []byte("\x00"+entry+"\x00")) {
			continue
		}
		if st, ok := readStat(pid); ok && !st.live() {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}
