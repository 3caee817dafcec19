package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/autotune/autotune/internal/didyoumean"
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

// usageError marks bad usage or input: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// run is the whole command line, testable in-process, without signal handling (see runWithSignals).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runCommand(ctx, &session{}, args, stdout, stderr)
}

// hardStop bounds how long the command may take to record the interrupted trial and release the study after
// the second interrupt; the servers are already dead by then, so only database writes remain.
const hardStop = 20 * time.Second

// runWithSignals is run with interrupts read from sigs (main passes SIGINT and SIGTERM; tests their own
// channel). The first cancels the context: the current trial's server is stopped cleanly (SIGTERM, then the
// grace period), the trial recorded as interrupted, the best so far printed, exit 130. The second stops every
// server the runner started at once (Runner.StopAll) and the same path then records the trial and releases
// the study without waiting for the grace period; if that takes longer than hardStop, or on a third
// interrupt, it returns 130 at once, and the next run recovers the trial. A command that started no runner
// (a report waiting for a busy database, say) returns 130 on the second interrupt.
func runWithSignals(sigs <-chan os.Signal, args []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &session{}
	done := make(chan int, 1)
	go func() { done <- runCommand(ctx, s, args, stdout, stderr) }()
	var giveUp <-chan time.Time
	for n := 1; ; n++ {
		select {
		case code := <-done:
			return code
		case <-sigs:
		case <-giveUp:
			fmt.Fprintf(stderr, "autotune: still not done %s after the second interrupt; exiting: the next run recovers the trial\n", hardStop)
			return exitInterrupted
		}
		switch n {
		case 1:
			fmt.Fprintln(stderr, "autotune: interrupted; stopping the current trial's server cleanly (press Ctrl-C again to stop at once)")
			cancel()
		case 2:
			if s.stopAll() == 0 { // no study running: nothing to record or release, nothing to wait for
				return exitInterrupted
			}
			fmt.Fprintln(stderr, "autotune: interrupted again; killing the servers autotune started, recording the trial as interrupted")
			giveUp = time.After(hardStop)
		default:
			return exitInterrupted
		}
	}
}

// session is what one command started that a second interrupt must stop at once.
type session struct {
	mu       sync.Mutex
	runners  []*runner.Runner
	stopping bool
}

// add registers r; after stopAll it is stopped at once.
func (s *session) add(r *runner.Runner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runners = append(s.runners, r)
	if s.stopping {
		r.StopAll()
	}
}

// stopAll stops every registered runner's servers and returns how many runners there were.
func (s *session) stopAll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	for _, r := range s.runners {
		r.StopAll()
	}
	return len(s.runners)
}

// runCommand runs one command of the command line.
func runCommand(ctx context.Context, s *session, args []string, stdout, stderr io.Writer) int {
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
		err = runStudy(ctx, s, args, stdout, stderr)
	case "best":
		err = runBest(args, stdout, stderr)
	case "trials":
		err = runTrials(args, stdout, stderr)
	case "show":
		err = runShow(args, stdout, stderr)
	case "space":
		err = runSpace(ctx, args, stdout, stderr)
	case "report":
		err = runReport(args, stdout, stderr)
	case "version":
		err = runVersion(args, stdout, stderr)
	case "help":
		if len(args) > 0 && args[0] != "help" && args[0] != "sim" { // help CMD: CMD's help
			return run(ctx, []string{args[0], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, topUsage)
		return exitOK
	default:
		hint := ""
		if near, ok := didyoumean.Closest(cmd, commandNames); ok {
			hint = fmt.Sprintf("; did you mean %q?", near)
		}
		err = usagef("unknown command %q%s (commands: %s)", cmd, hint, strings.Join(commandNames, ", "))
	}
	return report(err, stdout, stderr)
}

// commandNames are autotune's commands, in the order help lists them.
var commandNames = []string{"run", "best", "trials", "show", "report", "space", "sim", "version", "help"}

// commandSynopsis is the first line of each command's help.
var commandSynopsis = map[string]string{
	"run":     "autotune [run] [flags]\n  Run, or resume, the study in --db until it has --trials finished trials.",
	"best":    "autotune best [flags]\n  The best config against the baseline, or (--export FILE, - for stdout) as a script that starts it.",
	"trials":  "autotune trials [flags]\n  Every trial of the study: a table, JSON or CSV.",
	"show":    "autotune show [flags] N\n  Trial N: command line, metrics, failure, where its logs are.",
	"report":  "autotune report --html FILE [flags]\n  The study as one self-contained HTML page with plots (nothing is fetched when it is viewed).",
	"space":   "autotune space [flags]\n  The search space in force for this GPU and vLLM, and what was left out.",
	"version": "autotune version\n  autotune's version and the commit it was built from.",
}

const topUsage = `autotune finds the fastest vllm serve configuration for one GPU under latency SLAs.

Usage:
  autotune [run] [flags]            run, or resume, the study in --db until it has --trials finished trials
  autotune best [--export FILE]     the best config against the baseline, or as a script
  autotune trials [--format table|json|csv]
  autotune show N                   one trial: command line, metrics, failure, where its logs are
  autotune report --html FILE       the study as one self-contained HTML page with plots
  autotune space                    the search space in force for this GPU and vLLM, and what was left out
  autotune sim ...                  the simulated vLLM behind --simulate
  autotune version                  the version and the commit autotune was built from

Run 'autotune <command> --help' for the flags of a command.
`

// errInterrupted is returned by commands that stopped on a signal.
var errInterrupted = errors.New("interrupted")

// helpRequested is what parsing returns for --help or -h: report prints the command's help on stdout, since
// help is the result the user asked for (`autotune --help | grep port`), and exits 0.
type helpRequested struct{ fs *pflag.FlagSet }

func (h helpRequested) Error() string { return "help requested" }
func (h helpRequested) Unwrap() error { return pflag.ErrHelp }

// commandUsage is the help of the command whose flag set is fs: what it does, then only its own flags.
func commandUsage(fs *pflag.FlagSet) string {
	name := strings.TrimPrefix(fs.Name(), "autotune ")
	var b strings.Builder
	if name == "run" { // run is the default command: its help lists the others too
		b.WriteString(topUsage + "\n")
	}
	if syn, ok := commandSynopsis[name]; ok {
		fmt.Fprintf(&b, "Usage: %s\n", syn)
	}
	if flags := fs.FlagUsages(); flags != "" {
		fmt.Fprintf(&b, "\nFlags of autotune %s:\n%s", name, flags)
	}
	return b.String()
}

// report prints err (one line) and maps it to an exit code. Help asked for goes to stdout.
func report(err error, stdout, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var help helpRequested
	if errors.As(err, &help) {
		fmt.Fprint(stdout, commandUsage(help.fs))
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
		errors.Is(err, store.ErrNoStudy) || errors.Is(err, store.ErrNoTrial) {
		return exitUsage
	}
	return exitFailed
}

// newFlagSet returns the flag set of one command. It prints nothing itself: parse errors come back as usage
// errors (report prints them on stderr), --help as helpRequested (report prints the help on stdout).
func newFlagSet(name string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("autotune "+name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	fs.SortFlags = false
	return fs
}

// parseFlags parses args, turning parse errors into usage errors that name the flag, suggest the flag that was
// probably meant, and say where the flags are listed.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil {
		return nil
	}
	if errors.Is(err, pflag.ErrHelp) {
		return helpRequested{fs}
	}
	name := strings.TrimPrefix(fs.Name(), "autotune ")
	var flags []string
	fs.VisitAll(func(f *pflag.Flag) { flags = append(flags, f.Name) })
	hint := ""
	var ne *pflag.NotExistError
	if errors.As(err, &ne) {
		if short := ne.GetSpecifiedShortnames(); short != "" && slices.Contains(flags, strings.SplitN(short, "=", 2)[0]) {
			// -trials 6: Go's flag package style; pflag reads it as the shorthands t, r, i, ...
			err = fmt.Errorf("unknown flag: -%s", short)
			hint = fmt.Sprintf("; did you mean --%s? (long flags take two dashes)", strings.SplitN(short, "=", 2)[0])
		} else if near, ok := didyoumean.Closest(ne.GetSpecifiedName(), flags); ok && short == "" {
			hint = fmt.Sprintf("; did you mean --%s?", near)
		} else if name != "run" && short == "" && isRunFlag(ne.GetSpecifiedName()) {
			hint = fmt.Sprintf("; --%s is a flag of autotune run, which starts servers and benchmarks them", ne.GetSpecifiedName())
		}
	}
	helpCmd := "autotune " + name + " --help"
	if name == "run" {
		helpCmd = "autotune --help"
	}
	return usagef("%s: %v%s (%s lists the flags)", name, err, hint, helpCmd)
}

// isRunFlag reports whether name is one of the flags that say where `autotune run` serves and what it benchmarks.
func isRunFlag(name string) bool {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	var m machineFlags
	m.register(fs, true)
	return fs.Lookup(name) != nil
}

// isSimChild reports whether this process is the simulator (`autotune sim ...`), which handles its own signals.
func isSimChild(args []string) bool { return len(args) > 0 && args[0] == "sim" }
