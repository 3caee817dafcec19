//go:build unix

package runnertest

import (
	"errors"
	"syscall"
	"testing"
)

// Port reserves a TCP port on 127.0.0.1 for the test's lifetime and returns it; see Ports.
func Port(t testing.TB) int {
	t.Helper()
	return Ports(t, 1)
}

// Ports reserves n consecutive TCP ports on 127.0.0.1 for the test's lifetime and returns the first.
//
// A port found by listening on port 0 and closing the listener is free only until someone else takes it: a
// parallel test's port 0, or the source port of any outgoing connection. Instead, the test holds one socket per
// port, bound but never listening, until it ends. The kernel then never hands the port out for port 0 or as a
// source port, and an exclusive bind (without SO_REUSEADDR, which is how each port is first taken here) fails, so
// no other test can reserve it. The socket has SO_REUSEADDR set after the bind, so that the test's own servers,
// which bind with SO_REUSEADDR like every Go listener and vLLM itself, can listen on the port; a socket that
// does not listen receives no connection and is no listener in /proc/net/tcp, so the runner's ownership check
// (runner/listeners.go) sees only the servers.
func Ports(t testing.TB, n int) int {
	t.Helper()
	for try := 0; try < 100; try++ {
		first, fds, err := reserve(n)
		if err == nil {
			t.Cleanup(func() {
				for _, fd := range fds {
					syscall.Close(fd)
				}
			})
			return first
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("reserve %d port(s) on 127.0.0.1: %v", n, err)
		}
	}
	t.Fatalf("reserve %d consecutive port(s) on 127.0.0.1: every try found one taken", n)
	return 0
}

// reserve binds the first port where the kernel chooses, then the next n-1 by number; on any error it closes
// what it bound.
func reserve(n int) (first int, fds []int, err error) {
	defer func() {
		if err != nil {
			for _, fd := range fds {
				syscall.Close(fd)
			}
			fds = nil
		}
	}()
	for i := 0; i < n; i++ {
		port := 0
		if i > 0 {
			port = first + i
			if port > 65535 {
				return 0, fds, syscall.EADDRINUSE
			}
		}
		fd, p, err := bindOnly(port)
		if err != nil {
			return 0, fds, err
		}
		fds = append(fds, fd)
		if i == 0 {
			first = p
		}
	}
	return first, fds, nil
}

// bindOnly binds a TCP socket to 127.0.0.1:port exclusively, then sets SO_REUSEADDR on it, and returns it and
// its port.
func bindOnly(port int) (int, int, error) {
	syscall.ForkLock.RLock() // no fork between socket and CloseOnExec: a child must not inherit the reservation
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return 0, 0, err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		return 0, 0, err
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		syscall.Close(fd)
		return 0, 0, err
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return 0, 0, err
	}
	return fd, sa.(*syscall.SockaddrInet4).Port, nil
}
