package process

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/autotune/autotune/sim/internal/model"
)

// vllm bench serve's options (vllm.md §13.2) and their argparse behaviour, for bench.go.

type benchOpt struct {
	kind byte // 'v' one value, 'f' flag, 'm' one or more values
	def  string
}

var benchOpts = map[string]benchOpt{
	"--backend": {'v', "openai"}, "--base-url": {'v', ""}, "--host": {'v', "127.0.0.1"}, "--port": {'v', "8000"},
	"--endpoint": {'v', "/v1/completions"}, "--model": {'v', ""}, "--tokenizer": {'v', ""}, "--tokenizer-mode": {'v', "auto"},
	"--dataset-name": {'v', "random"}, "--num-prompts": {'v', "1000"}, "--random-input-len": {'v', "1024"},
	"--random-output-len": {'v', "128"}, "--random-range-ratio": {'v', "0.0"}, "--random-prefix-len": {'v', "0"},
	"--seed": {'v', "0"}, "--request-rate": {'v', "inf"}, "--burstiness": {'v', "1.0"}, "--max-concurrency": {'v', ""},
	"--ignore-eos": {'f', ""}, "--percentile-metrics": {'v', "ttft,tpot,itl"}, "--metric-percentiles": {'v', "99"},
	"--goodput": {'m', ""}, "--num-warmups": {'v', "0"}, "--ready-check-timeout-sec": {'v', "0"},
	"--save-result": {'f', ""}, "--append-result": {'f', ""}, "--save-detailed": {'f', ""}, "--result-dir": {'v', ""},
	"--result-filename": {'v', ""}, "--metadata": {'m', ""}, "--label": {'v', ""}, "--temperature": {'v', ""},
	"--top-p": {'v', ""}, "--top-k": {'v', ""}, "--min-p": {'v', ""}, "--frequency-penalty": {'v', ""},
	"--presence-penalty": {'v', ""}, "--repetition-penalty": {'v', ""}, "--extra-body": {'v', ""},
	"--disable-tqdm": {'f', ""}, "--profile": {'f', ""}, "--ramp-up-strategy": {'v', ""}, "--ramp-up-start-rps": {'v', ""},
	"--ramp-up-end-rps": {'v', ""}, "--header": {'m', ""}, "--request-id-prefix": {'v', ""}, "--trust-remote-code": {'f', ""},
	"--served-model-name": {'v', ""},
}

type benchArgs struct {
	v     map[string]string
	multi map[string][]string
	flags map[string]bool
}

func (b *benchArgs) get(name string) string {
	if v, ok := b.v[name]; ok {
		return v
	}
	return benchOpts[name].def
}

func benchArgErr(format string, a ...any) *model.ArgError {
	return &model.ArgError{Prog: "vllm bench serve", Usage: "usage: vllm bench serve [options]", Message: fmt.Sprintf(format, a...)}
}

func parseBenchArgs(args []string) (*benchArgs, error) {
	b := &benchArgs{v: map[string]string{}, multi: map[string][]string{}, flags: map[string]bool{}}
	var extras []string
	for i := 0; i < len(args); i++ {
		tok := args[i]
		if !model.LooksLikeOption(tok) {
			extras = append(extras, tok)
			continue
		}
		name, val, hasVal := strings.Cut(tok, "=")
		name = "--" + strings.ReplaceAll(strings.TrimPrefix(name, "--"), "_", "-")
		o, ok := benchOpts[name]
		if !ok {
			extras = append(extras, tok)
			continue
		}
		switch o.kind {
		case 'f':
			if hasVal {
				return nil, benchArgErr("argument %s: ignored explicit argument '%s'", name, val)
			}
			b.flags[name] = true
		case 'm':
			var items []string
			if hasVal {
				items = append(items, val)
			}
			for i+1 < len(args) && !model.LooksLikeOption(args[i+1]) {
				i++
				items = append(items, args[i])
			}
			if len(items) == 0 {
				return nil, benchArgErr("argument %s: expected at least one argument", name)
			}
			b.multi[name] = append(b.multi[name], items...)
		default:
			if !hasVal {
				if i+1 >= len(args) || model.LooksLikeOption(args[i+1]) {
					return nil, benchArgErr("argument %s: expected one argument", name)
				}
				i++
				val = args[i]
			}
			b.v[name] = val
		}
	}
	if len(extras) > 0 {
		return nil, &model.ArgError{Prog: "vllm", Usage: model.TopUsage, Message: "unrecognized arguments: " + strings.Join(extras, " ")}
	}
	for _, n := range []string{"--num-prompts", "--random-input-len", "--random-output-len", "--random-prefix-len", "--seed", "--num-warmups", "--port"} {
		if _, err := strconv.Atoi(b.get(n)); err != nil {
			return nil, benchArgErr("argument %s: invalid int value: '%s'", n, b.get(n))
		}
	}
	if v := b.get("--max-concurrency"); v != "" {
		if _, err := strconv.Atoi(v); err != nil {
			return nil, benchArgErr("argument --max-concurrency: invalid int value: '%s'", v)
		}
	}
	for _, n := range []string{"--request-rate", "--burstiness", "--ready-check-timeout-sec"} {
		if _, err := strconv.ParseFloat(b.get(n), 64); err != nil {
			return nil, benchArgErr("argument %s: invalid float value: '%s'", n, b.get(n))
		}
	}
	if v := b.get("--temperature"); v != "" {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return nil, benchArgErr("argument --temperature: invalid float value: '%s'", v)
		}
	}
	return b, nil
}
