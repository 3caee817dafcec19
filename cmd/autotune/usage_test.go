package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/autotune/autotune/runner/runnertest"
	"github.com/autotune/autotune/store"
	"github.com/autotune/autotune/tuner"
)

// Help asked for goes to stdout (`autotune --help | grep port`), exits 0, and lists only the command's own flags.
func TestHelpOnStdout(t *testing.T) {
	tests := []struct {
		args        []string
		want, avoid []string
	}{
		{[]string{"--help"}, []string{"autotune best", "autotune trials", "autotune show N", "autotune space", "autotune version", "--trials int", "--port int"}, nil},
		{[]string{"run", "-h"}, []string{"--trials int", "--port int"}, nil},
		{[]string{"help"}, []string{"autotune best"}, nil},
		{[]string{"help", "best"}, []string{"Usage: autotune best", "--export FILE"}, []string{"--trials"}},
		{[]string{"space", "--help"}, []string{"Usage: autotune space", "--format", "--model", "--max-concurrency", "--space", "--simulate"},
			[]string{"--port", "--host", "--num-prompts", "--request-rate", "--tokenizer", "--sim-speed", "--trials"}},
		{[]string{"best", "--help"}, []string{"Usage: autotune best", "--export FILE", "--force", "--study"}, []string{"--trials", "--port"}},
		{[]string{"trials", "--help"}, []string{"Usage: autotune trials", "--format"}, []string{"--port"}},
		{[]string{"show", "--help"}, []string{"Usage: autotune show"}, []string{"--port"}},
	}
	for _, tt := range tests {
		code, out, errs := cli(t, tt.args...)
		if code != 0 || errs != "" {
			t.Errorf("%v: exit %d, stderr %q; want 0 and nothing on stderr", tt.args, code, errs)
		}
		for _, s := range tt.want {
			if !strings.Contains(out, s) {
				t.Errorf("%v: stdout does not mention %q:\n%s", tt.args, s, out)
			}
		}
		for _, s := range tt.avoid {
			if strings.Contains(out, s) {
				t.Errorf("%v: lists %s, which does not apply to it:\n%s", tt.args, s, out)
			}
		}
	}
}

// A mistyped flag or command is a usage error on stderr (exit 2, nothing on stdout) that suggests what was meant.
func TestUsageErrorsSuggest(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--trails", "6"}, "unknown flag: --trails; did you mean --trials?"},
		{[]string{"-trials", "6"}, "did you mean --trials? (long flags take two dashes)"},
		{[]string{"best", "--exprot", "x.sh"}, "unknown flag: --exprot; did you mean --export?"},
		{[]string{"space", "--simulat"}, "did you mean --simulate?"},
		{[]string{"trials", "--sudy", "x"}, "did you mean --study?"},
		{[]string{"space", "--port", "8001"}, "unknown flag: --port; --port is a flag of autotune run"},
		{[]string{"bset"}, `unknown command "bset"; did you mean "best"?`},
		{[]string{"--frobnicate"}, "unknown flag: --frobnicate (autotune --help lists the flags)"},
	}
	for _, tt := range tests {
		code, out, errs := cli(t, tt.args...)
		if code != 2 || out != "" || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2, no stdout, and %q", tt.args, code, out, errs, tt.want)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, errs := cli(t, "version")
	if code != 0 || !strings.HasPrefix(out, "autotune "+version+" (commit ") {
		t.Errorf("version: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	defer func(c string) { commit = c }(commit)
	commit = "0123abc"
	if _, out, _ := cli(t, "version"); !strings.Contains(out, "(commit 0123abc,") {
		t.Errorf("version with a stamped commit: %q", out)
	}
}

// TestExportToStdoutAndOverwrite: --export - writes the script alone to stdout; --export refuses to replace a file
// autotune did not write unless --force, and replaces its own.
func TestExportToStdoutAndOverwrite(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	if code, _, errs := cli(t, "--simulate", "--trials", "3", "--db", db, "--sim-speed", "1000", "--port", strconv.Itoa(runnertest.Port(t)),
		"--startup-timeout", "60s", "--bench-timeout", "60s"); code != 0 {
		t.Fatalf("run: %s", errs)
	}
	t.Chdir(dir)
	code, out, errs := cli(t, "best", "--db", db, "--export", "-")
	if code != 0 || !isExportedScript([]byte(out)) || !strings.Contains(out, "exec \"$VLLM\" serve") {
		t.Fatalf("--export -: exit %d, stderr %q, stdout is not the script alone:\n%s", code, errs, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "-")); err == nil {
		t.Errorf("--export - created a file named -")
	}

	mine := filepath.Join(dir, "start.sh")
	os.WriteFile(mine, []byte("#!/bin/sh\nexec my-server\n"), 0o755)
	code, _, errs = cli(t, "best", "--db", db, "--export", mine)
	if code != 2 || !strings.Contains(errs, "--export "+mine) || !strings.Contains(errs, "--force") {
		t.Errorf("export over a file autotune did not write: exit %d, stderr %q; want 2, naming the file and --force", code, errs)
	}
	if b, _ := os.ReadFile(mine); string(b) != "#!/bin/sh\nexec my-server\n" {
		t.Errorf("the refused export changed %s", mine)
	}
	if code, _, errs = cli(t, "best", "--db", db, "--export", mine, "--force"); code != 0 {
		t.Errorf("--force: exit %d, stderr %q", code, errs)
	}
	// Now the file is autotune's: exporting again replaces it without --force.
	if code, _, errs = cli(t, "best", "--db", db, "--export", mine); code != 0 {
		t.Errorf("re-export over our own script: exit %d, stderr %q", code, errs)
	}
	if b, _ := os.ReadFile(mine); !isExportedScript(b) {
		t.Errorf("%s is not an exported script after --force", mine)
	}
}

func TestIsExportedScript(t *testing.T) {
	for _, tt := range []struct {
		head string
		want bool
	}{
		{"#!/usr/bin/env bash\n# Start vLLM ...\n# Generated 2026-11-28 09:30 UTC by autotune 0.1.0-dev.\n#\nset -e\n", true},
		{"#!/bin/sh\n# Generated 2026-11-28 by autotune 0.1.0\n", false},             // not our shebang
		{"#!/usr/bin/env bash\nset -e\n# Generated 2026 by autotune 0.1.0\n", false}, // not in the header
		{"#!/usr/bin/env bash\n# my own script\nvllm serve x\n", false},
		{"", false},
	} {
		if got := isExportedScript([]byte(tt.head)); got != tt.want {
			t.Errorf("isExportedScript(%q) = %v, want %v", tt.head, got, tt.want)
		}
	}
}

// The refused resume names each differing field once and prints the command that resumes the stored study:
// the user's arguments with those flags set back.
func TestResumeCommand(t *testing.T) {
	ie := &tuner.IncompatibleError{Stored: store.Study{Model: "Qwen/Qwen2.5-0.5B", SpaceJSON: `{"source":"/d/space.yaml"}`}}
	tests := []struct {
		diffs []tuner.FieldDiff
		args  []string
		want  string
	}{
		{[]tuner.FieldDiff{{Field: "num_prompts", Stored: "200", Requested: "100"}},
			[]string{"--db", "/d/t.db", "--num-prompts=100", "--trials", "40"},
			"autotune --db /d/t.db --trials 40 --num-prompts 200"},
		{[]tuner.FieldDiff{{Field: "simulated", Stored: "false", Requested: "true"}, {Field: "seed", Stored: "1", Requested: "7"}},
			[]string{"run", "--simulate", "--seed", "7", "--study", "my study"},
			"autotune run --study 'my study' --seed 1"},
		{[]tuner.FieldDiff{{Field: "simulated", Stored: "true", Requested: "false"}},
			[]string{"--simulate=false"}, "autotune --simulate"},
		{[]tuner.FieldDiff{{Field: "space file", Stored: "/d/space.yaml", Requested: "(built-in)"}},
			[]string{"--trials", "40"}, "autotune --trials 40 --space /d/space.yaml"},
		{[]tuner.FieldDiff{{Field: "tokenizer", Stored: "Qwen/Qwen2.5-0.5B", Requested: "other"}},
			[]string{"--tokenizer", "other"}, "autotune run"},
	}
	for _, tt := range tests {
		if got := resumeCommand(ie, tt.diffs, tt.args); got != tt.want {
			t.Errorf("resumeCommand(%v, %q) = %q, want %q", tt.diffs, tt.args, got, tt.want)
		}
	}
}

// TestRefusedResumeMessage: a changed workload prints only what differs and a command that, run as printed,
// resumes the study.
func TestRefusedResumeMessage(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	// Generous limits: the simulator's default ones scale down with --sim-speed and flake on a loaded machine.
	flags := []string{"--simulate", "--db", db, "--sim-speed", "1000", "--port", strconv.Itoa(runnertest.Port(t)),
		"--startup-timeout", "60s", "--bench-timeout", "60s"}
	if code, _, errs := cli(t, append(flags, "--trials", "2")...); code != 0 {
		t.Fatalf("first run: %s", errs)
	}
	code, _, errs := cli(t, append(flags, "--trials", "3", "--num-prompts", "100")...)
	if code != 2 || !strings.Contains(errs, "num_prompts: 200 → 100") || strings.Contains(errs, "{") {
		t.Fatalf("exit %d, stderr %q; want 2 and only num_prompts: 200 → 100, no JSON", code, errs)
	}
	_, cmdline, ok := strings.Cut(errs, "to resume the stored study, run: autotune ")
	cmdline, _, _ = strings.Cut(cmdline, ";")
	if !ok || !strings.Contains(cmdline, "--num-prompts 200") {
		t.Fatalf("no resume command in %q", errs)
	}
	if code, _, errs := cli(t, strings.Fields(cmdline)...); code != 0 {
		t.Errorf("the printed command %q did not resume: exit %d, %s", cmdline, code, errs)
	}
	if tj := readTrials(t, db); tj.Study.Finished != 3 {
		t.Errorf("finished = %d after the printed command, want 3", tj.Study.Finished)
	}
}

// A space that differs because the machine does (another vLLM, or arctic-inference not installed again after a
// Colab reset) is not fixed by a flag: the message says what to set up, and still sets back the flags that differ.
func TestRefusalForAnotherMachine(t *testing.T) {
	ie := &tuner.IncompatibleError{Study: "default", DB: "t.db", Stored: store.Study{Model: "m"}, Diffs: []tuner.FieldDiff{
		{Field: "param speculative", Stored: "default, ngram, suffix", Requested: "default, ngram"},
		{Field: "seed", Stored: "1", Requested: "2"},
	}}
	msg := explainIncompatible(ie, []string{"--db", "t.db", "--seed", "2"}).Error()
	for _, want := range []string{
		"param speculative: default, ngram, suffix → default, ngram",
		"the param speculative comes from this machine's vLLM, GPU and installed packages",
		"run again with autotune --db t.db --seed 1",
		"start a new study with --study NAME",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	if !errors.Is(explainIncompatible(ie, nil), tuner.ErrIncompatible) {
		t.Errorf("the explained error is not ErrIncompatible (exit 2)")
	}
}
