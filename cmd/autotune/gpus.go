package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/space"
	"github.com/autotune/autotune/tuner"
)

// parseGPUs reads --gpus: "" (one worker, every GPU visible), "all", or a comma-separated list of GPU indices as
// nvidia-smi numbers them. "all" comes back as nil with all set.
func parseGPUs(v string) (gpus []int, all bool, err error) {
	v = strings.TrimSpace(v)
	switch v {
	case "":
		return nil, false, nil
	case "all":
		return nil, true, nil
	}
	for _, f := range strings.Split(v, ",") {
		i, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || i < 0 {
			return nil, false, usagef("--gpus %q: want GPU indices such as 0,1,2,3, or all", v)
		}
		if slices.Contains(gpus, i) {
			return nil, false, usagef("--gpus %q: GPU %d is listed twice", v, i)
		}
		gpus = append(gpus, i)
	}
	return gpus, false, nil
}

// pickGPUs checks the GPUs --gpus names against what the probe found and makes the platform the one of those
// GPUs. A study's results are comparable only on one GPU model: GPUs of different models are refused.
func pickGPUs(gpus []int, all bool, found []runner.GPU, p *space.Platform) ([]int, error) {
	if all {
		gpus = nil
		for i := range found {
			gpus = append(gpus, i)
		}
	}
	for _, i := range gpus {
		if i >= len(found) {
			return nil, usagef("--gpus: there is no GPU %d; nvidia-smi lists %d (0 to %d)", i, len(found), len(found)-1)
		}
	}
	if len(gpus) == 0 {
		return nil, nil
	}
	first := found[gpus[0]]
	for _, i := range gpus[1:] {
		if g := found[i]; g.Name != first.Name || g.MemoryTotalMiB != first.MemoryTotalMiB {
			return nil, usagef("--gpus: GPU %d is a %s (%d MiB) but GPU %d a %s (%d MiB): results on different GPU models "+
				"are not comparable; run one study per model (--gpus with the GPUs of one model, and --study NAME)",
				gpus[0], first.Name, first.MemoryTotalMiB, i, g.Name, g.MemoryTotalMiB)
		}
	}
	p.GPUName, p.ComputeCap, p.MemoryMiB = first.Name, first.ComputeCap, first.MemoryTotalMiB
	return gpus, nil
}

// runWorkers runs one tuner per GPU of gpus in this process, on the same study: each with its own runner (its
// port: the base port plus its position; CUDA_VISIBLE_DEVICES and memory checks of its own GPU). With no GPUs,
// one tuner over r runs. It returns the first worker's summary and the first error that is not an
// interruption (else an interruption).
func runWorkers(ctx context.Context, s *session, gpus []int, base runner.Options, r *runner.Runner,
	newTuner func(r tuner.Runner, label string, stopStale func(context.Context, runner.Process) (bool, error)) *tuner.Tuner) (tuner.Summary, error) {
	if len(gpus) == 0 {
		return newTuner(r, "", r.StopStale).Run(ctx)
	}
	sums := make([]tuner.Summary, len(gpus))
	errs := make([]error, len(gpus))
	var wg sync.WaitGroup
	for k, g := range gpus {
		o := base
		o.Port = base.Port + k
		o.GPUs = []int{g}
		rk := runner.New(o)
		s.add(rk)
		tu := newTuner(rk, fmt.Sprintf("GPU %d", g), rk.StopStale)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[k], errs[k] = tu.Run(ctx)
		}()
	}
	wg.Wait()
	sum := sums[0]
	for _, sk := range sums {
		sum.Finished = max(sum.Finished, sk.Finished)
		if sum.Stopped == "" {
			sum.Stopped = sk.Stopped
		}
	}
	var interrupted error
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, context.Canceled):
			interrupted = err
		default:
			return sum, err
		}
	}
	return sum, interrupted
}

// lockedWriter serializes the writes of several workers' tuners to one writer: each line stays whole, and a
// writer that is not safe for concurrent use (a test's buffer) is not written from two goroutines at once.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
