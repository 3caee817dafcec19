package runner

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Two servers can listen on one port at once: vLLM binds with SO_REUSEADDR and SO_REUSEPORT (reference
// §10.3), and the kernel then spreads new connections between every listener on the port. checkPort, before
// the start, refuses a port already taken, but two autotunes (two studies on one --port) can both pass it and
// then start their servers: each benchmark then measures partly the other study's server, and /health answers
// for either. So the runner checks, once the server is ready and again after the benchmark, that every socket
// listening on the port belongs to a process of the trial's process group; anything else is a harness fault
// that names the other process, and the trial's numbers are not recorded as the config's.

// listener is a socket listening on the trial's port, and the processes that hold it.
type listener struct {
	addr    string
	inode   string
	holders []holder
}

type holder struct {
	pid  int
	pgrp int
	comm string
}

func (h holder) String() string { return fmt.Sprintf("pid %d (%s)", h.pid, h.comm) }

// foreignListeners returns the listeners on port that could receive connections made to host:port (the same
// address, a wildcard address, or any address when host is not an IP) and that no process of group pgid holds.
// A listener whose holder cannot be seen in /proc (another user's process, as non-root) counts as foreign.
func foreignListeners(host string, port, pgid int) ([]listener, error) {
	ls, err := listenersOn(host, port)
	if err != nil || len(ls) == 0 {
		return nil, err
	}
	byInode := map[string]*listener{}
	for i := range ls {
		byInode["socket:["+ls[i].inode+"]"] = &ls[i]
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(dir + "/fd")
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, fd := range fds {
			link, err := os.Readlink(dir + "/fd/" + fd.Name())
			if err != nil {
				continue
			}
			if l := byInode[link]; l != nil {
				h := holder{pid: pid, pgrp: -1}
				if st, err := readStat(pid); err == nil {
					h.pgrp = st.pgrp
				}
				comm, _ := os.ReadFile(dir + "/comm")
				h.comm = strings.TrimSpace(string(comm))
				l.holders = append(l.holders, h)
			}
		}
	}
	var foreign []listener
	for _, l := range ls {
		ours := false
		for _, h := range l.holders {
			ours = ours || h.pgrp == pgid
		}
		if !ours {
			foreign = append(foreign, l)
		}
	}
	return foreign, nil
}

// listenersOn reads /proc/net/tcp and tcp6 for LISTEN sockets on port that receive connections to host.
func listenersOn(host string, port int) ([]listener, error) {
	want := net.ParseIP(host)
	var out []listener
	read := 0
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		read++
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			ip, p, ok := parseProcAddr(fs[1])
			if !ok || p != port {
				continue
			}
			if want != nil && !ip.IsUnspecified() && !ip.Equal(want) {
				continue
			}
			out = append(out, listener{addr: net.JoinHostPort(ip.String(), strconv.Itoa(p)), inode: fs[9]})
		}
		f.Close()
	}
	if read == 0 {
		return nil, fmt.Errorf("cannot read /proc/net/tcp: the listeners on port %d cannot be checked", port)
	}
	return out, nil
}

// parseProcAddr parses a /proc/net/tcp address, "0100007F:1F40" (IPv4, little-endian) or 32 hex digits of IPv6
// in four little-endian 32-bit words, then the port.
func parseProcAddr(s string) (net.IP, int, bool) {
	a, p, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil {
		return nil, 0, false
	}
	b, err := hex.DecodeString(a)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil, 0, false
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b), int(port), true
}

// checkListeners is the ownership check: nil when only the trial's server group listens on the port.
func (r *Runner) checkListeners(srv *proc, when string) error {
	foreign, err := foreignListeners(r.opts.Host, r.opts.Port, srv.pid)
	if err != nil {
		return fmt.Errorf("%s: %w", when, err)
	}
	if len(foreign) == 0 {
		return nil
	}
	var who []string
	for _, l := range foreign {
		names := make([]string, 0, len(l.holders))
		for _, h := range l.holders {
			names = append(names, h.String())
		}
		sort.Strings(names)
		if len(names) == 0 {
			names = []string{"a process autotune cannot see in /proc"}
		}
		who = append(who, fmt.Sprintf("%s by %s", l.addr, strings.Join(names, ", ")))
	}
	return fmt.Errorf("%s, another server also listens on port %d (%s), so connections to the port went to "+
		"either: the trial's numbers are not its own and are not recorded as the config's. Is another autotune "+
		"using --port %d? Give each study its own --port", when, r.opts.Port, strings.Join(who, "; "), r.opts.Port)
}

// wrongServerLine matches the errors `vllm bench serve` prints for a request that reached no server or another
// program (§13.7: `Error i: <reason>`): connection refused, or 404 Not Found.
var (
	wrongServerLine = regexp.MustCompile(`(?i)Connection refused|Cannot connect to host|Connect call failed|\bNot Found\b|\b404\b`)
	benchErrorLine  = regexp.MustCompile(`^Error \d+:`)
)

// wrongServer reports whether every request failed and every error the benchmark printed says the request
// reached no server or another program: a harness fault (nothing served the trial), not the config's failure.
func wrongServer(b *Bench, benchLog string) (string, bool) {
	if b == nil || b.Completed != 0 || b.NumPrompts <= 0 {
		return "", false
	}
	n, matched := 0, ""
	for _, line := range strings.Split(string(readLogEnd(benchLog, maxScan)), "\n") {
		i := strings.Index(line, "Error ")
		if i < 0 || !benchErrorLine.MatchString(line[i:]) {
			continue
		}
		n++
		if !wrongServerLine.MatchString(line) {
			return "", false
		}
		if matched == "" {
			matched = strings.TrimSpace(line[i:])
		}
	}
	if n == 0 {
		return "", false
	}
	return fmt.Sprintf("all %d requests failed, every error saying that no server or another program answered "+
		"(%s): the trial's server was not the one answering, which says nothing about the config", b.NumPrompts,
		clip(matched, 200)), true
}
