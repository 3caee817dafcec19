package model

import "strings"

// Phase is a step of vLLM's startup (docs/vllm.md §11.2). A Failure fires at the start of its phase, so
// everything printed for earlier phases appears first, as it would in a real log.
type Phase int

// The startup phases in order.
const (
	PhaseParse   Phase = iota // argparse: exit 2 at once (or 1: the simulator refuses a model it does not model)
	PhaseConfig               // API server builds the config after its imports: validation errors
	PhaseDevice               // engine core starts, initialises the device: bf16, free-memory check
	PhaseLoad                 // weights: quantization config files, load format
	PhaseCompile              // torch.compile and the dummy run: fp8e4nv
	PhaseProfile              // memory profiling and KV cache sizing: no room, KV too small
	PhaseCapture              // CUDA graph capture: OOM outside the budget
	PhaseReady                // never fails; the API server is up
)

var phaseNames = [...]string{"parse", "config", "device", "load", "compile", "profile", "capture", "ready"}

func (p Phase) String() string { return phaseNames[p] }

// Failure is a start vLLM refuses, with the exception text it prints. Engine reports whether it happens in the
// engine core (then vLLM adds "EngineCore failed to start." and the front end's RuntimeError).
type Failure struct {
	Phase   Phase
	Engine  bool
	Message string   // the exception line, e.g. "ValueError: Bfloat16 is only supported on GPUs with ..."
	Detail  []string // further lines printed after the exception line (pydantic details)
	// ExitCode is what the process exits with: 2 for argparse errors, 1 otherwise.
	ExitCode int
}

func (f *Failure) Error() string { return f.Message }

// Text is the whole message, exception line and detail lines.
func (f *Failure) Text() string {
	if len(f.Detail) == 0 {
		return f.Message
	}
	return f.Message + "\n" + strings.Join(f.Detail, "\n")
}

func configFail(msg string, detail ...string) *Failure {
	return &Failure{Phase: PhaseConfig, Message: msg, Detail: detail, ExitCode: 1}
}

func EngineFail(p Phase, msg string, detail ...string) *Failure {
	return &Failure{Phase: p, Engine: true, Message: msg, Detail: detail, ExitCode: 1}
}

// pydanticFail renders a pydantic ValidationError as vLLM shows it (reference §10.1: "validation error for
// <Config>" ... "Input should be ...").
func pydanticFail(config, field, problem, typ, input, inputType string) *Failure {
	return configFail("pydantic_core._pydantic_core.ValidationError: 1 validation error for "+config,
		field,
		"  Value error, "+problem+" [type="+typ+", input_value="+input+", input_type="+inputType+"]")
}

func pydanticField(config, field, problem, typ, input, inputType string) *Failure {
	return configFail("pydantic_core._pydantic_core.ValidationError: 1 validation error for "+config,
		field,
		"  "+problem+" [type="+typ+", input_value="+input+", input_type="+inputType+"]")
}
