package process

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/autotune/autotune/sim/internal/model"
)

// nvidiaSMI answers the query the runner makes (and a few neighbours) for the simulated Tesla T4s, one line per
// GPU (Config.GPUs: AUTOTUNE_SIM_GPUS), and, as the real one, whatever CUDA_VISIBLE_DEVICES says:
//
//	nvidia-smi --query-gpu=name,compute_cap,memory.total,memory.used --format=csv,noheader,nounits
//	Tesla T4, 7.5, 15360, 13690
//
// memory.used of a GPU is the sum of the live simulated processes' records for it in the state directory.
func nvidiaSMI(cfg Config, args []string, stdout, stderr io.Writer) int {
	var query, format string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "--query-gpu="):
			query = strings.TrimPrefix(a, "--query-gpu=")
		case a == "--query-gpu" && i+1 < len(args):
			i++
			query = args[i]
		case strings.HasPrefix(a, "--format="):
			format = strings.TrimPrefix(a, "--format=")
		case a == "--format" && i+1 < len(args):
			i++
			format = args[i]
		default:
			fmt.Fprintf(stderr, "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n(autotune sim: only --query-gpu=... --format=csv[,noheader][,nounits] is simulated)\n")
			return 2
		}
	}
	st, err := openState(cfg.StateDir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if query == "" {
		fmt.Fprintf(stdout, "autotune sim: SIMULATED nvidia-smi\n")
		for g := range cfg.GPUs {
			fmt.Fprintf(stdout, "| GPU %d: Tesla T4 (compute capability 7.5) | %dMiB / %dMiB |\n", g, st.gpuUsedMiBOn(g, -1), model.DeviceTotalMiB)
		}
		return 0
	}
	if !strings.HasPrefix(format, "csv") {
		fmt.Fprintf(stderr, "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n")
		return 2
	}
	noheader := strings.Contains(format, "noheader")
	nounits := strings.Contains(format, "nounits")
	fields := strings.Split(query, ",")
	for g := range cfg.GPUs {
		if code := nvsmiLine(g, cfg.GPUs, st.gpuUsedMiBOn(g, -1), fields, noheader || g > 0, nounits, stdout, stderr); code != 0 {
			return code
		}
	}
	return 0
}

// nvsmiLine prints one GPU's line of a --query-gpu answer (and the header first, unless noheader).
func nvsmiLine(gpu, count, used int, fields []string, noheader, nounits bool, stdout, stderr io.Writer) int {
	var vals, heads []string
	for _, f := range fields {
		f = strings.TrimSpace(f)
		var v, unit string
		switch f {
		case "name", "gpu_name":
			v = "Tesla T4"
		case "compute_cap":
			v = "7.5"
		case "memory.total":
			v, unit = fmt.Sprint(model.DeviceTotalMiB), "MiB"
		case "memory.used":
			v, unit = fmt.Sprint(used), "MiB"
		case "memory.free":
			v, unit = fmt.Sprint(model.DeviceTotalMiB-used), "MiB"
		case "index":
			v = fmt.Sprint(gpu)
		case "driver_version":
			v = "550.90.07" // t4-calibration.md §2.1
		case "count":
			v = fmt.Sprint(count)
		case "uuid", "gpu_uuid":
			v = fmt.Sprintf("GPU-00000000-0000-0000-0000-autotunesim%d", gpu)
		default:
			fmt.Fprintf(stderr, "Field \"%s\" is not a valid field to query.\n\n", f)
			return 2
		}
		h := f
		if unit != "" {
			h += " [" + unit + "]"
			if !nounits {
				v += " " + unit
			}
		}
		vals, heads = append(vals, v), append(heads, h)
	}
	if !noheader {
		fmt.Fprintln(stdout, strings.Join(heads, ", "))
	}
	fmt.Fprintln(stdout, strings.Join(vals, ", "))
	return 0
}

var importRE = regexp.MustCompile(`(?:^|[;\s])(?:import|from)\s+([A-Za-z_][A-Za-z0-9_]*)|find_spec\(\s*["']([A-Za-z_][A-Za-z0-9_.\-]*)["']|__import__\(\s*["']([A-Za-z_][A-Za-z0-9_\-]*)["']|import_module\(\s*["']([A-Za-z_][A-Za-z0-9_\-]*)["']`)

var basePackages = map[string]string{"vllm": model.VLLMVersion, "torch": "", "transformers": "", "sys": "", "os": "",
	"importlib": "", "json": "", "flashinfer": "", "numpy": "", "triton": ""}

// python simulates `python -c CODE`: it succeeds when every module the code imports (import X, from X import,
// importlib.util.find_spec("X"), __import__("X")) is installed; otherwise it prints ModuleNotFoundError and
// exits 1 (also for find_spec, which the runner uses as "is it installed"). installed are the optional packages
// (Config.Packages).
func python(installed map[string]bool, args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "-c" {
		fmt.Fprintln(stderr, "autotune sim: only `python -c CODE` is simulated")
		return 2
	}
	code := args[1]
	for _, m := range importRE.FindAllStringSubmatch(code, -1) {
		name := m[1]
		if name == "" {
			name = m[2] + m[3] + m[4]
		}
		name = strings.ReplaceAll(strings.Split(name, ".")[0], "-", "_")
		_, base := basePackages[name]
		if base || installed[name] {
			continue
		}
		fmt.Fprintf(stderr, "Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\nModuleNotFoundError: No module named '%s'\n", name)
		return 1
	}
	if strings.Contains(code, "__version__") && strings.Contains(code, "print") {
		switch {
		case strings.Contains(code, "vllm.__version__"):
			fmt.Fprintln(stdout, model.VLLMVersion)
		case strings.Contains(code, model.ArcticInference+".__version__"):
			fmt.Fprintln(stdout, "0.1.1")
		}
	}
	return 0
}
