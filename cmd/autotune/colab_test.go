package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The Colab notebook and README.md's Colab section are the same steps in the same order, and every autotune
// command in them uses flags that the command has (CI executes the notebook itself, .ci/run).
func TestColabNotebookAndREADMEAgree(t *testing.T) {
	raw, err := os.ReadFile("../../notebooks/autotune_colab.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	var nb struct {
		Cells []struct {
			Type   string   `json:"cell_type"`
			Source []string `json:"source"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(raw, &nb); err != nil {
		t.Fatalf("the notebook is not JSON: %v", err)
	}
	stepRE := regexp.MustCompile(`(?m)^#{1,2} (\d+)\. `)
	var nbSteps []string
	var nbCode []string
	firstCode := ""
	for _, c := range nb.Cells {
		src := strings.Join(c.Source, "")
		for _, m := range stepRE.FindAllStringSubmatch(src, -1) {
			nbSteps = append(nbSteps, m[1])
		}
		if c.Type == "code" {
			if firstCode == "" {
				firstCode = src
			}
			nbCode = append(nbCode, src)
		}
	}
	if !strings.Contains(firstCode, `os.environ.get("AUTOTUNE_SIMULATE")`) {
		t.Errorf("the first code cell does not read AUTOTUNE_SIMULATE:\n%s", firstCode)
	}

	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## On Colab\n")
	section, _, _ = strings.Cut(section, "\n## ")
	_, block, ok2 := strings.Cut(section, "```python\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no ## On Colab section with a ```python block")
	}
	var readmeSteps []string
	for _, m := range stepRE.FindAllStringSubmatch(block, -1) {
		readmeSteps = append(readmeSteps, m[1])
	}
	if len(nbSteps) < 10 || !slices.Equal(nbSteps, readmeSteps) {
		t.Errorf("steps differ: notebook %v, README %v", nbSteps, readmeSteps)
	}
	for i, s := range nbSteps {
		if s != strconv.Itoa(i+1) {
			t.Errorf("notebook steps are not numbered 1, 2, 3, ...: %v", nbSteps)
			break
		}
	}

	for where, text := range map[string]string{"notebook": strings.Join(nbCode, "\n"), "README": block} {
		for _, line := range strings.Split(text, "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "!autotune") {
				continue
			}
			checkAutotuneLine(t, where, line)
		}
	}
	if strings.Contains(block, "export PATH") || strings.Contains(block, "<this repository>") {
		t.Errorf("README's Colab block has an export PATH or a <this repository> placeholder")
	}
}

// checkAutotuneLine checks that each --flag of `!autotune [cmd] ...` is one of cmd's flags.
func checkAutotuneLine(t *testing.T, where, line string) {
	t.Helper()
	line, _, _ = strings.Cut(line, "&&")
	fields := strings.Fields(strings.TrimPrefix(line, "!"))[1:]
	cmd := "run"
	if len(fields) > 0 && !strings.HasPrefix(fields[0], "-") {
		cmd = fields[0]
	}
	code, help, errs := cli(t, cmd, "--help")
	if code != 0 {
		t.Errorf("%s: %q: %s --help: exit %d: %s", where, line, cmd, code, errs)
		return
	}
	for _, f := range fields {
		if !strings.HasPrefix(f, "--") {
			continue
		}
		name, _, _ := strings.Cut(f, "=")
		if !strings.Contains(help, name+" ") && !strings.Contains(help, name+"[") && !strings.HasSuffix(strings.TrimSpace(help), name) {
			t.Errorf("%s: %q uses %s, which autotune %s does not have", where, line, name, cmd)
		}
	}
}
