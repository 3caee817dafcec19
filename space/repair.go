package space

import (
	"fmt"
	"strconv"
)

// repair changes an assignment so that vLLM accepts it, for the rules that hold between parameters whose
// domains are fixed (goptuna needs a fixed domain per name, so a dependent limit cannot be a domain). The
// repaired values are what Config.Params records. A value a space file fixed is never changed: the other
// side of the rule gives way, or, when it cannot, Validate refuses the draw. It returns a description of each
// change.
func (s *Space) repair(a assignment, sa *serveArgv) []string {
	var did []string
	set := func(name, v, why string) bool {
		p, ok := s.byName[name]
		if !ok || !p.searched() || a[name] == v {
			return false
		}
		did = append(did, fmt.Sprintf("%s %s -> %s (%s)", name, a[name], v, why))
		a[name] = v
		return true
	}
	// prompt_lookup_min=<a> must be <= prompt_lookup_max=<b> (§7).
	if lo, ok := a.intOr("prompt_lookup_min", 0); ok {
		if hi, ok := a.intOr("prompt_lookup_max", 0); ok && lo > hi {
			if !set("prompt_lookup_min", strconv.Itoa(hi), "prompt_lookup_min must be <= prompt_lookup_max") {
				set("prompt_lookup_max", strconv.Itoa(lo), "prompt_lookup_max must be >= the fixed prompt_lookup_min")
			}
		}
	}
	// The token budget: >= max_num_seqs (§10.1), >= max_model_len with chunked prefill off (§10.1),
	// >= max_num_seqs x (k+1) with LoRA and speculative decoding (§7).
	e := s.effectiveArgs(sa)
	need, why := 0, ""
	if e.seqsSet && e.mnbt < e.seqs {
		need, why = e.seqs, "max_num_batched_tokens must be >= max_num_seqs"
	}
	if sa.has("--no-enable-chunked-prefill") && e.mnbtSet && e.mmlOK && e.mml > need && e.mnbt < e.mml {
		need, why = e.mml, "with chunked prefill off max_num_batched_tokens must be >= max_model_len"
	}
	if sa.has("--enable-lora") {
		if sc, _ := parseSpecConfig(sa); sc != nil {
			k := sc.tokens()
			if n := e.seqs * (k + 1); n > need && e.mnbt < n {
				need, why = n, "with LoRA and speculative decoding max_num_batched_tokens must be >= max_num_seqs x (k+1)"
			}
		}
	}
	if need > e.mnbt && !set("max_num_batched_tokens", strconv.Itoa(need), why) && e.seqsSet && e.seqs > e.mnbt {
		// A fixed token budget: the batch size gives way (the other rules have no such way out).
		set("max_num_seqs", strconv.Itoa(e.mnbt), "max_num_seqs must be <= the fixed max_num_batched_tokens")
	}
	return did
}
