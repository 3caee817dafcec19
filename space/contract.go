package space

// This file is the contract between space and its consumers (tuner, cmd). Change it only together with them.

// Suggester draws one value for a named parameter. *goptuna.Trial satisfies it, so the tuner passes its trial
// straight in; tests pass a hand-written fake. A parameter name must always be drawn with the same domain.
type Suggester interface {
	SuggestCategorical(name string, choices []string) (string, error)
	SuggestInt(name string, low, high int) (int, error)
	SuggestStepInt(name string, low, high, step int) (int, error)
	SuggestFloat(name string, low, high float64) (float64, error)
	SuggestDiscreteFloat(name string, low, high, q float64) (float64, error)
	SuggestLogFloat(name string, low, high float64) (float64, error)
}

// DefaultChoice is the value of a categorical parameter that leaves its flag out, so that vLLM's own default
// applies; every parameter of the baseline has it (or its domain's default).
const DefaultChoice = "default"

// BaselineLabel labels the Baseline config: vLLM's defaults, measured on the same machine.
const BaselineLabel = "baseline"

// Config is one point of the space: what a trial runs.
type Config struct {
	// Params holds every parameter drawn for this point (after repair), rendered as strings, keyed by
	// parameter name. Parameters that did not apply (conditional ones) are absent.
	Params map[string]string
	// Args are the tuned `vllm serve` flags, without the model, --host and --port. Empty for the baseline.
	Args []string
	// Env holds extra environment variables for the server (e.g. from a space file). Nil when none.
	Env map[string]string
	// Model, when non-empty, replaces the study's model as the positional argument of `vllm serve` (a model
	// variant from a space file, served under the study's model name via --served-model-name in Args).
	Model string
	// Label names where the point came from when it was not sampled: "baseline", "known-good: <name>".
	Label string
}

// Key identifies a config by what the server would actually run, so that two draws that render the same
// command line are recognised as one config.
func (c Config) Key() string {
	k := c.Model + "\x00"
	for _, a := range c.Args {
		k += a + "\x00"
	}
	k += "\x01"
	for _, name := range sortedKeys(c.Env) {
		k += name + "=" + c.Env[name] + "\x00"
	}
	return k
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// Platform is what the runner's probes found about the GPU and the vLLM install. The space uses it to drop
// or translate what this GPU or this vLLM cannot take.
type Platform struct {
	GPUName     string  // "Tesla T4"
	ComputeCap  float64 // 7.5
	MemoryMiB   int     // total device memory as nvidia-smi reports it
	VLLMVersion string  // "0.15.1"; empty when unknown
	// ServeFlags is the set of long flags (with leading "--") that `vllm serve --help=all` lists.
	// Nil means the help text could not be read: fall back to the version table.
	ServeFlags map[string]bool
	// Packages lists optional Python packages found next to vLLM (e.g. "arctic-inference").
	Packages map[string]bool
}

// Dropped records a parameter or a single value left out of the space, and why.
type Dropped struct {
	Param  string // parameter name
	Value  string // empty when the whole parameter is dropped
	Reason string
}
