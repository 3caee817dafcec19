package runnertest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeArg is the first argument of the test binary re-executed as a fake command: `<test binary> runnertest-fake
// <state folder> vllm|nvidia-smi|python|engine ...`. The state folder in argv rather than the environment lets
// code that passes its own environment on (cmd passes os.Environ) run the fakes of parallel tests side by side.
const fakeArg = "runnertest-fake"

// Machine is one test's fake GPU machine: the commands that stand in for vllm, nvidia-smi and python, the state
// they share (GPU memory, events), the environment its processes get and a port reserved for its server.
//
// GPU memory is files <State>/mem-<pid> holding MiB; the fake nvidia-smi adds up those of live PIDs to Config's
// IdleMiB. A fake server may fork an engine core (Serve.EngineMiB) into its process group, like vLLM's, which
// holds its memory until it is killed.
type Machine struct {
	VLLM      []string // `vllm`: version, serve --help, serve (see Serve), bench serve (see Bench)
	NvidiaSMI []string // `nvidia-smi --query-gpu=... --format=csv,noheader,nounits`: one Tesla T4
	Python    []string // `python -c "import arctic_inference"`: succeeds when Config.Arctic
	// Env is the environment every process on the machine needs: TrackChildren's entry (any of them alive after
	// the test fails it) and GORACE without the race detector's one-second sleep at exit.
	Env   []string
	Port  int    // reserved for the test (see Port)
	State string // the fakes' shared folder
}

// Config is how a Machine differs from a healthy T4 with vLLM 0.15.1 and nothing else running.
type Config struct {
	IdleMiB  int      // GPU memory that something outside the test holds
	SMIFails bool     // nvidia-smi cannot reach the driver: exit 9
	SMIWarns bool     // nvidia-smi warns on stderr before its answer
	Help     HelpMode // what `vllm serve --help=all` and `--help` do
	Arctic   bool     // arctic-inference is installed
}

// HelpMode is how `vllm serve --help` behaves.
type HelpMode string

const (
	HelpFull     HelpMode = ""        // --help=all lists every flag, --help a few (vLLM 0.15)
	HelpFilter   HelpMode = "filter"  // --help=all is a keyword filter, --help lists every flag (vLLM 0.10.2)
	HelpAllFails HelpMode = "allfail" // --help=all fails, --help works
	HelpFails    HelpMode = "fail"    // both fail (no GPU to infer a device from)
)

// NewMachine returns a fresh Machine for t.
func NewMachine(t testing.TB, cfg Config) *Machine {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	if strings.ContainsAny(exe+state, " \t\n") {
		t.Fatalf("runnertest: %s or %s holds white space, which splits a command given as one flag", exe, state)
	}
	data, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(state, configFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	machines.Store(state, true)
	t.Cleanup(func() { machines.Delete(state) })
	cmd := func(name string) []string { return []string{exe, fakeArg, state, name} }
	return &Machine{
		VLLM: cmd("vllm"), NvidiaSMI: cmd("nvidia-smi"), Python: cmd("python"),
		Env:   []string{TrackChildren(t), "GORACE=atexit_sleep_ms=0"},
		Port:  Port(t),
		State: state,
	}
}

const (
	configFile = "machine.json"
	eventsFile = "events"
)

// machines are the State folders of the live Machines, for ReapOrphans.
var machines sync.Map

// Main runs the fake command this process was started as and exits with its status, when it was started as one
// of a Machine's commands; otherwise it returns at once. Call it first in TestMain.
func Main() {
	if len(os.Args) < 4 || os.Args[1] != fakeArg {
		return
	}
	state, name, args := os.Args[2], os.Args[3], os.Args[4:]
	var cfg Config
	if data, err := os.ReadFile(filepath.Join(state, configFile)); err == nil {
		_ = json.Unmarshal(data, &cfg)
	}
	f := &fake{state: state, cfg: cfg}
	code := 99
	switch name {
	case "vllm":
		code = f.vllm(args)
	case "nvidia-smi":
		code = f.nvidiaSMI(args)
	case "python":
		code = f.python(args)
	case "engine":
		code = f.engine(args)
	default:
		fmt.Fprintln(os.Stderr, "runnertest: unknown fake", name)
	}
	os.Exit(code)
}

// fake is one fake command's view of its Machine.
type fake struct {
	state string
	cfg   Config
}

// HeldMiB is the GPU memory that live processes of the Machine hold now (nvidia-smi adds Config.IdleMiB).
func (m *Machine) HeldMiB() int { return (&fake{state: m.State}).usedMiB() }

// EnginePIDs lists the engine cores of the Machine's servers that are still alive.
func (m *Machine) EnginePIDs() []int {
	var pids []int
	for _, pid := range enginePIDs(m.State) {
		if st, ok := readStat(pid); ok && st.live() {
			pids = append(pids, pid)
		}
	}
	return pids
}

func enginePIDs(state string) []int {
	files, _ := filepath.Glob(filepath.Join(state, "engine-*"))
	var pids []int
	for _, file := range files {
		if pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(file), "engine-")); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Event is something a fake did that a test can wait for instead of sleeping.
type Event string

const (
	// Serving: the server has set up its signal handling and its engine core, and now heads for readiness
	// (or for its startup failure, or waits forever with NeverReady).
	Serving Event = "serving"
	// BenchRequest: the benchmark's first request reached the server.
	BenchRequest Event = "bench-request"
	// TermIgnored: a server started with IgnoreTerm got SIGTERM and carried on.
	TermIgnored Event = "term-ignored"
)

// record appends e to the Machine's event log. Lines this short are written whole by one O_APPEND write.
func (f *fake) record(e Event) {
	file, err := os.OpenFile(filepath.Join(f.state, eventsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(file, "%s %d\n", e, os.Getpid())
	file.Close()
}

// Saw reports whether any fake of the Machine has recorded e.
func (m *Machine) Saw(e Event) bool {
	data, _ := os.ReadFile(filepath.Join(m.State, eventsFile))
	for _, line := range strings.Split(string(data), "\n") {
		if name, _, _ := strings.Cut(line, " "); name == string(e) {
			return true
		}
	}
	return false
}

// Await returns a channel that is closed once a fake of the Machine records e. It polls the event log until
// then, or until the test ends.
func (m *Machine) Await(t testing.TB, e Event) <-chan struct{} {
	seen, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for !m.Saw(e) {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		close(seen)
	}()
	return seen
}
