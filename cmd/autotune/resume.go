package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/autotune/autotune/tuner"
)

// resumeFlags maps the stored settings that a flag of `autotune run` sets (tuner.FieldDiff.Field) to that flag.
var resumeFlags = map[string]string{
	tuner.FieldModel: "model", "tokenizer": "tokenizer", "max_concurrency": "max-concurrency", "num_prompts": "num-prompts",
	"random_input_len": "random-input-len", "random_output_len": "random-output-len", "request_rate": "request-rate",
	"max_p99_tpot_ms": "max-p99-tpot-ms", "max_p99_ttft_ms": "max-p99-ttft-ms", tuner.FieldSimulated: "simulate",
	tuner.FieldSampler: "sampler", tuner.FieldSeed: "seed", tuner.FieldSpaceFile: "space",
}

// explainIncompatible turns a refused resume into one message: the fields that differ (stored → requested) and
// the exact command that resumes the stored study, made from the user's own arguments with the differing flags
// set back to the stored values. When what differs is not a flag but the machine (another vLLM, GPU, installed
// packages such as arctic-inference, or the space file's contents), it says so: the study resumes on a machine
// set up like the stored one, or a new study starts.
func explainIncompatible(ie *tuner.IncompatibleError, args []string) error {
	var fixable []tuner.FieldDiff
	var machine []string
	for _, d := range ie.Diffs {
		if _, ok := resumeFlags[d.Field]; ok {
			fixable = append(fixable, d)
		} else {
			machine = append(machine, d.Field)
		}
	}
	newStudy := "start a new study with --study NAME or another --db"
	if len(machine) > 0 {
		fix := ""
		if len(fixable) > 0 {
			fix = fmt.Sprintf(" with %s", resumeCommand(ie, fixable, args))
		}
		return fmt.Errorf("%w; the %s comes from this machine's vLLM, GPU and installed packages (or the space file's contents), not from a flag: set the machine up as it was (for example the same pip installs) and run again%s, or %s",
			ie, strings.Join(machine, ", "), fix, newStudy)
	}
	return fmt.Errorf("%w; to resume the stored study, run: %s; to keep your settings, %s",
		ie, resumeCommand(ie, fixable, args), newStudy)
}

// resumeCommand is args with every differing flag removed and set again to the stored value, as one shell line.
func resumeCommand(ie *tuner.IncompatibleError, diffs []tuner.FieldDiff, args []string) string {
	drop := map[string]bool{}
	var add []string
	for _, d := range diffs {
		flag := resumeFlags[d.Field]
		drop[flag] = true
		switch d.Field {
		case tuner.FieldSimulated:
			if d.Stored == "true" {
				add = append(add, "--simulate")
			}
		case "tokenizer":
			if d.Stored != ie.Stored.Model { // the default is the model
				add = append(add, "--tokenizer", d.Stored)
			}
		case tuner.FieldSpaceFile:
			if sp, ok := tuner.SpaceRecord(ie.Stored.SpaceJSON); ok && sp.Source != "" {
				add = append(add, "--space", sp.Source)
			}
		default:
			add = append(add, "--"+flag, d.Stored)
		}
	}
	out := []string{"autotune"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !drop[name] {
			out = append(out, shellQuote(a))
			continue
		}
		if !hasValue && name != "simulate" && i+1 < len(args) {
			i++ // the flag's value is the next argument
		}
	}
	for _, a := range add {
		out = append(out, shellQuote(a))
	}
	if slices.Equal(out, []string{"autotune"}) {
		return "autotune run"
	}
	return strings.Join(out, " ")
}
