package runnertest

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nvidiaSMI answers `--query-gpu=FIELDS --format=csv,noheader,nounits` for one Tesla T4, the fields in the order
// asked, as nvidia-smi does.
func (f *fake) nvidiaSMI(args []string) int {
	if f.cfg.SMIFails {
		fmt.Fprintln(os.Stderr, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")
		return 9
	}
	if f.cfg.SMIWarns { // a warning on stderr, the answer on stdout
		fmt.Fprintln(os.Stderr, "WARNING: infoROM is corrupted at gpu 0000:00:04.0")
	}
	var fields []string
	format := ""
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "--query-gpu="):
			fields = strings.Split(strings.TrimPrefix(a, "--query-gpu="), ",")
		case strings.HasPrefix(a, "--format="):
			format = strings.TrimPrefix(a, "--format=")
		default:
			fmt.Fprintf(os.Stderr, "Invalid combination of input arguments: %s\n", a)
			return 2
		}
	}
	if len(fields) == 0 || format != "csv,noheader,nounits" {
		fmt.Fprintln(os.Stderr, "runnertest: the fake nvidia-smi answers --query-gpu=... --format=csv,noheader,nounits only")
		return 2
	}
	values := map[string]string{"name": "Tesla T4", "compute_cap": "7.5", "memory.total": "15360",
		"memory.used": strconv.Itoa(f.usedMiB())}
	out := make([]string, len(fields))
	for i, field := range fields {
		v, ok := values[field]
		if !ok {
			fmt.Fprintf(os.Stderr, "Field \"%s\" is not a valid field to query.\n", field)
			return 2
		}
		out[i] = v
	}
	fmt.Println(strings.Join(out, ", "))
	return 0
}

// usedMiB is the idle memory plus that of every live process holding some.
func (f *fake) usedMiB() int {
	used := f.cfg.IdleMiB
	files, _ := filepath.Glob(filepath.Join(f.state, "mem-*"))
	for _, file := range files {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(file), "mem-"))
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); !ok || !st.live() {
			continue
		}
		data, _ := os.ReadFile(file)
		n, _ := strconv.Atoi(string(data))
		used += n
	}
	return used
}

// holdMiB records that process pid holds mib of GPU memory for as long as it lives.
func (f *fake) holdMiB(pid, mib int) {
	_ = os.WriteFile(filepath.Join(f.state, "mem-"+strconv.Itoa(pid)), []byte(strconv.Itoa(mib)), 0o644)
}

// python answers `-c "import arctic_inference"`.
func (f *fake) python(args []string) int {
	if len(args) == 2 && args[0] == "-c" && args[1] == "import arctic_inference" {
		if f.cfg.Arctic {
			return 0
		}
		fmt.Fprintln(os.Stderr, "ModuleNotFoundError: No module named 'arctic_inference'")
		return 1
	}
	return 2
}

// engine is a server's engine core: it holds args[0] MiB of GPU memory until killed, ignoring SIGTERM when
// args[1] is "true".
func (f *fake) engine(args []string) int {
	if len(args) != 2 {
		return 2
	}
	if args[1] == "true" {
		signal.Ignore(syscall.SIGTERM)
	}
	mib, _ := strconv.Atoi(args[0])
	_ = os.WriteFile(filepath.Join(f.state, "engine-"+strconv.Itoa(os.Getpid())), nil, 0o644)
	f.holdMiB(os.Getpid(), mib) // last: the server waits for this file
	forever()
	return 0
}

// forever blocks until the process is killed. A bare select{} would not: without cgo, a process whose every
// goroutine blocks with no timer pending dies of "all goroutines are asleep".
func forever() {
	for {
		time.Sleep(time.Hour)
	}
}

// procStat is the part of /proc/<pid>/stat the fakes use.
type procStat struct {
	state byte
	ppid  int
}

// live: zombies hold no memory, port or file.
func (s procStat) live() bool { return s.state != 'Z' && s.state != 'X' }

func readStat(pid int) (procStat, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, false
	}
	// The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 2 || len(f[0]) == 0 {
		return procStat{}, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, false
	}
	return procStat{state: f[0][0], ppid: ppid}, true
}
