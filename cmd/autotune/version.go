package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is autotune's version, recorded with every study. `make release` sets it (and commit) with
// -ldflags -X; a plain `go build` keeps the default and takes the commit from the build info.
var version = "0.1.0-dev"

// commit is the git commit autotune was built from; set by `make release`.
var commit = ""

// buildCommit returns the commit autotune was built from: the one `make release` stamped, else the one the Go
// toolchain recorded (vcs.revision, with "-dirty" when the tree had changes), else "unknown" (`go run` and
// test binaries record none).
func buildCommit() string {
	if commit != "" {
		return commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("version: unexpected argument %q", fs.Arg(0))
	}
	fmt.Fprintf(stdout, "autotune %s (commit %s, %s, %s/%s)\n", version, buildCommit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
