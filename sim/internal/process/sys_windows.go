//go:build windows

package process

import "os"

// The simulator serves on Linux only, as the runner that starts it does; on Windows it builds (autotune's
// read-only commands work there) and binds and counts starts without the Unix socket options and locks.

func reusePort(uintptr) error { return nil }

func lockFile(*os.File) (unlock func()) { return func() {} }
