package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/autotune/autotune/sim/internal/model"
)

// This file is `bench serve`: a run against the simulated server with the options of benchargs.go, its stdout
// summary (vllm.md §13.9) and its JSON (vllm.md §13.8, §13.6; benchjson.go), with vLLM's failure behaviour
// (vllm.md §13.7). The server simulates the run and streams per-request measurements (TTFT, ITLs, latency,
// output length, error; benchclient.go); the metrics are then computed from them exactly as vLLM computes them
// from its own per-request measurements.

// benchServe is `vllm bench serve`.
func benchServe(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) int {
	ba, err := parseBenchArgs(args)
	if err != nil {
		var ae *model.ArgError
		if errors.As(err, &ae) {
			io.WriteString(stderr, ae.Text())
		}
		return 2
	}
	fmt.Fprintln(stdout, "autotune sim: SIMULATED vllm bench serve (vLLM 0.15.1) against a simulated server — not a measurement")
	if ds := ba.get("--dataset-name"); ds != "random" {
		fmt.Fprintf(stderr, "autotune sim: only --dataset-name random is simulated (got %q)\n", ds)
		return 2
	}
	backend := ba.get("--backend")
	endpoint := ba.get("--endpoint")
	if (backend == "openai" || backend == "vllm") && !strings.HasSuffix(endpoint, "completions") {
		fmt.Fprintf(stderr, "Traceback (most recent call last):\nValueError: OpenAI Completions API URL must end with 'completions'.\n")
		return 1
	}
	root := "http://" + net.JoinHostPort(ba.get("--host"), ba.get("--port"))
	if bu := ba.get("--base-url"); bu != "" {
		if u, err := url.Parse(bu); err == nil && u.Host != "" {
			root = u.Scheme + "://" + u.Host
		}
	}
	client := &http.Client{}
	modelName := ba.get("--model")
	if modelName == "" {
		m, err := fetchModel(ctx, client, root)
		if err != nil {
			fmt.Fprintf(stderr, "Traceback (most recent call last):\n  File \"vllm/benchmarks/serve.py\", line 80, in get_first_model_from_server\n%s\n", connError(root, err))
			return 1
		}
		modelName = m
	}
	tokenizer := ba.get("--tokenizer")
	if tokenizer == "" {
		tokenizer = modelName
	}
	atoi := func(n string) int { v, _ := strconv.Atoi(ba.get(n)); return v }
	atof := func(n string) float64 { v, _ := strconv.ParseFloat(ba.get(n), 64); return v }
	maxConc := 0
	if v := ba.get("--max-concurrency"); v != "" {
		maxConc, _ = strconv.Atoi(v)
	}
	rate := atof("--request-rate")
	rr, _ := strconv.ParseFloat(strings.Trim(ba.get("--random-range-ratio"), "\"'"), 64)
	wl := model.Workload{Model: modelName, NumPrompts: atoi("--num-prompts"), InputLen: atoi("--random-input-len"),
		OutputLen: atoi("--random-output-len"), RangeRatio: rr, PrefixLen: atoi("--random-prefix-len"),
		MaxConcurrency: maxConc, RequestRate: rate, Burstiness: atof("--burstiness"), Seed: int64(atoi("--seed"))}
	if v := ba.get("--temperature"); v != "" {
		t, _ := strconv.ParseFloat(v, 64)
		wl.Temperature = &t
	} else {
		fmt.Fprintln(stdout, "WARNING: vllm bench serve no longer sets temperature==0 (greedy) in requests by default. The default will be determined on the server side and can be model/API specific. For the old behavior, include --temperature=0.")
	}
	selected := strings.Split(ba.get("--percentile-metrics"), ",")
	var percentiles []float64
	for _, p := range strings.Split(ba.get("--metric-percentiles"), ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			fmt.Fprintf(stderr, "ValueError: could not convert string to float: '%s'\n", p)
			return 1
		}
		percentiles = append(percentiles, f)
	}
	var goodput map[string]float64
	if g := ba.multi["--goodput"]; len(g) > 0 {
		goodput = map[string]float64{}
		for _, kv := range g {
			k, v, ok := strings.Cut(kv, ":")
			f, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil || (k != "ttft" && k != "tpot" && k != "e2el") {
				fmt.Fprintf(stderr, "ValueError: Invalid format found for service level objectives. Specify service level objectives for goodput as \"KEY:VALUE\" pairs, where the key is a metric name, and the value is a number in milliseconds.\n")
				return 1
			}
			goodput[k] = f
		}
	}
	if t := atof("--ready-check-timeout-sec"); t > 0 {
		fmt.Fprintln(stdout, "Starting initial single prompt test run...")
		deadline := time.Now().Add(time.Duration(t / cfg.Speed * float64(time.Second)))
		for !healthy(ctx, client, root) {
			if time.Now().After(deadline) || ctx.Err() != nil {
				fmt.Fprintf(stderr, "Traceback (most recent call last):\nValueError: Initial test run failed - Please make sure benchmark arguments are correctly specified. Error: %s\n", connError(root, errors.New("not ready")))
				return 1
			}
			time.Sleep(time.Duration(5 / cfg.Speed * float64(time.Second)))
		}
		fmt.Fprintln(stdout, "Initial test run completed.")
	}
	if n := atoi("--num-warmups"); n > 0 {
		fmt.Fprintf(stdout, "Warming up with %d requests...\n", n)
	}
	rateStr := ba.get("--request-rate")
	if math.IsInf(rate, 1) {
		rateStr = "inf"
	}
	fmt.Fprintf(stdout, "Traffic request rate: %s\n", rateStr)
	fmt.Fprintf(stdout, "Burstiness factor: %s (%s)\n", model.PyFloat(wl.Burstiness), map[bool]string{true: "Poisson process", false: "Gamma distribution"}[wl.Burstiness == 1])
	if maxConc > 0 {
		fmt.Fprintf(stdout, "Maximum request concurrency: %d\n", maxConc)
	} else {
		fmt.Fprintln(stdout, "Maximum request concurrency: None")
	}
	before := scrapeSpec(ctx, client, root)
	results, duration, stats := runRemote(ctx, client, root, wl, math.IsInf(rate, 1) || rate <= 0, cfg.Speed)
	after := scrapeSpec(ctx, client, root)

	m := model.ComputeMetrics(results, duration, selected, percentiles, goodput)
	spec := specKeys(before, after)
	writeSummary(stdout, &m, maxConc, selected, percentiles, spec)
	_ = stats

	if ba.flags["--save-result"] || ba.flags["--append-result"] {
		res := resultFile{ba: ba, backend: backend, modelName: modelName, tokenizer: tokenizer, rate: rate, maxConc: maxConc, wl: wl}
		if code := res.save(results, &m, spec, cfg.Faults[faultBenchBadJSON], stderr); code != 0 {
			return code
		}
	}
	if cfg.Faults[faultBenchHang] {
		<-ctx.Done()
		return 1
	}
	return 0
}

// writeSummary prints the run's summary as vllm bench serve does (vllm.md §13.9): the failed requests (at most
// 10), the metrics, and the speculative-decoding block when /metrics had its counters.
func writeSummary(w io.Writer, m *model.MetricSet, maxConc int, selected []string, percentiles []float64, spec []kv) {
	var sb strings.Builder
	if m.Failed > 0 {
		fmt.Fprintln(&sb, "Failed requests during benchmark run detected (capping to 10):")
		for i, e := range m.Errors {
			if i >= 10 {
				break
			}
			fmt.Fprintf(&sb, "Error %d: %s\n", i, e)
		}
	}
	if m.Completed == 0 {
		fmt.Fprintln(&sb, "UserWarning: All requests failed. This is likely due to a misconfiguration on the benchmark arguments.")
	}
	model.PrintSummary(&sb, m, maxConc, selected, percentiles)
	if spec != nil {
		fmt.Fprintf(&sb, "%s\n", center50("Speculative Decoding", '-'))
		fmt.Fprintf(&sb, "%-40s %-10.2f\n", "Acceptance rate (%):", spec[0].Value)
		fmt.Fprintf(&sb, "%-40s %-10.2f\n", "Acceptance length:", spec[1].Value)
		fmt.Fprintf(&sb, "%-40s %-10v\n", "Drafts:", spec[2].Value)
		fmt.Fprintf(&sb, "%-40s %-10v\n", "Draft tokens:", spec[3].Value)
		fmt.Fprintf(&sb, "%-40s %-10v\n", "Accepted tokens:", spec[4].Value)
		sb.WriteString(strings.Repeat("=", 50) + "\n")
	}
	io.WriteString(w, sb.String())
}

// resultFile is what bench serve's result JSON says about the run besides its measurements.
type resultFile struct {
	ba                            *benchArgs
	backend, modelName, tokenizer string
	rate                          float64
	maxConc                       int
	wl                            model.Workload
}

// save writes the result JSON (--save-result, --append-result, --save-detailed; vllm.md §13.8, §13.6) of a run's
// results and metrics m, with the spec-decode keys; badJSON truncates it (the bench_bad_json fault). It returns
// the exit status: 1 when the file cannot be written.
func (rf resultFile) save(results []model.RequestResult, m *model.MetricSet, spec []kv, badJSON bool, stderr io.Writer) int {
	ba, backend, modelName, tokenizer, rate, maxConc, wl := rf.ba, rf.backend, rf.modelName, rf.tokenizer, rf.rate, rf.maxConc, rf.wl
	date := time.Now().Format("20060102-150405")
	kvs := []kv{{"date", date}, {"endpoint_type", backend}, {"backend", backend}, {"label", nilIfEmpty(ba.get("--label"))},
		{"model_id", modelName}, {"tokenizer_id", tokenizer}, {"num_prompts", wl.NumPrompts}}
	for _, md := range ba.multi["--metadata"] {
		k, v, _ := strings.Cut(md, "=")
		kvs = append(kvs, kv{k, v})
	}
	var rateVal any = rate
	if math.IsInf(rate, 1) {
		rateVal = "inf"
	}
	var mc any
	if maxConc > 0 {
		mc = maxConc
	}
	var gp any
	if m.RequestGoodput != nil {
		gp = *m.RequestGoodput
	}
	kvs = append(kvs, kv{"request_rate", rateVal}, kv{"burstiness", wl.Burstiness}, kv{"max_concurrency", mc},
		kv{"duration", m.Duration}, kv{"completed", m.Completed}, kv{"failed", m.Failed},
		kv{"total_input_tokens", m.TotalInput}, kv{"total_output_tokens", m.TotalOutput},
		kv{"request_throughput", m.RequestThroughput}, kv{"request_goodput", gp},
		kv{"output_throughput", m.OutputThroughput}, kv{"total_token_throughput", m.TotalTokenThroughput})
	if ba.flags["--save-detailed"] {
		in, outl, ttfts, starts := make([]int, len(results)), make([]int, len(results)), make([]float64, len(results)), make([]float64, len(results))
		itls := make([][]float64, len(results))
		texts, errs := make([]string, len(results)), make([]string, len(results))
		for i, r := range results {
			in[i], outl[i], ttfts[i], starts[i], errs[i] = r.PromptLen, r.OutputLen, r.TTFT, r.Start, r.Error
			itls[i] = append([]float64{}, r.ITL...)
			if r.Error != "" {
				outl[i], ttfts[i] = 0, 0
			}
		}
		kvs = append(kvs, kv{"input_lens", in}, kv{"output_lens", outl}, kv{"ttfts", ttfts}, kv{"itls", itls},
			kv{"start_times", starts}, kv{"generated_texts", texts}, kv{"errors", errs})
	}
	kvs = append(kvs, kv{"max_output_tokens_per_s", m.MaxOutputTokensPerS}, kv{"max_concurrent_requests", m.MaxConcurrentRequests})
	kvs = append(kvs, spec...)
	for _, st := range m.Stats {
		kvs = append(kvs, kv{st.Key, st.Value})
	}
	kvs = append(kvs, kv{"simulated", true})
	data := encodeOrdered(kvs)
	if badJSON {
		data = data[:len(data)/2]
	}
	name := ba.get("--result-filename")
	if name == "" {
		base := backend
		if l := ba.get("--label"); l != "" {
			base = l
		}
		name = fmt.Sprintf("%s-%sqps", base, pyRateString(rate))
		if maxConc > 0 {
			name += fmt.Sprintf("-concurrency%d", maxConc)
		}
		parts := strings.Split(modelName, "/")
		name += "-" + parts[len(parts)-1] + "-" + date + ".json"
	}
	if dir := ba.get("--result-dir"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		name = filepath.Join(dir, name)
	}
	var werr error
	if ba.flags["--append-result"] {
		f, err := os.OpenFile(name, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			_, werr = f.Write(append(data, '\n'))
			f.Close()
		} else {
			werr = err
		}
	} else {
		werr = os.WriteFile(name, data, 0o644)
	}
	if werr != nil {
		fmt.Fprintf(stderr, "Traceback (most recent call last):\n%v\n", werr)
		return 1
	}
	return 0
}

func center50(s string, c byte) string {
	pad := 50 - len(s)
	left := pad / 2
	return strings.Repeat(string(c), left) + s + strings.Repeat(string(c), pad-left)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
