package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// minHelpFlags is how many flags a full `vllm serve` help lists at least. vLLM 0.10.2 reads --help=all as a
// keyword filter (a handful of flags) and recent versions print a short grouped --help (reference §2.2), so
// fewer flags than this means "not the full list".
const minHelpFlags = 60

// Probe learns, once per study, what the machine and the vLLM install can do: the GPUs (nvidia-smi), the vLLM
// version (`vllm --version`), the flags `vllm serve` accepts (`vllm serve --help=all`, falling back to
// `--help`), and whether optional packages import (`<python> -c "import arctic_inference"`).
//
// The error names each command that failed among nvidia-smi and `vllm --version`, the facts a study cannot do
// without; the Probe still holds every part that succeeded. The other parts never make an error: ServeFlags is
// nil when no help could be read, which must not be taken as "flag absent" (some versions need a GPU even to
// print help: use a table of flags by version instead), and a package whose import fails, or whose python
// cannot run, is false.
func (r *Runner) Probe(ctx context.Context) (Probe, error) {
	var p Probe
	var errs []error
	if gpus, err := r.queryGPUs(ctx); err != nil {
		errs = append(errs, fmt.Errorf("probe GPUs: %w", err))
	} else {
		p.GPUs = gpus
		r.busyGPUs(gpus) // the first look gives the idle baselines
	}

	if out, err := r.captureAll(ctx, r.vllmArgv("--version"), r.vllmTimeout); err != nil {
		errs = append(errs, fmt.Errorf("probe vLLM version: %w", err))
	} else if p.VLLMVersion = parseVersion(out); p.VLLMVersion == "" {
		errs = append(errs, fmt.Errorf("probe vLLM version: %s printed no version: %q",
			strings.Join(r.vllmArgv("--version"), " "), lastLine(out)))
	}

	p.ServeHelp, p.ServeFlags = r.serveHelp(ctx)

	_, _, err := r.capture(ctx, append(append([]string{}, r.python()...), "-c", "import arctic_inference"), r.smiTimeout)
	p.Packages = map[string]bool{ArcticInference: err == nil}
	return p, errors.Join(errs...)
}

// captureAll is capture with stdout and stderr together, for vLLM's own output: which stream a version or a
// help text goes to is not something the probes should depend on.
func (r *Runner) captureAll(ctx context.Context, argv []string, timeout time.Duration) ([]byte, error) {
	stdout, stderr, err := r.capture(ctx, argv, timeout)
	return append(stdout, stderr...), err
}

func (r *Runner) vllmArgv(args ...string) []string {
	return append(append([]string{}, r.opts.VLLM...), args...)
}

// serveHelp reads `vllm serve --help=all`, and `vllm serve --help` when that fails or lists few flags; it keeps
// the answer that lists more flags. Both failing gives "", nil.
func (r *Runner) serveHelp(ctx context.Context) (string, map[string]bool) {
	all, errAll := r.captureAll(ctx, r.vllmArgv("serve", "--help=all"), r.vllmTimeout)
	flagsAll := HelpFlags(all)
	if errAll == nil && len(flagsAll) >= minHelpFlags {
		return string(all), flagsAll
	}
	plain, errPlain := r.captureAll(ctx, r.vllmArgv("serve", "--help"), r.vllmTimeout)
	flagsPlain := HelpFlags(plain)
	switch {
	case errPlain == nil && (errAll != nil || len(flagsPlain) > len(flagsAll)):
		return string(plain), flagsPlain
	case errAll == nil:
		return string(all), flagsAll
	}
	return "", nil
}

// python is Options.Python, else python3 next to the vllm executable when that file exists, else python3.
func (r *Runner) python() []string {
	if len(r.opts.Python) > 0 {
		return r.opts.Python
	}
	if exe, err := exec.LookPath(r.opts.VLLM[0]); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			p := filepath.Join(filepath.Dir(exe), "python3")
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return []string{p}
			}
		}
	}
	return []string{"python3"}
}

var (
	versionRE = regexp.MustCompile(`^v?\d+\.\d+(\.\d+)?([.+\-]?[0-9A-Za-z.+\-]*)$`)
	flagRE    = regexp.MustCompile(`(?:^|[\s,\[(|{])(--[A-Za-z0-9][A-Za-z0-9_\-]*[A-Za-z0-9])`)
)

// parseVersion is the last non-empty line of out that looks like a version (log lines may come first).
func parseVersion(out []byte) string {
	lines := strings.Split(string(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); versionRE.MatchString(l) {
			return l
		}
	}
	return ""
}

// HelpFlags returns every long flag token in a `vllm serve --help` text, `--no-x` forms included: the
// flag set a Probe reports, and what tests that read a stored help text use to build the same set.
func HelpFlags(help []byte) map[string]bool {
	m := map[string]bool{}
	for _, sm := range flagRE.FindAllSubmatch(help, -1) {
		m[string(sm[1])] = true
	}
	return m
}
