package runner

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestForeignListeners: a listener of this process is foreign to any other process group and ours to our own;
// addresses on other interfaces do not count, wildcard ones do.
func TestForeignListeners(t *testing.T) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1) })
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	me, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := foreignListeners("127.0.0.1", port, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if len(foreign) != 1 || len(foreign[0].holders) == 0 || foreign[0].holders[0].pid != os.Getpid() {
		t.Fatalf("foreign = %+v, want this process's listener", foreign)
	}
	if f, _ := foreignListeners("127.0.0.1", port, me.pgrp); len(f) != 0 {
		t.Errorf("our own group's listener counted as foreign: %+v", f)
	}
	if f, _ := foreignListeners("127.0.0.2", port, 1<<30); len(f) != 0 {
		t.Errorf("a listener on 127.0.0.1 counted for 127.0.0.2: %+v", f)
	}
	r := New(Options{Port: port})
	err = r.checkListeners(&proc{pid: 1 << 30}, "once the server was ready")
	if err == nil || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("checkListeners = %v, want an error naming pid %d", err, os.Getpid())
	}
	for in, want := range map[string]string{"0100007F:1F40": "127.0.0.1:8000", "00000000000000000000000000000000:1F40": "[::]:8000",
		"0000000000000000FFFF00000100007F:0050": "127.0.0.1:80"} {
		ip, p, ok := parseProcAddr(in)
		if got := net.JoinHostPort(ip.String(), strconv.Itoa(p)); !ok || got != want {
			t.Errorf("parseProcAddr(%s) = %s, %v; want %s", in, got, ok, want)
		}
	}
}
