package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	readmodel "github.com/autotune/autotune/report"
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/store"
)

// hostile holds a command on a line of its own, in the shapes that end a comment or a quoted word.
const hostile = "x\ntouch \"$MARK\" #\r\n'; touch \"$MARK\"; '\n$(touch \"$MARK\")`touch \"$MARK\"`\x1b[2J\u2028end"

// TestExportScriptRunsNothingFromTheStudy writes hostile text into every field of a study that reaches the
// exported script (database path, study name, model, tokenizer, GPU, vLLM version, flags, environment value),
// runs the script with a VLLM that records its arguments, and checks that nothing ran and every argument
// arrived intact. Before the header went through renderLine, the tokenizer's newline started a command.
func TestExportScriptRunsNothingFromTheStudy(t *testing.T) {
	dir := t.TempDir()
	mark := filepath.Join(dir, "pwned")
	w := runner.DefaultWorkload()
	w.Tokenizer = "Qwen/Qwen2.5-0.5B" + hostile
	w.ExtraArgs = []string{hostile}
	wl, _ := json.Marshal(w)
	ls := &loadedStudy{
		study: store.Study{Name: "s" + hostile},
		view: studyView{DB: dir + "/db" + hostile, Model: "Qwen/Qwen2.5-0.5B", Workload: wl,
			SLA: json.RawMessage(`{}`), VLLMVersion: "0.15.1" + hostile, GPU: "Tesla T4" + hostile},
	}
	best := &trialView{Trial: readmodel.Trial{Number: 3, OutputThroughput: f(1), Args: []string{"--served-model-name", hostile, "-O1"}},
		rec: store.Trial{Model: "m" + hostile, Env: map[string]string{"AUTOTUNE_X": hostile}}}
	script, err := exportScript(ls, best, &trialView{Trial: readmodel.Trial{Label: "baseline" + hostile}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "flags.sh")
	if err := writeExecutable(path, script); err != nil {
		t.Fatal(err)
	}
	// The recorder prints each argument and the environment value NUL-terminated.
	rec := filepath.Join(dir, "vllm")
	if err := os.WriteFile(rec, []byte("#!/usr/bin/env bash\nprintf '%s\\0' \"$@\" \"$AUTOTUNE_X\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env  []string
		host string
	}{{nil, "127.0.0.1"}, {[]string{"HOST=0.0.0.0", "PORT=8001"}, "0.0.0.0"}} {
		cmd := exec.Command("bash", path, "--extra")
		cmd.Env = append([]string{"VLLM=" + rec, "MARK=" + mark, "PATH=" + os.Getenv("PATH")}, tc.env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("script failed: %v\n%s\n%s", err, stderr.String(), script)
		}
		if _, err := os.Stat(mark); err == nil {
			t.Fatalf("the exported script ran a command from the study's data:\n%s", script)
		}
		port := "8000"
		if tc.env != nil {
			port = "8001"
		}
		want := []string{"serve", "m" + hostile, "--served-model-name", hostile, "-O1", "--host", tc.host, "--port", port,
			"--extra", hostile}
		got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("arguments arrived as %q, want %q", got, want)
		}
	}
}

// A value that no program can receive, and an environment name that bash would parse as code, are refused.
func TestExportScriptRefusesWhatBashCannotCarry(t *testing.T) {
	ls := &loadedStudy{view: studyView{SLA: json.RawMessage(`{}`)}}
	for _, best := range []*trialView{
		{Trial: readmodel.Trial{Args: []string{"--x", "a\x00b"}}},
		{rec: store.Trial{Env: map[string]string{"A=$(touch x)": "1"}}},
	} {
		if _, err := exportScript(ls, best, nil, time.Now()); !errors.Is(err, errScriptValue) {
			t.Errorf("exportScript(%+v) = %v, want errScriptValue", best, err)
		}
	}
}

// FuzzRenderLine feeds renderLine arbitrary bytes as a comment and as a value, runs the two lines with bash, and
// checks with a DEBUG trap that bash ran exactly one command (the printf autotune wrote) and that the value
// arrived byte for byte. The seed corpus runs as a normal test; `go test -fuzz FuzzRenderLine ./cmd/autotune`
// searches further.
func FuzzRenderLine(f *testing.F) {
	if _, err := exec.LookPath("bash"); err != nil {
		f.Skip("bash not installed")
	}
	for _, s := range []string{"", "plain", hostile, "\n", "\r\nid\n", "a'b", `\`, "\\\n", "$(id)", "`id`", "\x00", "\xff\xfe\n",
		"# x\nx", "\u2028id", "\x85id", "'\n'id'\n'", "!!", "${PATH}", "\x7f\n:;id"} {
		f.Add(s, s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, comment, val string) {
		var b strings.Builder
		b.WriteString(`trap 'printf x >>"$LOG"' DEBUG` + "\n")
		for _, l := range []scriptLine{commentLine("%s", comment), commandLine(code("printf '%s' "), value(val))} {
			s, err := renderLine(l)
			if err != nil {
				if !strings.Contains(val, "\x00") || !errors.Is(err, errScriptValue) {
					t.Fatalf("renderLine: %v", err)
				}
				return
			}
			if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
				t.Fatalf("renderLine(%+v) = %q: not one line", l, s)
			}
			b.WriteString(s)
		}
		if strings.Contains(val, "\x00") {
			t.Fatalf("a value with a NUL byte was rendered")
		}
		f, err := os.CreateTemp(dir, "line-*.sh")
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(f.Name())
		f.WriteString(b.String())
		f.Close()
		log := f.Name() + ".log"
		defer os.Remove(log)
		cmd := exec.Command("bash", "--norc", "--noprofile", f.Name())
		cmd.Env = []string{"LOG=" + log, "LC_ALL=C", "PATH=/nonexistent"}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bash: %v on\n%s", err, b.String())
		}
		if ran, _ := os.ReadFile(log); string(ran) != "x" {
			t.Fatalf("bash ran %d commands, want 1 (the printf), on\n%s", len(ran), b.String())
		}
		if string(out) != val {
			t.Fatalf("value arrived as %q, want %q", out, val)
		}
	})
}
