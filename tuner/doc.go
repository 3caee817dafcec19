// Package tuner runs the study: a goptuna study over a search space, one trial at a time, each trial a vLLM
// server start plus a benchmark through a Runner, every finished trial committed to the store before the next
// one starts.
//
// # Lifecycle
//
// Run opens or creates the study in the store and refuses a stored study whose model, workload, SLA, sampler,
// seed, search space or simulation mode differ from the command's: their trials would not be comparable.
// On a new study it enqueues trial 0, vLLM's defaults (no tuned flags, the baseline every result is compared
// with), then the space's known-good points. It then asks for trials (ask/tell, as Katib does, not
// goptuna.Optimize, because the tuner owns the server's lifecycle) until the study has the target number of
// finished trials, counting earlier runs.
//
// goptuna's trials are read and written through trialStore, a handful of named operations that *store.DB
// provides; the samplers (package sampler) are called with the study's trials explicitly (propose.go), so no
// goptuna Study or storage is driven here.
//
// # Objective encoding
//
// The study maximises one value per trial:
//
//	feasible (P99 TPOT and P99 TTFT under their limits, every request successful)
//	    value = output throughput in tok/s                               > 0
//	infeasible (it ran, but missed the SLA)
//	    value = -1 - v, v = sum of relative excesses over each limit     in [-999, -1]
//	            (+1 + failed fraction when requests failed), capped
//	config fault (vLLM refused the flags, crashed, ran out of memory, timed out starting)
//	    value = CrashValue = -10000
//	no evidence (a harness fault: port taken, GPU not released, benchmark tool broken; an interruption)
//	    goptuna state FAIL, no value
//
// So every feasible trial ranks above every infeasible one, a smaller violation ranks higher, and configs that
// crash rank lowest. Crashes are told as COMPLETE trials with CrashValue on purpose: goptuna's TPE drops FAIL
// trials from its observations, so a crash told as FAIL would vanish and TPE would keep proposing its
// neighbourhood. FAIL is kept for results that say nothing about the config; such trials do not count toward
// --trials, and their config is enqueued once more (after three harness faults in a row the study stops: something
// is wrong with the machine, not the configs).
//
// # Duplicates
//
// A categorical space makes TPE propose the same config again. A config whose rendered command line (space.Config
// Key) already has a result is not run twice: the trial is told the earlier value, recorded as a duplicate of the
// earlier trial, and does not count toward --trials. After 3 duplicates in a row the next trial is drawn
// uniformly instead; after 40 in a row the space looks exhausted and the study stops early.
//
// # Confirmation
//
// One benchmark run varies by about 4% on a T4, so the best single measurement among near-equal configs is
// usually a lucky one. The last Options.Confirm trials (at most one in 8 of the budget) therefore re-run, on
// purpose, the best configs that have one measurement, labelled "repeat of #N"; they count toward --trials.
// Best ranks configs by the mean of their measurements and counts a config as feasible only if every
// measurement was.
//
// # Resume
//
// A trial left running by an autotune that is gone is marked failed (interrupted) and its parameters are enqueued
// to run first, so no sampled config is lost. Its server, if it outlived that run, is stopped through the
// recorded process identity (never by name). Several autotunes may work on one study at once: each is a worker
// with a heartbeat (store/worker.go), and a dead worker's trial is requeued by the next worker that notices.
// The sampler's seed is mixed with the number of trials already in the study, so a resumed study does not replay
// the first run's random startup points.
package tuner
