//go:build linux

package runner

// This file holds what autotune needs from Linux to own the processes it starts: a parent-death signal,
// waitid(WNOWAIT) and /proc. proc_other.go refuses to start anything elsewhere.

import (
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// Supported reports whether this system can run servers: nil on Linux.
func Supported() error { return nil }

// groupAttr makes the child the leader of a new process group, killed if autotune dies.
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:   true,            // vLLM forks an engine core: signal the whole group
		Pdeathsig: syscall.SIGKILL, // the server must never outlive autotune
	}
}

const (
	pPID    = 1         // idtype_t P_PID
	wEXITED = 0x4       // WEXITED
	wNOWAIT = 0x1000000 // WNOWAIT
)

// waitExited blocks until process pid (our child) has exited, without reaping it.
func waitExited(pid int) {
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), wEXITED|wNOWAIT, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		return // 0, or an error such as ECHILD: either way there is nothing left to wait for
	}
}

// readStat reads /proc/<pid>/stat.
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(data)
}

// groupMembers lists the processes whose process group is pgid, zombies included.
func groupMembers(pgid int) (map[int]procStat, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	m := make(map[int]procStat)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.pgrp != pgid {
			continue // gone meanwhile, or another group
		}
		m[pid] = st
	}
	return m, nil
}

// StartTicks is a live process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat): with the
// PID, it identifies a process across PID reuse. Callers use it to identify themselves (the study lock).
func StartTicks(pid int) (uint64, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return st.start, nil
}
