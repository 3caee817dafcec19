package didyoumean

import "testing"

func TestClosest(t *testing.T) {
	flags := []string{"trials", "db", "workdir", "study", "sampler", "seed", "max-p99-tpot-ms", "max-p99-ttft-ms"}
	tests := []struct {
		word   string
		want   string
		wantOK bool
	}{
		{"trails", "trials", true},                  // two letters swapped
		{"trial", "trials", true},                   // one letter missing
		{"tirals", "trials", true},                  // swapped
		{"max-p99-tpot", "max-p99-tpot-ms", false},  // 3 letters short: too far to guess
		{"max-p99-tpot-m", "max-p99-tpot-ms", true}, // one letter short
		{"max-p99-tpt-ms", "max-p99-tpot-ms", true}, // one letter short, and nearer tpot than ttft
		{"bd", "db", true},                          // short word, one swap
		{"dbx", "db", true},                         // short word, one extra letter
		{"xyz", "", false},                          // nothing near
		{"seeds", "seed", true},                     // plural
		{"trials", "", false},                       // an exact name is not a typo
		{"samplr", "sampler", true},                 // one letter missing
		{"completely-different", "", false},         // nothing near
		{"sed", "seed", true},                       // short word, one letter missing
		{"studi", "study", true},                    // substitution
		{"wrkdr", "workdir", true},                  // two letters missing
		{"wkdr", "", false},                         // three letters missing from a short word
		{"prefix_cachng", "prefix_caching", true},   // not only flags: space parameters
	}
	for _, tt := range tests {
		cands := flags
		if tt.word == "prefix_cachng" {
			cands = []string{"prefix_caching", "max_num_seqs"}
		}
		got, ok := Closest(tt.word, cands)
		if ok != tt.wantOK || (ok && got != tt.want) {
			t.Errorf("Closest(%q) = %q, %v; want %q, %v", tt.word, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "abc", 0},
		{"ab", "ba", 1},
		{"kitten", "sitting", 3},
		{"trails", "trials", 1},
		{"ca", "abc", 3}, // optimal string alignment: a swapped pair is not edited again
	}
	for _, tt := range tests {
		if got := distance(tt.a, tt.b); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := distance(tt.b, tt.a); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d (not symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}
