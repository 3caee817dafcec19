package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sim"
	"github.com/autotune/autotune/store"
	"github.com/autotune/autotune/tuner"
)

// Exit codes (DESIGN.md).
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// version is autotune's version, recorded with every study.
const version = "0.1.0-dev"

// usageError marks bad usage or input: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// run is the whole command line, testable in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	if cmd == "sim" {
		return sim.Main(ctx, args, stdout, stderr)
	}
	var err error
	switch cmd {
	case "run":
		err = runStudy(ctx, args, stdout, stderr)
	case "best":
		err = runBest(args, stdout, stderr)
	case "trials":
		err = runTrials(args, stdout, stderr)
	case "show":
		err = runShow(args, stdout, stderr)
	case "space":
		err = runSpace(ctx, args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, topUsage)
		return exitOK
	default:
		err = usagef("unknown command %q (commands: run, best, trials, show, space, sim)", cmd)
	}
	return report(err, stderr)
}

const topUsage = `autotune finds the fastest vllm serve configuration for one GPU under latency SLAs.

Usage:
  autotune [run] [flags]            run, or resume, the study in --db until it has --trials finished trials
  autotune best [--export FILE]     the best config against the baseline, or as a script
  autotune trials [--format table|json|csv]
  autotune show N                   one trial: command line, metrics, failure, where its logs are
  autotune space                    the search space in force for this GPU and vLLM, and what was left out
  autotune sim ...                  the simulated vLLM behind --simulate

Run 'autotune <command> --help' for the flags of a command.
`

// errInterrupted is returned by commands that stopped on a signal.
var errInterrupted = errors.New("interrupted")

// report prints err (one line) and maps it to an exit code.
func report(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, pflag.ErrHelp) {
		return exitOK
	}
	if errors.Is(err, errInterrupted) || errors.Is(err, context.Canceled) {
		return exitInterrupted
	}
	// One line: joined errors (several probes failing) are separated by "; ".
	fmt.Fprintf(stderr, "autotune: %s\n", strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "))
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, store.ErrBadDatabase) || errors.Is(err, tuner.ErrIncompatible) ||
		errors.Is(err, store.ErrNoStudy) || errors.Is(err, store.ErrNoTrial) || errors.Is(err, store.ErrLocked) {
		return exitUsage
	}
	return exitFailed
}

// newFlagSet returns a flag set whose errors name the command and go to stderr.
func newFlagSet(name string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("autotune "+name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	return fs
}

// parseFlags parses args, turning parse errors into usage errors.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usagef("%s: %v", strings.TrimPrefix(fs.Name(), "autotune "), err)
	}
	return nil
}

// serverSet remembers the process groups of servers we started, so that a second Ctrl-C can kill them at once.
type serverSet struct {
	mu    sync.Mutex
	pgids map[int]bool
}

var servers = &serverSet{pgids: map[int]bool{}}

func (s *serverSet) remove(p runner.Process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pgids, p.PGID)
}

func (s *serverSet) add(p runner.Process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.PGID > 0 {
		s.pgids[p.PGID] = true
	}
}

// killAll sends SIGKILL to every process group we started; groups already gone answer ESRCH.
func (s *serverSet) killAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for pgid := range s.pgids {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// isSimChild reports whether this process is the simulator (`autotune sim ...`), which handles its own signals.
func isSimChild(args []string) bool { return len(args) > 0 && args[0] == "sim" }

// trackingRunner records the process group of each server from its start until the runner is about to reap it
// (after that its ID may be reused by processes we did not start), for the second Ctrl-C.
type trackingRunner struct{ inner tuner.Runner }

func (r trackingRunner) Run(ctx context.Context, t runner.Trial) runner.Result {
	onStart, onStop := t.OnStart, t.OnStop
	t.OnStart = func(p runner.Process) {
		servers.add(p)
		if onStart != nil {
			onStart(p)
		}
	}
	t.OnStop = func(p runner.Process) {
		servers.remove(p)
		if onStop != nil {
			onStop(p)
		}
	}
	return r.inner.Run(ctx, t)
}
