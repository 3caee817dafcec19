package diskfree

import (
	"runtime"
	"testing"
)

// TestBytesOfATempDir: a folder the test can write to has some free space, and it is known on Unix.
func TestBytesOfATempDir(t *testing.T) {
	n, ok := Bytes(t.TempDir())
	if runtime.GOOS == "windows" {
		if ok {
			t.Errorf("Bytes on Windows = %d, true; it is not looked up there", n)
		}
		return
	}
	if !ok || n == 0 {
		t.Errorf("Bytes(temp dir) = %d, %v; want some known free space", n, ok)
	}
	if _, ok := Bytes("/no/such/folder"); ok {
		t.Error("Bytes of a missing folder is known")
	}
}
