//go:build unix

// Package diskfree tells how much space is left on a folder's disk, where the system can say.
package diskfree

import "syscall"

// Bytes is the space left to an unprivileged writer on the file system of dir; false when it cannot be read.
func Bytes(dir string) (uint64, bool) {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}
