package runner

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/autotune/autotune/runner/runnertest"
)

func TestProbe(t *testing.T) {
	t.Parallel()
	f := newFake(t, runnertest.Config{Arctic: true, IdleMiB: 3})
	p, err := f.runner().Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []GPU{{Name: "Tesla T4", ComputeCap: 7.5, MemoryTotalMiB: 15360, MemoryUsedMiB: 3}}; !reflect.DeepEqual(p.GPUs, want) {
		t.Errorf("GPUs = %+v", p.GPUs)
	}
	if p.VLLMVersion != "0.15.1" {
		t.Errorf("version %q", p.VLLMVersion)
	}
	for _, flag := range []string{"--host", "--port", "--flag-99", "--enable-prefix-caching", "--no-enable-prefix-caching",
		"--max-num-seqs", "--max-num-batched-tokens", "--gpu-memory-utilization"} {
		if !p.ServeFlags[flag] {
			t.Errorf("flag %s not found", flag)
		}
	}
	if p.ServeFlags["--help"] || p.ServeFlags["-max-num-seqs"] || len(p.ServeFlags) != fullHelpFlags {
		t.Errorf("%d flags: %v", len(p.ServeFlags), p.ServeFlags)
	}
	if !strings.Contains(p.ServeHelp, "--flag-42") {
		t.Error("ServeHelp is not the full help")
	}
	if !p.Packages["arctic-inference"] {
		t.Errorf("Packages = %v", p.Packages)
	}
}

// fullHelpFlags is how many long flags the fake's full help lists: --host, --port, 100 fillers, the
// --enable-prefix-caching pair, --max-num-seqs, --max-num-batched-tokens and --gpu-memory-utilization.
const fullHelpFlags = 107

func TestProbeHelpFallbacks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		mode      runnertest.HelpMode
		wantFlags int // 0: nil
	}{
		{runnertest.HelpFilter, fullHelpFlags}, // 0.10.2: --help=all is a filter, --help is complete
		{runnertest.HelpAllFails, 2},           // --help=all fails, --help works
		{runnertest.HelpFails, 0},              // no help at all: not "no flags"
		{runnertest.HelpFull, fullHelpFlags},   // the full list
	}
	for _, c := range cases {
		t.Run(string(c.mode), func(t *testing.T) {
			t.Parallel()
			f := newFake(t, runnertest.Config{Help: c.mode})
			p, err := f.runner().Probe(context.Background())
			if err != nil {
				t.Fatal(err) // help failures are not errors
			}
			if c.wantFlags == 0 {
				if p.ServeFlags != nil || p.ServeHelp != "" {
					t.Errorf("ServeFlags = %v after a help failure, want nil", p.ServeFlags)
				}
				return
			}
			if len(p.ServeFlags) != c.wantFlags {
				t.Errorf("%d flags, want %d", len(p.ServeFlags), c.wantFlags)
			}
			if p.Packages["arctic-inference"] {
				t.Error("arctic-inference found")
			}
		})
	}
}

func TestProbeErrorsNameTheCommand(t *testing.T) {
	t.Parallel()
	f := newFake(t, runnertest.Config{SMIFails: true})
	f.opts.Python = []string{filepath.Join(t.TempDir(), "no-python")}
	p, err := f.runner().Probe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nvidia-smi --query-gpu=name,compute_cap,memory.total,memory.used") ||
		!strings.Contains(err.Error(), "exit status 9") || !strings.Contains(err.Error(), "couldn't communicate with the NVIDIA driver") {
		t.Errorf("error %v", err)
	}
	if p.VLLMVersion != "0.15.1" || p.ServeFlags == nil || p.Packages["arctic-inference"] {
		t.Errorf("the parts that worked are missing: %+v", p)
	}

	g := newFake(t, runnertest.Config{})
	g.opts.VLLM = []string{filepath.Join(t.TempDir(), "vllm")}
	_, err = g.runner().Probe(context.Background())
	if err == nil || !strings.Contains(err.Error(), g.opts.VLLM[0]+" --version") {
		t.Errorf("error %v", err)
	}
}

func TestParseVersionAndFlags(t *testing.T) {
	for out, want := range map[string]string{
		"0.15.1\n": "0.15.1",
		"INFO 05-19 [__init__.py:216] cuda\n0.15.1\n\n": "0.15.1",
		"0.11.1rc2.dev45+g1234abc.cu129\n":              "0.11.1rc2.dev45+g1234abc.cu129",
		"v0.10.2\n":                                     "v0.10.2",
		"Traceback...\nImportError: x\n":                "",
	} {
		if got := parseVersion([]byte(out)); got != want {
			t.Errorf("parseVersion(%q) = %q, want %q", out, got, want)
		}
	}
	got := HelpFlags([]byte("usage: vllm serve [-h] [--model MODEL] [--max-num-seqs MAX_NUM_SEQS]\n" +
		"  --enable-prefix-caching, --no-enable-prefix-caching\n  -O, --optimization-level {0,1,2,3}\n" +
		"  --help=all  (e.g. --foo-)  see --speculative-config.\n  -cc.mode"))
	want := map[string]bool{"--model": true, "--max-num-seqs": true, "--enable-prefix-caching": true,
		"--no-enable-prefix-caching": true, "--optimization-level": true, "--help": true, "--foo": true,
		"--speculative-config": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("HelpFlags = %v", got)
	}
}

func TestDefaultPython(t *testing.T) {
	dir := t.TempDir()
	vllm := filepath.Join(dir, "vllm")
	os.WriteFile(vllm, []byte("#!/bin/sh\n"), 0o755)
	r := New(Options{VLLM: []string{vllm}})
	if got := r.python(); !reflect.DeepEqual(got, []string{"python3"}) {
		t.Errorf("python() = %v", got)
	}
	os.WriteFile(filepath.Join(dir, "python3"), []byte("#!/bin/sh\n"), 0o755)
	if got := r.python(); !reflect.DeepEqual(got, []string{filepath.Join(dir, "python3")}) {
		t.Errorf("python() = %v", got)
	}
}

// nvidia-smi's warnings go to stderr and must not reach the CSV parser: the GPU is still read.
func TestProbeIgnoresSMIWarnings(t *testing.T) {
	t.Parallel()
	f := newFake(t, runnertest.Config{SMIWarns: true})
	p, err := f.runner().Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.GPUs) != 1 || p.GPUs[0].Name != "Tesla T4" {
		t.Errorf("GPUs %+v, want the one T4", p.GPUs)
	}
}

func TestClipKeepsCharacters(t *testing.T) {
	if got := clip("ééééé", 3); got != "é…" {
		t.Errorf("clip = %q, want %q", got, "é…")
	}
	if got := clip("abc", 3); got != "abc" {
		t.Errorf("clip = %q", got)
	}
}
