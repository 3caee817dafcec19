package process

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/autotune/autotune/sim/internal/model"
)

// bench serve's HTTP client: readiness, the served model, the run (posted to model.BenchRoute and streamed
// back) and the spec-decode counters of /metrics.

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
