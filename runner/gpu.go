package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// smiQuery is the nvidia-smi query of reference §16 / issue 3: one CSV line per GPU, memory in MiB.
var smiQuery = []string{"--query-gpu=name,compute_cap,memory.total,memory.used", "--format=csv,noheader,nounits"}

// queryGPUs runs the nvidia-smi query and parses its lines. A memory value nvidia-smi cannot report
// ("[N/A]") is -1.
func (r *Runner) queryGPUs(ctx context.Context) ([]GPU, error) {
	argv := append(append([]string{}, r.opts.NvidiaSMI...), smiQuery...)
	out, _, err := r.capture(ctx, argv, r.smiTimeout) // stdout only: nvidia-smi may warn on stderr
	if err != nil {
		return nil, err
	}
	gpus, err := parseGPUs(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return gpus, nil
}

func parseGPUs(out []byte) ([]GPU, error) {
	var gpus []GPU
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 4 {
			return nil, fmt.Errorf("unexpected line %q (want name, compute_cap, memory.total, memory.used)", line)
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		g := GPU{Name: f[0], MemoryTotalMiB: smiInt(f[2]), MemoryUsedMiB: smiInt(f[3])}
		g.ComputeCap, _ = strconv.ParseFloat(f[1], 64)
		gpus = append(gpus, g)
	}
	if len(gpus) == 0 {
		return nil, errors.New("no GPU listed")
	}
	return gpus, nil
}

func smiInt(s string) int {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1 // [N/A], [Not Supported]
	}
	return int(v)
}

// slackMiB is how far memory.used may sit above a GPU's idle baseline and still count as released: 5% of the
// GPU (768 MiB on a T4), at least 256 MiB. A left-over vLLM holds far more (weights alone are ~1 GiB).
func slackMiB(total int) int { return max(256, total/20) }

// busyGPUs records each reading into the idle baselines and describes every GPU whose memory.used is above its
// limit. A GPU's baseline is the lowest memory.used this Runner has seen on it; its limit is
// min(baseline, slack) + slack, so memory that was already held at the first look (a left-over server) never
// raises the limit above 2×slack.
func (r *Runner) busyGPUs(gpus []GPU) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var busy []string
	for i, g := range gpus {
		if g.MemoryUsedMiB < 0 || g.MemoryTotalMiB <= 0 || (len(r.opts.GPUs) > 0 && !slices.Contains(r.opts.GPUs, i)) {
			continue
		}
		if b, ok := r.idle[i]; !ok || g.MemoryUsedMiB < b {
			r.idle[i] = g.MemoryUsedMiB
		}
		slack := slackMiB(g.MemoryTotalMiB)
		limit := min(r.idle[i], slack) + slack
		if g.MemoryUsedMiB > limit {
			busy = append(busy, fmt.Sprintf("GPU %d (%s) has %d of %d MiB in use (idle baseline %d MiB, limit %d MiB)",
				i, g.Name, g.MemoryUsedMiB, g.MemoryTotalMiB, r.idle[i], limit))
		}
	}
	return busy
}

type gpuBusyError struct{ busy []string }

func (e *gpuBusyError) Error() string { return strings.Join(e.busy, "; ") }

// checkGPU is the check before a start: every GPU's memory must be at its idle baseline.
func (r *Runner) checkGPU(ctx context.Context) error {
	gpus, err := r.queryGPUs(ctx)
	if err != nil {
		return fmt.Errorf("query GPU memory before starting the server: %w", err)
	}
	if busy := r.busyGPUs(gpus); len(busy) > 0 {
		return fmt.Errorf("GPU memory is in use before the server starts: %s; a vLLM server may be left over from "+
			"an earlier run (vLLM would fail with \"Free memory on device ... on startup is less than desired GPU "+
			"memory utilization\"); stop it (a rerun of autotune stops a server it recorded) and try again",
			strings.Join(busy, "; "))
	}
	return nil
}

// capture runs a short command (nvidia-smi, vllm --version, python) in its own process group with the
// Options environment and returns its standard output and standard error, kept apart so that a warning on
// stderr never reaches a parser of stdout. It fails when the command cannot start, exits non-zero or outlives
// timeout or ctx; the error names the command and quotes the last line it printed (stderr first).
func (r *Runner) capture(ctx context.Context, argv []string, timeout time.Duration) (stdout, stderr []byte, err error) {
	var outBuf, errBuf bytes.Buffer
	name := strings.Join(argv, " ")
	p, err := startProc(argv, r.opts.Env, &outBuf, &errBuf)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	var why error
	select {
	case <-p.exited:
	case <-ctx.Done():
		why = ctx.Err()
	case <-t.C:
		why = fmt.Errorf("no answer within %v", timeout)
	}
	_ = terminate(p, 0, time.Now().Add(5*time.Second))
	select {
	case <-p.reaped:
	default: // stuck in the kernel even after SIGKILL: its output may still be written to, so leave the buffers alone
		return nil, nil, fmt.Errorf("%s: did not exit after SIGKILL", name)
	}
	stdout, stderr = outBuf.Bytes(), errBuf.Bytes()
	if why != nil {
		return stdout, stderr, fmt.Errorf("%s: %w", name, why)
	}
	if p.state == nil || !p.state.Success() {
		last := lastLine(stderr)
		if last == "" {
			last = lastLine(stdout)
		}
		return stdout, stderr, fmt.Errorf("%s: %w: %s", name, &exitStatusError{p.exitText()}, last)
	}
	return stdout, stderr, nil
}

// exitStatusError is a command that ran and failed, as opposed to one that could not run.
type exitStatusError struct{ status string }

func (e *exitStatusError) Error() string { return e.status }

// lastLine is the last non-empty line of out, at most 300 bytes.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return clip(strings.TrimSpace(lines[len(lines)-1]), 300)
}

// clip cuts s to at most n bytes, at a character boundary, and marks the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
