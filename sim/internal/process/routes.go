package process

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/autotune/autotune/sim/internal/model"
)

// The simulated server's HTTP endpoints (vLLM's /health, /ping, /v1/models, /version, /metrics and
// /v1/completions); the private benchmark route is in benchroute.go.

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	health := func(w http.ResponseWriter, r *http.Request) {
		if s.faults[faultSlowHealth] {
			time.Sleep(2 * time.Second)
		}
		if s.dead.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
	mux.HandleFunc("/health", health)
	mux.HandleFunc("/ping", health)
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"version": model.VLLMVersion, "simulated": true})
	})
	mux.HandleFunc("/v1/models", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{map[string]any{
			"id": s.e.ServedName, "object": "model", "created": s.created, "owned_by": "vllm", "root": s.e.Model,
			"parent": nil, "max_model_len": s.mem.MaxModelLen, "simulated": true}}})
	})
	mux.HandleFunc("/metrics", s.handleMetrics)
	mux.HandleFunc("/v1/completions", s.handleCompletions)
	mux.HandleFunc(model.BenchRoute, s.handleBench)
	if !s.accessLog {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: 200}
		mux.ServeHTTP(rec, r)
		s.out.line(fmt.Sprintf("(APIServer pid=%d) INFO:     %s - \"%s %s HTTP/1.1\" %d %s", s.pid, r.RemoteAddr, r.Method, r.URL.Path, rec.code, http.StatusText(rec.code)))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(c int) { r.code = c; r.ResponseWriter.WriteHeader(c) }
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// openAIError is vLLM's error body.
func openAIError(w http.ResponseWriter, code int, typ, msg string) {
	writeJSON(w, code, map[string]any{"object": "error", "message": msg, "type": typ, "param": nil, "code": code})
}

func (s *server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	m := s.metrics
	m.acceptedPerPos = append([]int64(nil), s.metrics.acceptedPerPos...)
	m.ttft, m.itl = m.ttft.Clone(), m.itl.Clone()
	if lb := m.live; lb != nil {
		lm := model.LiveAt(lb.results, s.simSince(lb.begin))
		m.add(lm)
		m.running = lm.Running
	}
	s.mu.Unlock()
	lbl := fmt.Sprintf(`{engine="0",model_name="%s"}`, s.e.ServedName)
	var b strings.Builder
	b.WriteString("# autotune sim: SIMULATED vLLM 0.15.1 metrics — not a measurement\n")
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s%s %g\n", name, help, name, name, lbl, v)
	}
	counter := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n%s_total%s %g\n", name, help, name, name, lbl, v)
	}
	gauge("vllm:num_requests_running", "Number of requests in model execution batches.", float64(m.running))
	gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", float64(m.waiting))
	kvUse := 0.0
	if s.mem.KVTokens > 0 {
		kvUse = math.Min(1, float64(m.running)*1024/float64(s.mem.KVTokens))
	}
	gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", kvUse)
	counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.", float64(m.preemptions))
	counter("vllm:prompt_tokens", "Number of prefill tokens processed.", float64(m.promptTokens))
	counter("vllm:generation_tokens", "Number of generation tokens processed.", math.Floor(m.gen))
	fmt.Fprintf(&b, "# HELP vllm:request_success Count of successfully processed requests.\n# TYPE vllm:request_success counter\nvllm:request_success_total{engine=\"0\",finished_reason=\"length\",model_name=\"%s\"} %d\n", s.e.ServedName, m.success)
	counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.", float64(m.promptTokens))
	counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", 0)
	inner := strings.TrimSuffix(strings.TrimPrefix(lbl, "{"), "}")
	m.ttft.Write(&b, "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", inner)
	m.itl.Write(&b, "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", inner)
	fmt.Fprintf(&b, "# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.\n# TYPE vllm:e2e_request_latency_seconds histogram\nvllm:e2e_request_latency_seconds_sum%s %g\nvllm:e2e_request_latency_seconds_count%s %d\n", lbl, m.e2eSum, lbl, m.ttftCount)
	if s.e.Spec != nil {
		counter("vllm:spec_decode_num_drafts", "Number of spec decoding drafts.", float64(m.drafts))
		counter("vllm:spec_decode_num_draft_tokens", "Number of draft tokens.", float64(m.draftTokens))
		counter("vllm:spec_decode_num_accepted_tokens", "Number of accepted tokens.", float64(m.accepted))
		b.WriteString("# HELP vllm:spec_decode_num_accepted_tokens_per_pos Accepted tokens per draft position.\n# TYPE vllm:spec_decode_num_accepted_tokens_per_pos counter\n")
		for p := 0; p < s.e.Spec.K; p++ {
			v := int64(0)
			if p < len(m.acceptedPerPos) {
				v = m.acceptedPerPos[p]
			}
			fmt.Fprintf(&b, "vllm:spec_decode_num_accepted_tokens_per_pos_total{engine=\"0\",model_name=\"%s\",position=\"%d\"} %d\n", s.e.ServedName, p, v)
		}
	}
	fmt.Fprintf(&b, "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n# TYPE vllm:cache_config_info gauge\nvllm:cache_config_info{block_size=\"%d\",cache_dtype=\"%s\",engine=\"0\",gpu_memory_utilization=\"%g\",num_gpu_blocks=\"%d\",simulated=\"true\"} 1.0\n",
		s.e.BlockSize, s.e.KVDtype, s.e.Util, s.mem.KVBlocks)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	io.WriteString(w, b.String())
}

// handleCompletions is /v1/completions, streaming (SSE) or not, paced by the cost model for the requests in
// flight through this endpoint.
func (s *server) handleCompletions(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		Model         string          `json:"model"`
		Prompt        json.RawMessage `json:"prompt"`
		MaxTokens     *int            `json:"max_tokens"`
		Stream        bool            `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		openAIError(w, http.StatusBadRequest, "BadRequestError", "invalid JSON: "+err.Error())
		return
	}
	if s.dead.Load() {
		openAIError(w, http.StatusInternalServerError, "EngineDeadError", "EngineCore encountered an issue. See stack trace (above) for the root cause.")
		return
	}
	if req.Model != "" && req.Model != s.e.ServedName {
		openAIError(w, http.StatusNotFound, "NotFoundError", fmt.Sprintf("The model `%s` does not exist.", req.Model))
		return
	}
	promptLen := promptTokens(req.Prompt)
	maxTok := 16
	if req.MaxTokens != nil {
		maxTok = *req.MaxTokens
	}
	if promptLen+maxTok > s.mem.MaxModelLen {
		openAIError(w, http.StatusBadRequest, "BadRequestError", fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d output tokens and your prompt contains %d input tokens, for a total of %d tokens. Please reduce the length of the input prompt or the number of requested output tokens.", s.mem.MaxModelLen, maxTok, promptLen, promptLen+maxTok))
		return
	}
	active := int(s.active.Add(1))
	defer s.active.Add(-1)
	pace := model.NewCompletion(s.e, promptLen)
	id := fmt.Sprintf("cmpl-sim%d", time.Now().UnixNano())
	created := time.Now().Unix()
	begin := time.Now()
	simT := pace.First()
	flusher, _ := w.(http.Flusher)
	chunk := func(text string, finish any) map[string]any {
		return map[string]any{"id": id, "object": "text_completion", "created": created, "model": s.e.ServedName,
			"choices": []any{map[string]any{"index": 0, "text": text, "logprobs": nil, "finish_reason": finish, "stop_reason": nil}}}
	}
	if req.Stream {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
	}
	var text strings.Builder
	pending := ""
	sent := 0
	for i := 1; i <= maxTok; i++ {
		if i > 1 {
			simT += pace.Next(active, i)
		}
		if !sleepUntil(r.Context(), s.at(begin, simT)) {
			return
		}
		tok := simWords[(i*7+promptLen)%len(simWords)]
		text.WriteString(tok)
		pending += tok
		if req.Stream && (sent == 0 || i == maxTok || i-sent >= s.e.StreamInterval) {
			var finish any
			if i == maxTok {
				finish = "length"
			}
			writeSSE(w, chunk(pending, finish))
			if flusher != nil {
				flusher.Flush()
			}
			pending, sent = "", i
		}
	}
	s.count(&model.RequestResult{PromptLen: promptLen, OutputLen: maxTok, TTFT: 0, Latency: time.Since(begin).Seconds()})
	usage := map[string]any{"prompt_tokens": promptLen, "total_tokens": promptLen + maxTok, "completion_tokens": maxTok}
	if req.Stream {
		if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
			writeSSE(w, map[string]any{"id": id, "object": "text_completion", "created": created, "model": s.e.ServedName, "choices": []any{}, "usage": usage})
		}
		io.WriteString(w, "data: [DONE]\n\n")
		return
	}
	resp := chunk(text.String(), "length")
	resp["usage"] = usage
	writeJSON(w, http.StatusOK, resp)
}

var simWords = []string{" the", " simulated", " model", " says", " this", " is", " not", " a", " measurement", "."}

func writeSSE(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	io.WriteString(w, "data: ")
	w.Write(b)
	io.WriteString(w, "\n\n")
}

// promptTokens approximates the token count of a prompt: the length of a token-id list, or the number of
// whitespace-separated words of a string.
func promptTokens(raw json.RawMessage) int {
	var ids []int
	if json.Unmarshal(raw, &ids) == nil {
		return max(1, len(ids))
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return max(1, len(strings.Fields(s)))
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
		return max(1, len(strings.Fields(list[0])))
	}
	return 1
}
