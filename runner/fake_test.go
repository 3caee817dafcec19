package runner

// The fake machine is runnertest.Machine: this test binary re-executed as `vllm`, `nvidia-smi` and `python`.
// Re-executed as "parent" it plays autotune itself, for TestParentDeathKillsServer.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/autotune/autotune/runner/runnertest"
)

func TestMain(m *testing.M) {
	runnertest.Main()
	if len(os.Args) > 1 && os.Args[1] == "parent" && os.Getenv("RUNNER_FAKE_PARENT_OPTS") != "" {
		os.Exit(fakeParent(os.Args[2:]))
	}
	// Engine cores whose server died are reparented to the nearest subreaper, which then has to reap them.
	if err := runnertest.ReapOrphans(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	// Children re-exec this binary; built with -race, each would sleep 1 s at exit (TSan's atexit_sleep_ms).
	os.Setenv("GORACE", strings.TrimSpace("atexit_sleep_ms=0 "+os.Getenv("GORACE")))
	os.Exit(m.Run())
}

// fakeParent plays autotune itself: it runs one trial with server flags args[2:], records the server's Process
// as JSON in args[0] and waits to be killed (the test SIGKILLs it).
func fakeParent(args []string) int {
	var opts Options
	if err := json.Unmarshal([]byte(os.Getenv("RUNNER_FAKE_PARENT_OPTS")), &opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r := New(opts)
	r.Run(context.Background(), Trial{Dir: args[1], Args: args[2:], OnStart: func(p Process) {
		data, _ := json.Marshal(p)
		os.WriteFile(args[0]+".tmp", data, 0o644)
		os.Rename(args[0]+".tmp", args[0])
	}})
	return 0
}
