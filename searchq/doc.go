// Package searchq measures how well autotune's samplers search (issue 6, item 6), on the simulator only.
//
// An experiment runs N seeds x {tpe, random, grid} x T trials. Each study is a real tuner.Tuner run, with its
// own SQLite store in memory (store.OpenMemory), the default search space of the simulated Tesla T4 (vLLM 0.15.1, arctic-inference
// installed), the scored workload and the default SLA; only the runner is replaced: SimRunner answers each
// trial with sim.Predict in process, with run-to-run noise drawn from (seed, trial number), so a study sees the
// ~4% noise a real one would and is reproducible.
//
// Each study is scored as a user would use it: the pick is what `autotune best` exports (report.Best: the best
// mean measured, noisy, throughput, feasible on every measurement), and the pick is judged by its noise-free throughput (sim.Predict with seed 0) as a fraction of the
// optimum, the best noise-free feasible throughput of the whole space. The optimum is found once by
// FindOptimum (sensitivity analysis, exhaustive enumeration of the sub-spaces that can hold it, random points and
// local search as a cross-check) and cached in testdata/optimum-<scenario>.json. Per sampler the experiment reports the
// median and spread of that fraction and how many trials the running pick needed to reach 95% of the optimum.
//
// Everything here is simulated: the numbers say how the samplers behave on the simulator's model of the
// T4, not how fast vLLM is.
//
// The ensemble (issue 10, ensemble*.go) runs the same experiment on 32 perturbed landscapes of the simulator: every
// constant the published data cannot pin down drawn from the ranges in Ranges (the one place they are kept), on a
// T4 with and without arctic-inference and on an L4, each member scored against its own optimum (FastOptimum,
// cached with a fingerprint), with the simulated GPU time each study would have taken (SimRunner.Cost).
//
// cmd/searchq is the command line; RESULTS.md holds the results and how to reproduce them.
package searchq
