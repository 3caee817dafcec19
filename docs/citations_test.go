// Package docs holds the notes the code cites (see README.md here); its test checks that every citation in the
// repository's Go and YAML files names a section that exists.
package docs

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// docOf maps a citation's prefix to the file it cites. A bare "§N" cites the package's default document.
var docOf = map[string]string{
	"vllm.md": "vllm.md", "docs/vllm.md": "vllm.md", "reference/vllm.md": "vllm.md", "reference vllm.md": "vllm.md", "reference": "vllm.md",
	"t4-calibration.md": "t4-calibration.md", "docs/t4-calibration.md": "t4-calibration.md", "t4-calibration": "t4-calibration.md", "cal": "t4-calibration.md",
}

// defaultDoc is what a bare "§N" cites in each package (its package documentation says so).
func defaultDoc(dir string) string {
	if dir == "sim" || strings.HasPrefix(dir, "sim/") {
		return "t4-calibration.md"
	}
	return "vllm.md"
}

var (
	headingRE = regexp.MustCompile(`^#{2,4} (\d+(?:\.\d+)*)\.? `)
	// A citation: an optional document prefix, then § and a section number.
	citeRE = regexp.MustCompile(`(?:(docs/vllm\.md|docs/t4-calibration\.md|reference/vllm\.md|reference vllm\.md|vllm\.md|t4-calibration(?:\.md)?|cal|reference)\s+)?§\s?(\d+(?:\.\d+)*)`)
	// Text between two citations that continues a list of the same document: "§4, §10.1", "§5-§7", "§6.1 and §6.3".
	sameListRE = regexp.MustCompile(`^[\s,;/\-–]*(?:and\s+|or\s+)?$`)
)

func sections(t *testing.T, file string) map[string]bool {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := headingRE.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

// A citation found in the code.
type citation struct {
	pos, doc, section string
}

// citations lists every "§" citation of a Go file, resolved to its document.
func citations(path, dir, text string) []citation {
	var out []citation
	for i, line := range strings.Split(text, "\n") {
		prevDoc, prevEnd := "", -1
		for _, m := range citeRE.FindAllStringSubmatchIndex(line, -1) {
			doc := ""
			if m[2] >= 0 {
				doc = docOf[line[m[2]:m[3]]]
			} else if prevEnd >= 0 && sameListRE.MatchString(line[prevEnd:m[0]]) {
				doc = prevDoc
			} else {
				doc = defaultDoc(dir)
			}
			out = append(out, citation{pos: path + ":" + itoa(i+1), doc: doc, section: line[m[4]:m[5]]})
			prevDoc, prevEnd = doc, m[1]
		}
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// Every "§N" in the repository's Go and YAML files names a section of a document in docs/ (see README.md here for which).
func TestCitationsResolve(t *testing.T) {
	docs := map[string]map[string]bool{}
	for _, name := range []string{"vllm.md", "t4-calibration.md"} {
		docs[name] = sections(t, name)
		if len(docs[name]) < 10 {
			t.Fatalf("%s: only %d numbered sections found; the heading pattern no longer matches", name, len(docs[name]))
		}
	}
	root := ".."
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != root || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".yaml")) {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, c := range citations(rel, filepath.ToSlash(filepath.Dir(rel)), string(data)) {
			n++
			if !docs[c.doc][c.section] {
				t.Errorf("%s: §%s is not a section of docs/%s", c.pos, c.section, c.doc)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 300 {
		t.Errorf("found only %d citations; the citation pattern no longer matches the code", n)
	}
	t.Logf("%d citations checked", n)
}

// The resolver itself, on the forms the code uses.
func TestCitationForms(t *testing.T) {
	tests := []struct {
		dir, line string
		want      []string // doc §section
	}{
		{"space", "(§2.3, §9.1)", []string{"vllm.md 2.3", "vllm.md 9.1"}},
		{"space", "cal §9.3, §9.4", []string{"t4-calibration.md 9.3", "t4-calibration.md 9.4"}},
		{"sim", "[D §10.3 refit], vllm.md §6.2, §7", []string{"t4-calibration.md 10.3", "vllm.md 6.2", "vllm.md 7"}},
		{"sim", "(vllm.md §5-§7)", []string{"vllm.md 5", "vllm.md 7"}},
		{"runner", "(reference vllm.md §4, §10.1, t4-calibration §9.6)", []string{"vllm.md 4", "vllm.md 10.1", "t4-calibration.md 9.6"}},
		{"runner", "§1.2 PR #25784 suffix, PR #29184), §7", []string{"vllm.md 1.2", "vllm.md 7"}},
	}
	for _, tc := range tests {
		var got []string
		for _, c := range citations("x.go", tc.dir, tc.line) {
			got = append(got, c.doc+" "+c.section)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s %q: %q, want %q", tc.dir, tc.line, got, tc.want)
		}
	}
}
