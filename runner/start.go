package runner

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// tokenEnv is the environment variable that carries Process.Token into the server and everything it forks.
const tokenEnv = "AUTOTUNE_SERVER_TOKEN"

// serveArgv is `<vllm...> serve MODEL --host H --port P <args>`.
func (r *Runner) serveArgv(model string, args []string) []string {
	argv := append([]string{}, r.opts.VLLM...)
	argv = append(argv, "serve", model, "--host", r.opts.Host, "--port", strconv.Itoa(r.opts.Port))
	return append(argv, args...)
}

// serverEnv is Options.Env, then Trial.Env in key order (a later KEY= wins), then the token.
func (r *Runner) serverEnv(extra map[string]string, token string) []string {
	env := append([]string{}, r.opts.Env...)
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	if len(r.opts.GPUs) > 0 {
		ids := make([]string, len(r.opts.GPUs))
		for i, g := range r.opts.GPUs {
			ids[i] = strconv.Itoa(g)
		}
		env = append(env, "CUDA_VISIBLE_DEVICES="+strings.Join(ids, ","))
	}
	return append(env, tokenEnv+"="+token)
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b[:])
}

// startServer creates the trial directory and server.log and starts the server.
func (r *Runner) startServer(t *Trial, res *Result) (*proc, error) {
	f, err := os.Create(res.ServerLog)
	if err != nil {
		return nil, fmt.Errorf("create server log: %w", err)
	}
	defer f.Close() // the child has its own descriptor
	token := newToken()
	srv, err := startProc(res.ServeArgv, r.serverEnv(t.Env, token), f, f)
	if err != nil {
		return nil, fmt.Errorf("start vllm serve: %w", err)
	}
	res.Process = Process{PID: srv.pid, PGID: srv.pid, StartTicks: srv.ticks, Host: r.opts.Host,
		Port: r.opts.Port, Token: token}
	r.track(srv)
	return srv, nil
}

// checkPort binds host:port the way a program that does not share ports would: without SO_REUSEPORT. vLLM binds
// with SO_REUSEADDR and SO_REUSEPORT (reference §10.3), so a server left listening there would not stop a new
// one from starting and would silently answer part of the benchmark; this bind fails on it.
func checkPort(host string, port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return &portBusyError{host: host, port: port, holder: portHolder(port), err: err}
	}
	return ln.Close()
}

type portBusyError struct {
	host   string
	port   int
	holder string
	err    error
}

func (e *portBusyError) Error() string {
	who := "another program"
	if e.holder != "" {
		who = e.holder
	}
	return fmt.Sprintf("port %d (%s) is already in use by %s (%v); autotune does not share it and does not stop "+
		"what it did not start: stop that program or choose another port", e.port, e.host, who, e.err)
}

func (e *portBusyError) Unwrap() error { return e.err }

// portHolder names the process listening on TCP port, e.g. `pid 123 (python3)`, when /proc shows it; else "".
// It only reads: it never signals anything.
func portHolder(port int) string {
	inodes := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			i := strings.LastIndexByte(fs[1], ':')
			if p, err := strconv.ParseUint(fs[1][i+1:], 16, 16); err == nil && int(p) == port {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
		f.Close()
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		fds, err := os.ReadDir(dir + "/fd")
		if err != nil {
			continue // not ours to read
		}
		for _, fd := range fds {
			if link, err := os.Readlink(dir + "/fd/" + fd.Name()); err == nil && inodes[link] {
				comm, _ := os.ReadFile(dir + "/comm")
				return fmt.Sprintf("pid %s (%s)", filepath.Base(dir), strings.TrimSpace(string(comm)))
			}
		}
	}
	return ""
}
