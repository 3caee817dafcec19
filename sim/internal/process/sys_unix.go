//go:build unix

package process

import (
	"os"
	"syscall"
)

// reusePort sets SO_REUSEADDR and SO_REUSEPORT on a socket before it binds, as vLLM binds (vllm.md §10.3).
func reusePort(fd uintptr) error {
	if err := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return err
	}
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT on Linux */, 1)
}

// lockFile takes an exclusive flock on f, when it can, and returns its release.
func lockFile(f *os.File) (unlock func()) {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return func() {}
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
}
