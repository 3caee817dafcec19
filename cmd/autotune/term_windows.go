//go:build windows

package main

import "os"

// terminalColumns: on Windows output is treated as plain lines (no live progress line); tables fit $COLUMNS.
func terminalColumns(*os.File) (int, bool) { return 0, false }
