package model

import (
	"bufio"
	"os"
	"sort"
	"strings"
	"testing"
)

// referenceFlags reads testdata/vllm-serve-flags-0.15.tsv: the option strings of `vllm serve` in vLLM main just
// before v0.15.0 (column 2) and in the v0.16.0 branch (column 3), extracted from vLLM's source.
func referenceFlags(t *testing.T) (before015, only016 map[string]bool) {
	t.Helper()
	f, err := os.Open("testdata/vllm-serve-flags-0.15.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before015, only016 = map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 3 {
			t.Fatalf("reference line %q: want 3 tab-separated columns", line)
		}
		switch {
		case cols[1] == "Y":
			before015[cols[0]] = true
		case cols[2] == "Y":
			only016[cols[0]] = true
		}
	}
	if len(before015) < 200 {
		t.Fatalf("reference has %d options; the file looks truncated", len(before015))
	}
	return before015, only016
}

// TestServeFlagsMatchReference holds the simulator's option set against vLLM 0.15's, both ways: every option
// string of the reference is accepted (BooleanOptionalAction ones with their --no- form), and the simulator
// accepts no option string the reference lacks. Options only in the v0.16.0 branch are refused, as 0.15.1
// (cut from the v0.15.0 branch) refuses them.
func TestServeFlagsMatchReference(t *testing.T) {
	ref, only016 := referenceFlags(t)
	sim := map[string]bool{}
	for s, r := range flagIndex() {
		if s == "-h" || s == "--help" {
			continue
		}
		if r.neg {
			pos := "--" + strings.TrimPrefix(s, "--no-")
			if !ref[pos] {
				t.Errorf("simulator accepts %s, but 0.15 has no %s", s, pos)
			}
			continue
		}
		sim[s] = true
	}
	var missing, extra []string
	for s := range ref {
		if !sim[s] {
			missing = append(missing, s)
		}
	}
	for s := range sim {
		if !ref[s] {
			extra = append(extra, s)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("0.15 options the simulator refuses: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("options the simulator accepts that 0.15 does not have: %v", extra)
	}
	for s := range only016 {
		if _, ok := flagIndex()[s]; ok {
			t.Errorf("simulator accepts %s, which only the v0.16.0 branch has", s)
		}
	}
	// Every option parses with its arity: a value-taking option swallows the next token, a boolean does not.
	for s := range ref {
		r := flagIndex()[s]
		args := []string{"M", s}
		switch r.spec.kind {
		case kBoolOpt, kStoreTrue, kOptStr:
		case kJSON:
			args = append(args, "{}")
		case kIntList:
			args = append(args, "1", "2")
		case kInt, kHInt, kMaxLen:
			args = append(args, "1")
		case kFloat:
			args = append(args, "0.5")
		default:
			if len(r.spec.choices) > 0 {
				args = append(args, r.spec.choices[0])
			} else {
				args = append(args, "x")
			}
		}
		if _, err := ParseServeArgs(args); err != nil {
			t.Errorf("ParseServeArgs(%q): %v", args, err)
		}
	}
}
