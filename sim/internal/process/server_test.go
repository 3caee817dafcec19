package process

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/autotune/autotune/sim/internal/model"
)

// newTestServer builds the HTTP side of a started server in process, with time running 1e9× faster.
func newTestServer(t *testing.T, args []string) (*server, *httptest.Server) {
	t.Helper()
	a, err := model.ParseServeArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	e, f := model.ResolveEngine(a, model.Env{Packages: map[string]bool{"arctic_inference": true}})
	if f != nil {
		t.Fatal(f)
	}
	mem, f := model.PlanMemory(e, 0)
	if f != nil {
		t.Fatal(f)
	}
	s := &server{e: e, mem: mem, speed: 1e9, faults: faultSet{}, noise: 1.03, seed: 42, out: &lockedWriter{w: io.Discard},
		errw: &lockedWriter{w: io.Discard}, exit: make(chan int, 1)}
	ts := httptest.NewServer(s.routes())
	t.Cleanup(ts.Close)
	return s, ts
}

// TestHTTPPathAgreesWithPredict: the bench client's metrics, computed from the streamed per-request records,
// equal the metrics of the same simulation computed in process.
func TestHTTPPathAgreesWithPredict(t *testing.T) {
	for _, args := range [][]string{argv(""), argv(`--speculative-config {"method":"suffix"} --stream-interval 4`)} {
		s, ts := newTestServer(t, args)
		w := model.DefaultWorkload()
		results, duration, _ := runRemote(context.Background(), ts.Client(), ts.URL, w, true, 1)
		got := model.ComputeMetrics(results, duration, []string{"ttft", "tpot", "itl", "e2el"}, []float64{99}, nil)
		rs, st := model.RunBench(s.e, s.mem, w, s.noise, rand.New(rand.NewPCG(s.seed, 1)))
		want := model.ComputeMetrics(rs, st.Duration, []string{"ttft", "tpot", "itl", "e2el"}, []float64{99}, nil)
		if got.OutputThroughput != want.OutputThroughput || got.Completed != 200 {
			t.Errorf("%v: HTTP path %.3f tok/s (%d ok), in process %.3f", args, got.OutputThroughput, got.Completed, want.OutputThroughput)
		}
		for i := range want.Stats {
			if got.Stats[i] != want.Stats[i] {
				t.Errorf("%v: %s = %v over HTTP, %v in process", args, want.Stats[i].Key, got.Stats[i].Value, want.Stats[i].Value)
			}
		}
	}
}

func TestSpecDecodeKeysFromMetrics(t *testing.T) {
	_, ts := newTestServer(t, argv(`--speculative-config {"method":"suffix","num_speculative_tokens":8}`))
	ctx := context.Background()
	before := scrapeSpec(ctx, ts.Client(), ts.URL)
	runRemote(ctx, ts.Client(), ts.URL, model.DefaultWorkload(), true, 1)
	after := scrapeSpec(ctx, ts.Client(), ts.URL)
	keys := specKeys(before, after)
	if len(keys) != 6 || keys[0].Key != "spec_decode_acceptance_rate" {
		t.Fatalf("spec keys %v", keys)
	}
	if rate := keys[0].Value.(float64); rate < 30 || rate > 100 {
		t.Errorf("suffix acceptance rate %.1f%%", rate)
	}
	if per := keys[5].Value.([]float64); len(per) != 8 || per[0] < per[7] {
		t.Errorf("per-position acceptance %v should have 8 decreasing entries", per)
	}
	_, plain := newTestServer(t, argv(""))
	if scrapeSpec(ctx, plain.Client(), plain.URL) != nil {
		t.Error("a server without speculative decoding must not expose spec_decode counters")
	}
}

func TestCompletionsEndpoint(t *testing.T) {
	_, ts := newTestServer(t, argv("--max-model-len 2048"))
	post := func(body string) (int, string) {
		resp, err := http.Post(ts.URL+"/v1/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post(`{"model":"Qwen/Qwen2.5-0.5B","prompt":"a b c","max_tokens":4,"stream":true,"stream_options":{"include_usage":true}}`)
	if code != 200 || strings.Count(body, "data: {") != 5 || !strings.HasSuffix(body, "data: [DONE]\n\n") || !strings.Contains(body, `"completion_tokens":4`) {
		t.Errorf("stream: %d\n%s", code, body)
	}
	code, body = post(`{"model":"Qwen/Qwen2.5-0.5B","prompt":"a b c","max_tokens":4}`)
	if code != 200 || !strings.Contains(body, `"finish_reason":"length"`) || !strings.Contains(body, `"prompt_tokens":3`) {
		t.Errorf("non-stream: %d %s", code, body)
	}
	if code, body = post(`{"model":"other","prompt":"x"}`); code != 404 || !strings.Contains(body, "The model `other` does not exist.") {
		t.Errorf("wrong model: %d %s", code, body)
	}
	if code, body = post(`{"model":"Qwen/Qwen2.5-0.5B","prompt":"x","max_tokens":4096}`); code != 400 || !strings.Contains(body, "This model's maximum context length is 2048 tokens.") {
		t.Errorf("too long: %d %s", code, body)
	}
}
