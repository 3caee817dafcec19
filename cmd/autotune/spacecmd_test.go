package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// `space` fits 80 columns, cites no design notes, explains its tags, and its JSON carries the left-out list.
func TestSpaceFor80Columns(t *testing.T) {
	t.Setenv("COLUMNS", "80")
	code, out, errs := cli(t, "space", "--simulate")
	if code != 0 {
		t.Fatalf("space: exit %d: %s", code, errs)
	}
	for i, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > 80 {
			t.Errorf("line %d is %d columns: %q", i+1, n, line)
		}
	}
	if strings.Contains(out, "§") {
		t.Errorf("space cites design notes a user does not have:\n%s", out)
	}
	for _, want := range []string{"Left out for this GPU", "dtype=bfloat16", "attention_backend=FLASH_ATTN",
		"kv_cache_dtype=fp8", "[pruning] values this GPU", "[repair] a sampled", "[render] the command line"} {
		if !strings.Contains(out, want) {
			t.Errorf("space lacks %q", want)
		}
	}

	code, out, errs = cli(t, "space", "--simulate", "--format", "json")
	if code != 0 {
		t.Fatalf("space --format json: exit %d: %s", code, errs)
	}
	var doc any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("space --format json: %v", err)
	}
	dropped, _ := doc.(map[string]any)["dropped"].([]any)
	var left []string
	for _, d := range dropped {
		m := d.(map[string]any)
		left = append(left, fmt.Sprint(m["param"], "=", m["value"]))
	}
	for _, want := range []string{"dtype=bfloat16", "attention_backend=FLASH_ATTN", "kv_cache_dtype=fp8"} {
		if !strings.Contains(strings.Join(left, " "), want) {
			t.Errorf("space --format json leaves out %s from \"dropped\": %q", want, left)
		}
	}
	// The schema (every key path and the type at it) is a stable interface; the values belong to space.
	checkGolden(t, "space.schema.golden", strings.Join(schema(doc, ""), "\n")+"\n")
}

// schema lists the key paths of a JSON document with the JSON type at each; arrays as [].
func schema(v any, path string) []string {
	seen := map[string]bool{}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case map[string]any:
			seen[path+": object"] = true
			for k, e := range x {
				walk(e, path+"."+k)
			}
		case []any:
			seen[path+": array"] = true
			for _, e := range x {
				walk(e, path+"[]")
			}
		case string:
			seen[path+": string"] = true
		case float64:
			seen[path+": number"] = true
		case bool:
			seen[path+": bool"] = true
		case nil:
			seen[path+": null"] = true
		}
	}
	walk(v, path)
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestForPeopleDropsCitations(t *testing.T) {
	for in, want := range map[string]string{
		`does not exist in vLLM 0.15.1 (>= 0.17.0; §1.2 PR #29184, §7)`: `does not exist in vLLM 0.15.1 (>= 0.17.0)`,
		`falls back to float16 (§4)`:                                    `falls back to float16`,
		`async scheduling is on by default (cal §11)`:                   `async scheduling is on by default`,
		`see §16.5 and the log`:                                         `see and the log`,
		`no citation here (a, b)`:                                       `no citation here (a, b)`,
	} {
		if got := forPeople(in); got != want {
			t.Errorf("forPeople(%q) = %q, want %q", in, got, want)
		}
	}
}
