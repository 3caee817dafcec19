package process

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/autotune/autotune/sim/internal/model"
)

// The simulator's own environment variables (Config documents each).
const (
	EnvState      = "AUTOTUNE_SIM_STATE"
	EnvSpeed      = "AUTOTUNE_SIM_SPEED"
	EnvSeed       = "AUTOTUNE_SIM_SEED"
	EnvAcceptance = "AUTOTUNE_SIM_ACCEPTANCE"
	EnvPackages   = "AUTOTUNE_SIM_PACKAGES"
	EnvFault      = "AUTOTUNE_SIM_FAULT"
	EnvGPUs       = "AUTOTUNE_SIM_GPUS"
)

// Config is the simulated machine's environment, read once by sim.Main (ConfigFromEnv) and passed to every
// subcommand; nothing below it reads the environment. This is the one list of the variables the simulator
// reads:
//
//	AUTOTUNE_SIM_STATE       directory shared by all simulated processes (default: $TMPDIR/autotune-sim-<uid>,
//	                         $TMPDIR defaulting to /tmp): GPU-memory records per PID, the torch.compile cache,
//	                         the start counter (state.go)
//	AUTOTUNE_SIM_SPEED       simulated durations are divided by it (default and when not a positive number: 1,
//	                         real time; --simulate uses ~200)
//	AUTOTUNE_SIM_SEED        seeds the run-to-run noise, combined with the config and the start counter, so a
//	                         study is reproducible while a rerun of a config still differs (absent or not an
//	                         integer: the time)
//	AUTOTUNE_SIM_ACCEPTANCE  speculative-decoding acceptance per draft token (absent, not a number or 0: the
//	                         landscape's default per method, see Workload.Acceptance)
//	AUTOTUNE_SIM_PACKAGES    installed optional Python packages, comma-separated, '-' read as '_' (unset:
//	                         arctic_inference; empty: none)
//	AUTOTUNE_SIM_FAULT       fault injection, a comma list of the names in allFaults (off by default; an unknown
//	                         name is an error, so that a misspelt fault never passes as injected), see the
//	                         package documentation
//	AUTOTUNE_SIM_GPUS        how many GPUs the simulated machine has, 1 to 16 (default and when not a positive
//	                         integer: 1; above 16: 16), all Tesla T4s
//	CUDA_VISIBLE_DEVICES     as with CUDA: a server runs on the first index it lists (unset: GPU 0); an index the
//	                         machine lacks fails `serve`
//	VLLM_ALLOW_LONG_MAX_MODEL_LEN, VLLM_DISABLE_COMPILE_CACHE  as in vLLM (1, true or yes, any case)
type Config struct {
	StateDir   string
	Speed      float64
	Seed       uint64
	Acceptance float64
	Packages   map[string]bool
	Faults     faultSet
	// Err is what the environment got wrong (an unknown AUTOTUNE_SIM_FAULT name); Main refuses to run with it.
	Err  error
	GPUs int
	// CUDAVisibleDevices is CUDA_VISIBLE_DEVICES as given; CUDAVisibleSet says whether it is set at all.
	CUDAVisibleDevices  string
	CUDAVisibleSet      bool
	AllowLongMaxLen     bool // VLLM_ALLOW_LONG_MAX_MODEL_LEN
	DisableCompileCache bool // VLLM_DISABLE_COMPILE_CACHE
}

// ConfigFromEnv reads Config from lookup (os.LookupEnv in sim.Main). now seeds the noise when AUTOTUNE_SIM_SEED is
// absent; uid names the default state directory.
func ConfigFromEnv(lookup func(string) (string, bool), now time.Time, uid int) Config {
	get := func(name string) string { v, _ := lookup(name); return v }
	truthy := func(name string) bool {
		v := strings.ToLower(get(name))
		return v == "1" || v == "true" || v == "yes"
	}
	c := Config{StateDir: get(EnvState), Speed: 1, Seed: uint64(now.UnixNano()), GPUs: 1,
		AllowLongMaxLen: truthy("VLLM_ALLOW_LONG_MAX_MODEL_LEN"), DisableCompileCache: truthy("VLLM_DISABLE_COMPILE_CACHE")}
	if c.StateDir == "" {
		tmp := get("TMPDIR") // as os.TempDir on Unix
		if tmp == "" {
			tmp = "/tmp"
		}
		c.StateDir = filepath.Join(tmp, fmt.Sprintf("autotune-sim-%d", uid))
	}
	if v, err := strconv.ParseFloat(strings.TrimSpace(get(EnvSpeed)), 64); err == nil && v > 0 {
		c.Speed = v
	}
	if v, err := strconv.ParseInt(strings.TrimSpace(get(EnvSeed)), 10, 64); err == nil {
		c.Seed = uint64(v)
	}
	if v, err := strconv.ParseFloat(strings.TrimSpace(get(EnvAcceptance)), 64); err == nil {
		c.Acceptance = v
	}
	pk, ok := lookup(EnvPackages)
	if !ok {
		pk = model.ArcticInference
	}
	c.Packages = map[string]bool{}
	for _, p := range strings.Split(pk, ",") {
		if p = strings.TrimSpace(strings.ReplaceAll(p, "-", "_")); p != "" {
			c.Packages[p] = true
		}
	}
	c.Faults = faultSet{}
	for _, name := range strings.Split(get(EnvFault), ",") {
		if name = strings.TrimSpace(name); name != "" {
			if !slices.Contains(allFaults, name) {
				c.Err = fmt.Errorf("%s: unknown fault %q (one of %s)", EnvFault, name, strings.Join(allFaults, ", "))
			}
			c.Faults[name] = true
		}
	}
	if n, err := strconv.Atoi(get(EnvGPUs)); err == nil && n >= 1 {
		c.GPUs = min(n, 16)
	}
	c.CUDAVisibleDevices, c.CUDAVisibleSet = lookup("CUDA_VISIBLE_DEVICES")
	return c
}

// VisibleGPU is the GPU a simulated server runs on: the first index in CUDA_VISIBLE_DEVICES, as CUDA numbers
// the devices it shows, or 0 when the variable is unset. It fails on an index the machine does not have.
func (c Config) VisibleGPU() (int, error) {
	if !c.CUDAVisibleSet {
		return 0, nil
	}
	first := strings.TrimSpace(strings.Split(c.CUDAVisibleDevices, ",")[0])
	i, err := strconv.Atoi(first)
	if err != nil || i < 0 || i >= c.GPUs {
		return 0, fmt.Errorf("autotune sim: CUDA_VISIBLE_DEVICES=%q names no GPU of the simulated machine, which has %d (AUTOTUNE_SIM_GPUS)", c.CUDAVisibleDevices, c.GPUs)
	}
	return i, nil
}

// modelEnv is the part of the environment the model sees (the packages and vLLM's own variables).
func (c Config) modelEnv() model.Env {
	return model.Env{Packages: c.Packages, AllowLongLen: c.AllowLongMaxLen, DisableCCache: c.DisableCompileCache}
}
