// Package sampler proposes the values of a study's next trial: TPE after a uniform start-up phase (the default),
// uniform random search and a hashed grid, the latter two for comparison.
//
// A sampler is called with the study's trials explicitly (History), in goptuna's vocabulary (FrozenTrial and its
// distributions), and never reads or writes a study's storage: the tuner reads the study once per proposal and
// decides what the sampler sees (running trials by the constant liar, see tuner/propose.go). Draw adapts a sampler to
// space.Suggester, so that a search space draws a whole config from it in memory; Uniform's Suggester is the
// one uniform random Suggester of the project (searchq's random points, the tests' random configs).
//
// goptuna v0.9.0's own samplers have defects that matter here (an unreachable upper integer bound, unseeded
// draws, a deterministic categorical argmax, mis-indexed weights); each sampler's comment says which one it
// works around.
package sampler
