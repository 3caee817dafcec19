package runner

import (
	"slices"
	"strings"
	"testing"
)

// TestPinnedGPUs: a runner pinned to GPU 2 (autotune --gpus) gives its servers CUDA_VISIBLE_DEVICES=2 and judges
// only GPU 2's memory: a server on GPU 0 (another worker's) does not hold it up, its own GPU being busy does.
func TestPinnedGPUs(t *testing.T) {
	r := New(Options{GPUs: []int{2}})
	if env := r.serverEnv(nil, "tok"); !slices.Contains(env, "CUDA_VISIBLE_DEVICES=2") {
		t.Errorf("server environment %v has no CUDA_VISIBLE_DEVICES=2", env)
	}
	idle := []GPU{{Name: "Tesla T4", MemoryTotalMiB: 15360, MemoryUsedMiB: 0}, {Name: "Tesla T4", MemoryTotalMiB: 15360},
		{Name: "Tesla T4", MemoryTotalMiB: 15360}}
	r.busyGPUs(idle)
	others := slices.Clone(idle)
	others[0].MemoryUsedMiB = 14000
	if busy := r.busyGPUs(others); len(busy) != 0 {
		t.Errorf("another worker's server on GPU 0 made GPU 2's runner wait: %v", busy)
	}
	mine := slices.Clone(idle)
	mine[2].MemoryUsedMiB = 14000
	if busy := r.busyGPUs(mine); len(busy) != 1 || !strings.HasPrefix(busy[0], "GPU 2 ") {
		t.Errorf("its own GPU busy: %v, want GPU 2 named", busy)
	}
	if env := New(Options{}).serverEnv(nil, "tok"); slices.ContainsFunc(env, func(s string) bool { return strings.HasPrefix(s, "CUDA_VISIBLE_DEVICES=") }) {
		t.Errorf("an unpinned runner set CUDA_VISIBLE_DEVICES: %v", env)
	}
}
