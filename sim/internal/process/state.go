package process

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The shared state of the simulated machine, in the directory named by AUTOTUNE_SIM_STATE (default: a
// directory under os.TempDir() keyed by the uid):
//
//	gpu/<pid>            GPU memory (MiB) held by a live simulated process, its start ticks and GPU index
//	compile_cache/<key>/ a torch.compile cache entry (vllm.md §12); absent means the next start compiles cold
//	starts               the number of server starts so far (seeds the run-to-run noise)
//
// nvidia-smi sums the gpu/ records whose process is still alive and removes the others, so memory is
// released exactly when the holding process is gone, as on a real GPU.

// machineState is the simulated machine's shared state directory.
type machineState struct{ Dir string }

// openState opens (creating) the state directory dir (Config.StateDir).
func openState(dir string) (*machineState, error) {
	for _, sub := range []string{"gpu", "compile_cache"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("sim state: %w", err)
		}
	}
	return &machineState{Dir: dir}, nil
}

// procStartTicks returns field 22 of /proc/<pid>/stat and whether the process exists and is not a zombie.
func procStartTicks(pid int) (uint64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is the state (field 3), fields[19] the start time (field 22).
	if len(fields) < 20 || fields[0] == "Z" || fields[0] == "X" {
		return 0, false
	}
	t, err := strconv.ParseUint(fields[19], 10, 64)
	return t, err == nil
}

// setGPU records that pid holds mib MiB of GPU memory on GPU 0 (0 removes the record).
func (s *machineState) setGPU(pid int, mib int) error { return s.setGPUOn(pid, mib, 0) }

// setGPUOn records that pid holds mib MiB of memory on GPU gpu (0 MiB removes the record).
func (s *machineState) setGPUOn(pid int, mib int, gpu int) error {
	path := filepath.Join(s.Dir, "gpu", strconv.Itoa(pid))
	if mib <= 0 {
		err := os.Remove(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	ticks, _ := procStartTicks(pid)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d %d %d\n", mib, ticks, gpu)), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// gpuUsedMiBOn sums the memory of live holders on one GPU (-1: all of them), except pid skip, removing records
// of dead processes.
func (s *machineState) gpuUsedMiBOn(gpu, skip int) int {
	entries, _ := os.ReadDir(filepath.Join(s.Dir, "gpu"))
	total := 0
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		path := filepath.Join(s.Dir, "gpu", ent.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var mib, idx int
		var ticks uint64
		fmt.Sscan(string(data), &mib, &ticks, &idx) // records without an index are GPU 0's
		now, alive := procStartTicks(pid)
		if !alive || (ticks != 0 && now != ticks) {
			os.Remove(path)
			continue
		}
		if pid != skip && (gpu < 0 || idx == gpu) {
			total += mib
		}
	}
	return total
}

// nextStart increments and returns the start counter (under an flock, so concurrent starts differ).
func (s *machineState) nextStart() int64 {
	path := filepath.Join(s.Dir, "starts")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0
	}
	defer f.Close()
	defer lockFile(f)()
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	cur, _ := strconv.ParseInt(strings.TrimSpace(string(buf[:n])), 10, 64)
	cur++
	f.Truncate(0)
	f.WriteAt([]byte(strconv.FormatInt(cur, 10)+"\n"), 0)
	return cur
}

// compileDir is the simulated torch.compile cache directory of a key.
func (s *machineState) compileDir(key string) string {
	return filepath.Join(s.Dir, "compile_cache", key, "rank_0_0", "backbone")
}

// compiled reports whether the compile cache holds key.
func (s *machineState) compiled(key string) bool {
	_, err := os.Stat(s.compileDir(key))
	return err == nil
}

// markCompiled stores key in the compile cache.
func (s *machineState) markCompiled(key string) {
	os.MkdirAll(s.compileDir(key), 0o755)
}
