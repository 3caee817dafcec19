package process

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"sort"
	"time"

	"github.com/autotune/autotune/sim/internal/model"
)

// The private route /sim/v1/bench (model.BenchRoute): `bench serve` posts its workload, the server simulates the
// whole run and streams each request's measurements back at their (scaled) wall-clock completion times.

// benchRequest is what `bench serve` posts to the private endpoint: the workload, not 100k SSE chunks.
type benchRequest struct {
	model.Workload
	RequestRateInf bool `json:"request_rate_inf"`
}

// benchRecord is one NDJSON line of the answer: a request's measurements at its completion time T (simulated
// seconds since the run started), or the final line.
type benchRecord struct {
	I     int                  `json:"i"`
	T     float64              `json:"t"`
	R     *model.RequestResult `json:"r,omitempty"`
	Done  bool                 `json:"done,omitempty"`
	Stats *model.RunStats      `json:"stats,omitempty"`
}

// handleBench simulates a whole benchmark run (DES), then streams each request's result at its (scaled)
// wall-clock completion time, so the benchmark takes real time and a crash truncates the stream.
func (s *server) handleBench(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var req benchRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		openAIError(w, http.StatusBadRequest, "BadRequestError", err.Error())
		return
	}
	if s.dead.Load() {
		openAIError(w, http.StatusInternalServerError, "EngineDeadError", "EngineCore encountered an issue. See stack trace (above) for the root cause.")
		return
	}
	wl := req.Workload
	if req.RequestRateInf {
		wl.RequestRate = math.Inf(1)
	}
	if wl.Acceptance <= 0 {
		wl.Acceptance = s.acceptance
	}
	run := s.runs.Add(1)
	rng := rand.New(rand.NewPCG(s.seed, uint64(run)))
	results, stats := model.RunBench(s.e, s.mem, wl, s.noise, rng)
	order := make([]int, len(results))
	end := make([]float64, len(results))
	for i := range results {
		order[i] = i
		end[i] = results[i].Start + results[i].Latency
		if results[i].Error != "" {
			end[i] = results[i].Start + 2*model.NetDelay
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return end[order[a]] < end[order[b]] })
	fault := s.faults.midBench()
	faultAt := math.Inf(1)
	if fault != "" {
		faultAt = stats.Duration / 2
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	begin := time.Now()
	s.mu.Lock()
	s.metrics.running = min(len(results), max(1, wl.MaxConcurrency))
	s.metrics.live = &liveBench{results: results, begin: begin}
	s.mu.Unlock()
	defer func() {
		// Fold what this benchmark generated into the totals, up to where it got.
		s.mu.Lock()
		defer s.mu.Unlock()
		lm := model.LiveAt(results, math.Min(s.simSince(begin), stats.Duration))
		s.metrics.add(lm)
		s.metrics.live = nil
	}()
	for _, i := range order {
		t := end[i]
		if t > faultAt {
			if !sleepUntil(r.Context(), s.at(begin, faultAt)) {
				return
			}
			s.strike(fault)
			return
		}
		if !sleepUntil(r.Context(), s.at(begin, t)) {
			return
		}
		rec := benchRecord{I: i, T: t, R: &results[i]}
		if err := enc.Encode(&rec); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		s.count(&results[i])
	}
	s.mu.Lock()
	s.metrics.running = 0
	s.metrics.preemptions += stats.Preemptions
	s.metrics.drafts += stats.Drafts
	s.metrics.draftTokens += stats.DraftTokens
	s.metrics.accepted += stats.Accepted
	if len(stats.AcceptedPerPos) > len(s.metrics.acceptedPerPos) {
		s.metrics.acceptedPerPos = append(s.metrics.acceptedPerPos, make([]int64, len(stats.AcceptedPerPos)-len(s.metrics.acceptedPerPos))...)
	}
	for p, v := range stats.AcceptedPerPos {
		s.metrics.acceptedPerPos[p] += v
	}
	s.mu.Unlock()
	enc.Encode(&benchRecord{Done: true, T: stats.Duration, Stats: &stats})
}

func (s *server) count(r *model.RequestResult) {
	if r.Error != "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metrics.promptTokens += int64(r.PromptLen)
	s.metrics.success++
	s.metrics.ttftSum += r.TTFT
	s.metrics.e2eSum += r.Latency
	s.metrics.ttftCount++
}

// strike applies a mid-benchmark fault.
func (s *server) strike(fault string) {
	switch fault {
	case faultUnhealthyMidBench:
		s.dead.Store(true)
		s.log("EngineCore_DP0", "ERROR", "core.py:1160", "EngineCore encountered a fatal error.")
		s.errw.line("Traceback (most recent call last):\n  File \"vllm/v1/engine/core.py\", line 1160, in run_engine_core\nRuntimeError: simulated engine failure (AUTOTUNE_SIM_FAULT=unhealthy_mid_bench)")
		s.errw.line(fmt.Sprintf("(APIServer pid=%d) ERROR %s [async_llm.py:480] EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.", s.pid, time.Now().Format("01-02 15:04:05")))
	case faultOOMMidBench:
		s.errw.line(fmt.Sprintf("(EngineCore_DP0 pid=%d) ERROR %s [core.py:1160] %s", s.engPID, time.Now().Format("01-02 15:04:05"), model.TorchOOM(0.59, 0.02, 0)))
		fallthrough
	default:
		s.log("EngineCore_DP0", "ERROR", "core.py:1160", "EngineCore encountered a fatal error.")
		s.errw.line(fmt.Sprintf("(APIServer pid=%d) ERROR %s [async_llm.py:480] EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.", s.pid, time.Now().Format("01-02 15:04:05")))
		select {
		case s.exit <- 1:
		default:
		}
	}
}
