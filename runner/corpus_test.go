package runner

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// corpusLog is one file of testdata/failures: a verbatim excerpt of a real vLLM log from a public issue or CI
// run, under a header that names its source, the vLLM version, the GPU, the phase (startup or bench), the exit
// status and the class a person gives it. testdata/failures/README.md describes the format.
type corpusLog struct {
	name, source, vllm, gpu, phase, note string
	exit                                 int
	class                                Class
	log                                  []byte
}

func readCorpus(t *testing.T) []corpusLog {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "failures", "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusLog
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		head, body, ok := bytes.Cut(data, []byte("\n----\n"))
		if !ok {
			t.Fatalf("%s: no ---- line between header and log", p)
		}
		c := corpusLog{name: filepath.Base(p), log: body, exit: -1}
		sc := bufio.NewScanner(bytes.NewReader(head))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ": ")
			if !ok {
				t.Fatalf("%s: header line %q is not key: value", p, sc.Text())
			}
			switch k {
			case "source":
				c.source = v
			case "vllm":
				c.vllm = v
			case "gpu":
				c.gpu = v
			case "phase":
				c.phase = v
			case "note":
				c.note = v
			case "class":
				c.class = Class(v)
			case "exit":
				if c.exit, err = strconv.Atoi(v); err != nil {
					t.Fatalf("%s: exit %q: %v", p, v, err)
				}
			default:
				t.Fatalf("%s: unknown header key %q", p, k)
			}
		}
		if !strings.HasPrefix(c.source, "https://github.com/") || c.vllm == "" || c.class == "" ||
			(c.phase != "startup" && c.phase != "bench") || c.exit < 0 {
			t.Fatalf("%s: header needs source (a GitHub URL), vllm, class, phase (startup|bench) and exit: %+v", p, c)
		}
		out = append(out, c)
	}
	return out
}

// classifyCorpus classifies a corpus log the way Run does for its phase.
func classifyCorpus(c corpusLog) (Class, string) {
	if c.phase == "bench" {
		return classifyBenchCrash(c.log)
	}
	return ClassifyStartup(c.log, c.exit)
}

// TestRealFailureCorpus runs every real log through the classifier Run uses and wants the class a person gives
// it, proven by a line of that log.
func TestRealFailureCorpus(t *testing.T) {
	corpus := readCorpus(t)
	if len(corpus) < 40 {
		t.Errorf("corpus has %d logs, want at least 40", len(corpus))
	}
	right := 0
	byClass := map[Class]int{}
	for _, c := range corpus {
		byClass[c.class]++
		got, line := classifyCorpus(c)
		if got == c.class {
			right++
		} else {
			t.Errorf("%s (%s, vLLM %s): got %q (line %q), want %q", c.name, c.source, c.vllm, got, clip(line, 120), c.class)
		}
		if line != "" && !bytes.Contains(c.log, []byte(line)) {
			t.Errorf("%s: evidence %q is not a line of the log", c.name, line)
		}
	}
	t.Logf("real-log corpus: %d of %d classified right; by class %v", right, len(corpus), fmt.Sprint(byClass))
}
