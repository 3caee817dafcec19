package report

import (
	"sort"
	"strings"

	"github.com/autotune/autotune/space"
)

// Changes says how a trial's config differs from the baseline (vLLM's defaults): "name=value" for every
// parameter not at its default, in name order. A trial without parameters (an old record, a space file's
// fixed flags only) shows its flags instead.
func (t Trial) Changes() []string {
	if t.Label == BaselineLabel {
		return nil
	}
	var out []string
	for k, v := range t.Params {
		if v != space.DefaultChoice && v != "" {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	if len(out) == 0 && len(t.Args) > 0 {
		return []string{strings.Join(t.Args, " ")}
	}
	return out
}

// CommonChanges are the changes that every trial in ts that has any shares: printed once above a table,
// they leave each row with what sets it apart. With fewer than two such trials there is nothing in common.
func CommonChanges(ts []Trial) []string {
	var common map[string]bool
	n := 0
	for _, t := range ts {
		ch := t.Changes()
		if len(ch) == 0 {
			continue
		}
		n++
		has := map[string]bool{}
		for _, c := range ch {
			has[c] = true
		}
		if common == nil {
			common = has
			continue
		}
		for c := range common {
			if !has[c] {
				delete(common, c)
			}
		}
	}
	if n < 2 {
		return nil
	}
	out := make([]string, 0, len(common))
	for c := range common {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// SortChanges orders changes ("name=value") by the study's parameter importance, most important first, so
// that a clipped column keeps what matters; parameters without a rank keep name order after the ranked ones.
func (v *View) SortChanges(changes []string) []string {
	if v.rank == nil {
		v.rank = map[string]int{}
		for i, imp := range v.Importances() {
			v.rank[imp.Param] = i + 1
		}
	}
	out := append([]string(nil), changes...)
	rank := func(c string) int {
		name, _, _ := strings.Cut(c, "=")
		if r, ok := v.rank[name]; ok {
			return r
		}
		return len(v.rank) + 1
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}
