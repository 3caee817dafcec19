// Package report is autotune's read model of a study: one query builds the study, its trials in their states,
// and the best config with every one of its runs. `autotune best`, `trials`, `show`, the export, the summary
// at the end of a run, the HTML report and the search-quality experiment all read it, so that what a "finished"
// trial is, what each state is called and how the best config's runs are aggregated are decided here once.
//
// It reads and never writes: Load takes a Source (a study database opened read-only satisfies it through
// FromStore) and returns plain values whose JSON form (View, Trial, Study) is a stable interface, pinned by
// golden files under testdata/.
//
// Vocabulary:
//   - A trial's State is goptuna's state in store's words: complete, pruned, failed, running, waiting.
//   - Its Outcome says what happened to the config, for people: feasible, infeasible, crashed, refused, pruned,
//     duplicate, interrupted, harness, running or queued. A config that vLLM refused or that crashed is
//     "complete" to goptuna (the sampler is told a very low value) but never "complete" to a person.
//   - A trial is Finished (counts toward --trials) when it is complete and not a duplicate: a duplicate is a
//     proposal answered from an earlier measurement without running anything.
//   - A Candidate is one distinct command line with all of its measurements; the best config is the feasible
//     candidate with the highest mean throughput, feasible on every measurement.
package report
