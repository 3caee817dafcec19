//go:build !linux

package runner

// Supported reports whether this system can run servers: never outside Linux.
func Supported() error { return ErrNeedsLinux }

func waitExited(int) {}

func readStat(int) (procStat, error) { return procStat{}, ErrNeedsLinux }

func groupMembers(int) (map[int]procStat, error) { return nil, ErrNeedsLinux }

// StartTicks is not available outside Linux.
func StartTicks(int) (uint64, error) { return 0, ErrNeedsLinux }
