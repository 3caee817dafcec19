package sim

import (
	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/sim/internal/model"
)

// The model's API for the rest of autotune (searchq, cmd/autotune, space's tests): running a config in process,
// the landscapes it runs on, and vLLM 0.15.1's flag set. The model itself is sim/internal/model.

type (
	// Outcome is what a simulated trial produces: a refusal with vLLM's message, or the benchmark's metrics.
	Outcome = model.Outcome
	// Failure is vLLM's refusal of a config: the phase it fails in, the exit status and the message.
	Failure = model.Failure
	// Workload is a `vllm bench serve` run (random dataset) as the simulator sees it.
	Workload = model.Workload
	// RequestResult is one request as the benchmark client measures it.
	RequestResult = model.RequestResult
	// LiveMetrics is the server's /metrics state part-way through a benchmark (LiveAt).
	LiveMetrics = model.LiveMetrics
	// Landscape holds the constants the calibration data cannot pin down, and the GPU.
	Landscape = model.Landscape
	// BackendCost is an attention backend's cost factors in a Landscape.
	BackendCost = model.BackendCost
	// GPU is the simulated device of a Landscape.
	GPU = model.GPU
)

// ModelMaxLen is the model's derived max_model_len (max_position_embeddings of Qwen2.5-0.5B).
const ModelMaxLen = model.ModelMaxLen

// VLLMVersion is the vLLM version the simulator plays, as `vllm --version` prints it.
const VLLMVersion = model.VLLMVersion

// Predict simulates `vllm serve <args>` followed by `vllm bench serve` with workload w, in process and without
// sleeping, on the calibrated T4 with arctic-inference installed. seed 0 gives the model's central value.
func Predict(args []string, w Workload, seed int64) Outcome { return model.Predict(args, w, seed) }

// PredictOn is Predict on landscape l with the optional Python packages installed.
func PredictOn(l *Landscape, packages map[string]bool, args []string, w Workload, seed int64) Outcome {
	return model.PredictOn(l, packages, args, w, seed)
}

// DefaultLandscape is the calibrated T4.
func DefaultLandscape() Landscape { return model.DefaultLandscape() }

// T4 is the calibrated Tesla T4.
func T4() GPU { return model.T4() }

// L4 is an NVIDIA L4 (sm89), the second GPU of searchq's ensemble.
func L4() GPU { return model.L4() }

// DefaultWorkload is the scored benchmark, runner.DefaultWorkload, as the simulator runs it.
func DefaultWorkload() Workload { return model.DefaultWorkload() }

// WorkloadOf is the benchmark that w has the simulator run in process.
func WorkloadOf(w runner.Workload) Workload { return model.WorkloadOf(w) }

// LiveAt is the server's /metrics state t simulated seconds into a benchmark whose requests are results.
func LiveAt(results []RequestResult, t float64) LiveMetrics { return model.LiveAt(results, t) }

// ArcticInference is the Python module suffix decoding needs, as PredictOn's and CheckConfig's packages name it.
const ArcticInference = model.ArcticInference

// Modelled says what the simulator models ("Qwen/Qwen2.5-0.5B and its checkpoints on a Tesla T4").
const Modelled = model.Modelled

// CheckModel refuses a model the simulator does not model.
func CheckModel(name string) error { return model.CheckModel(name) }

// CheckServeArgs parses args under vLLM 0.15.1's `vllm serve` flag set; the error is argparse's text.
func CheckServeArgs(args []string) error { return model.CheckServeArgs(args) }

// CheckConfig is CheckServeArgs followed by vLLM's config resolution with the optional Python packages
// installed: argparse's error, or the *Failure of a config vLLM refuses before it loads the model (memory and
// startup are not checked; Predict does that).
func CheckConfig(args []string, packages map[string]bool) error {
	a, err := model.ParseServeArgs(args)
	if err != nil {
		return err
	}
	if _, f := model.ResolveEngine(a, model.Env{Packages: packages}); f != nil {
		return f
	}
	return nil
}

// ServeFlagNames lists the option strings `vllm serve` accepts.
func ServeFlagNames() []string { return model.ServeFlagNames() }
