package process

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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

// This file is `bench serve`: vllm bench serve's options (vllm.md §13.2), a run against the simulated server,
// its stdout summary (vllm.md §13.9) and its JSON (vllm.md §13.8, §13.6), with vLLM's failure behaviour (vllm.md §13.7). The server
// simulates the run and streams per-request measurements (TTFT, ITLs, latency, output length, error); the
// metrics are then computed from them exactly as vLLM computes them from its own per-request measurements.

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

// kv is one ordered key/value pair of the result JSON (the metrics' own come as model.KV).
type kv struct {
	Key   string
	Value any
}

// encodeOrdered writes a JSON object with the keys in order, as Python's json.dump does (", " and ": ").
func encodeOrdered(kvs []kv) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range kvs {
		if i > 0 {
			b.WriteString(", ")
		}
		k, _ := json.Marshal(kv.Key)
		b.Write(k)
		b.WriteString(": ")
		writePyValue(&b, kv.Value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func writePyValue(b *bytes.Buffer, v any) {
	switch t := v.(type) {
	case float64:
		b.WriteString(model.PyFloat(t))
	case []float64:
		b.WriteByte('[')
		for i, x := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(model.PyFloat(x))
		}
		b.WriteByte(']')
	case [][]float64:
		b.WriteByte('[')
		for i, x := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyValue(b, x)
		}
		b.WriteByte(']')
	default:
		j, _ := json.Marshal(t)
		j = bytes.ReplaceAll(j, []byte(","), []byte(", "))
		j = bytes.ReplaceAll(j, []byte(`":`), []byte(`": `))
		if _, isStr := t.(string); isStr {
			j, _ = json.Marshal(t)
		}
		if _, isStrs := t.([]string); isStrs {
			parts := make([]string, len(t.([]string)))
			for i, s := range t.([]string) {
				q, _ := json.Marshal(s)
				parts[i] = string(q)
			}
			j = []byte("[" + strings.Join(parts, ", ") + "]")
		}
		b.Write(j)
	}
}

// pyRateString is Python's f"{float}" for the file name: inf, 10.0, 2.5.
func pyRateString(r float64) string {
	if math.IsInf(r, 1) {
		return "inf"
	}
	return model.PyFloat(r)
}

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
	model.PrintSummary(&sb, &m, maxConc, selected, percentiles)
	spec := specKeys(before, after)
	if spec != nil {
		fmt.Fprintf(&sb, "%s\n", center50("Speculative Decoding", '-'))
		fmt.Fprintf(&sb, "%-40s %-10.2f\n", "Acceptance rate (%):", spec[0].Value)
		fmt.Fprintf(&sb, "%-40s %-10.2f\n", "Acceptance length:", spec[1].Value)
		fmt.Fprintf(&sb, "%-40s %-10v\n", "Drafts:", spec[2].Value)
		fmt.Fprintf(&sb, "%-40s %-10v\n", "Draft tokens:", spec[3].Value)
		fmt.Fprintf(&sb, "%-40s %-10v\n", "Accepted tokens:", spec[4].Value)
		sb.WriteString(strings.Repeat("=", 50) + "\n")
	}
	io.WriteString(stdout, sb.String())
	_ = stats

	if ba.flags["--save-result"] || ba.flags["--append-result"] {
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
		if cfg.Faults[FaultBenchBadJSON] {
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
	}
	if cfg.Faults[FaultBenchHang] {
		<-ctx.Done()
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

// connError is the aiohttp error a refused connection produces (vllm.md §13.7: the traceback text).
func connError(root string, err error) string {
	u, _ := url.Parse(root)
	host, port, _ := net.SplitHostPort(u.Host)
	return fmt.Sprintf("aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host %s:%s ssl:default [Connect call failed ('%s', %s)] (%v)", host, port, host, port, err)
}

func healthy(ctx context.Context, c *http.Client, root string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, root+"/health", nil)
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

func fetchModel(ctx context.Context, c *http.Client, root string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, root+"/v1/models", nil)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Data) == 0 {
		return "", fmt.Errorf("no model in /v1/models")
	}
	return body.Data[0].ID, nil
}

// runRemote posts the workload to the simulated server and collects the per-request records as they are
// released. Requests without a record fail: all of them with the connection error when the server is down,
// the rest with a payload error when the stream breaks off (a crash mid-run). speed (Config.Speed) turns the wall
// time of a run without records back into simulated time.
func runRemote(ctx context.Context, c *http.Client, root string, wl model.Workload, rateInf bool, speed float64) ([]model.RequestResult, float64, *model.RunStats) {
	n := wl.NumPrompts
	results := make([]model.RequestResult, n)
	got := make([]bool, n)
	failAll := func(msg string) {
		for i := range results {
			if !got[i] {
				results[i] = model.RequestResult{PromptLen: wl.InputLen, Start: float64(i) * model.ClientStagger, Error: msg}
			}
		}
	}
	if rateInf {
		wl.RequestRate = 0 // JSON has no +Inf
	}
	body, _ := json.Marshal(benchRequest{Workload: wl, RequestRateInf: rateInf})
	begin := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, root+model.BenchRoute, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		failAll("Traceback (most recent call last):\n  File \"vllm/benchmarks/lib/endpoint_request_func.py\", line 190, in async_request_openai_completions\n" + connError(root, err) + "\n")
		return results, math.Max(time.Since(begin).Seconds()*speed, 0.001), nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		failAll(http.StatusText(resp.StatusCode))
		return results, math.Max(time.Since(begin).Seconds()*speed, 0.001), nil
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	lastT := 0.0
	for sc.Scan() {
		var rec benchRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			break
		}
		if rec.Done {
			return results, rec.T, rec.Stats
		}
		if rec.R != nil && rec.I >= 0 && rec.I < n {
			results[rec.I] = *rec.R
			got[rec.I] = true
			lastT = math.Max(lastT, rec.T)
		}
	}
	failAll("Traceback (most recent call last):\n  File \"vllm/benchmarks/lib/endpoint_request_func.py\", line 201, in async_request_openai_completions\naiohttp.client_exceptions.ClientPayloadError: Response payload is not completed: <TransferEncodingError: 400, message='Not enough data to satisfy transfer length header.'>\n")
	return results, math.Max(lastT, time.Since(begin).Seconds()*speed), nil
}

type specCounters struct {
	drafts, draftTokens, accepted float64
	perPos                        []float64
}

// scrapeSpec reads the vllm:spec_decode_* counters from /metrics; nil when absent.
func scrapeSpec(ctx context.Context, c *http.Client, root string) *specCounters {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, root+"/metrics", nil)
	resp, err := c.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var sc specCounters
	found := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(fields[1], 64)
		switch {
		case strings.HasPrefix(line, "vllm:spec_decode_num_drafts_total"):
			sc.drafts, found = v, true
		case strings.HasPrefix(line, "vllm:spec_decode_num_draft_tokens_total"):
			sc.draftTokens = v
		case strings.HasPrefix(line, "vllm:spec_decode_num_accepted_tokens_total"):
			sc.accepted = v
		case strings.HasPrefix(line, "vllm:spec_decode_num_accepted_tokens_per_pos_total"):
			sc.perPos = append(sc.perPos, v)
		}
	}
	if !found {
		return nil
	}
	return &sc
}

// specKeys are the spec_decode_* keys, present only when /metrics had the counters before and after the run
// (vllm.md §13.8).
func specKeys(before, after *specCounters) []kv {
	if before == nil || after == nil {
		return nil
	}
	drafts := after.drafts - before.drafts
	dt := after.draftTokens - before.draftTokens
	acc := after.accepted - before.accepted
	rate, length := 0.0, 1.0
	if dt > 0 {
		rate = acc / dt * 100
	}
	if drafts > 0 {
		length = 1 + acc/drafts
	}
	per := make([]float64, len(after.perPos))
	for i := range per {
		b := 0.0
		if i < len(before.perPos) {
			b = before.perPos[i]
		}
		if drafts > 0 {
			per[i] = (after.perPos[i] - b) / drafts
		}
	}
	return []kv{{"spec_decode_acceptance_rate", rate}, {"spec_decode_acceptance_length", length},
		{"spec_decode_num_drafts", int(drafts)}, {"spec_decode_draft_tokens", int(dt)},
		{"spec_decode_accepted_tokens", int(acc)}, {"spec_decode_per_position_acceptance_rates", per}}
}
