package space

import (
	"os"
	"strconv"
	"testing"

	"github.com/autotune/autotune/runner"
)

// Probe-like platforms: what runner's probes report on each machine.
func tesla(version string) Platform {
	return Platform{GPUName: "Tesla T4", ComputeCap: 7.5, MemoryMiB: 15360, VLLMVersion: version}
}

func ampere(version string) Platform {
	return Platform{GPUName: "NVIDIA A100-SXM4-40GB", ComputeCap: 8.0, MemoryMiB: 40960, VLLMVersion: version}
}

// helpFlags reads the long flags a `vllm serve --help=all` text lists, with runner's probe's own parser.
func helpFlags(t testing.TB, file string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return runner.HelpFlags(b)
}

func withHelp(t testing.TB, p Platform, file string) Platform {
	p.ServeFlags = helpFlags(t, file)
	return p
}

func withArctic(p Platform) Platform {
	p.Packages = map[string]bool{"arctic-inference": true}
	return p
}

func mustDefault(t testing.TB, p Platform) *Space {
	t.Helper()
	s, err := Default(p, runner.DefaultWorkload())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixedSuggester answers from a map and records the calls in order.
type fixedSuggester struct {
	values map[string]string
	calls  []string
}

func (s *fixedSuggester) get(name string) string {
	s.calls = append(s.calls, name)
	return s.values[name]
}
func (s *fixedSuggester) SuggestCategorical(n string, _ []string) (string, error) {
	return s.get(n), nil
}
func (s *fixedSuggester) SuggestInt(n string, _, _ int) (int, error) { return atoi(s.get(n)), nil }
func (s *fixedSuggester) SuggestStepInt(n string, _, _, _ int) (int, error) {
	return atoi(s.get(n)), nil
}
func (s *fixedSuggester) SuggestFloat(n string, _, _ float64) (float64, error) {
	return atof(s.get(n)), nil
}
func (s *fixedSuggester) SuggestDiscreteFloat(n string, _, _, _ float64) (float64, error) {
	return atof(s.get(n)), nil
}
func (s *fixedSuggester) SuggestLogFloat(n string, _, _ float64) (float64, error) {
	return atof(s.get(n)), nil
}

func atoi(s string) int     { n, _ := strconv.Atoi(s); return n }
func atof(s string) float64 { f, _ := strconv.ParseFloat(s, 64); return f }
