// Package didyoumean suggests the name a person most likely meant when they mistyped one: a flag of the
// command line, a field or parameter of a space file.
package didyoumean

// Closest returns the candidate nearest to word by edit distance (insertions, deletions, substitutions and
// swaps of two neighbouring letters each count 1), if it is near enough to be a typo rather than another
// word: at most 1 edit for words of up to 4 letters, at most 2 for longer ones. Ties go to the candidate that
// comes first. ok is false when no candidate is near enough, or word is one of them.
func Closest(word string, candidates []string) (best string, ok bool) {
	limit := 1
	if len([]rune(word)) > 4 {
		limit = 2
	}
	bestDist := limit + 1
	for _, c := range candidates {
		if c == word {
			return "", false
		}
		if d := distance(word, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, bestDist <= limit
}

// distance is the optimal-string-alignment distance between a and b: Levenshtein's plus the swap of two
// neighbouring letters (trails -> trials is one edit, not two).
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// d[i][j]: distance between ra[:i] and rb[:j].
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
