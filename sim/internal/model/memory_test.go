package model

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The KV cache must hold one max-length request in whole blocks, as vLLM checks (cdiv(max_model_len,
// block_size) pages): a cache that holds max_model_len tokens but not the last partial block is refused at
// startup. Before the check rounded up, such a cache was accepted and the scheduler spun forever on a request
// that outgrew it.
func TestKVCacheHoldsWholeBlocksOfMaxLen(t *testing.T) {
	a, err := ParseServeArgs(argv("--max-model-len 1030"))
	if err != nil {
		t.Fatal(err)
	}
	e, fail := ResolveEngine(a, Env{})
	if fail != nil {
		t.Fatal(fail.Text())
	}
	bytesPerToken := int(kvBytesPerToken(e))
	w := Workload{NumPrompts: 1, InputLen: 512, OutputLen: 518, MaxConcurrency: 1}
	cases := []struct {
		tokens int // KV cache size in tokens
		refuse bool
	}{
		{1030, true},  // max_model_len tokens, but 64.4 blocks of 16
		{1040, false}, // 65 whole blocks
	}
	for _, c := range cases {
		args := argv(fmt.Sprintf("--max-model-len 1030 --kv-cache-memory-bytes %d", c.tokens*bytesPerToken+4096))
		done := make(chan Outcome, 1)
		go func() { done <- Predict(args, w, 0) }()
		var out Outcome
		select {
		case out = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d-token cache: Predict did not return", c.tokens)
		}
		if c.refuse {
			if out.Failure == nil || !strings.Contains(out.Failure.Text(), "To serve at least one request with the models's max seq len") {
				t.Errorf("%d-token cache: %+v, want the max-seq-len refusal", c.tokens, out.Failure)
			}
			continue
		}
		if out.Failure != nil || out.Metrics.Completed != 1 {
			t.Errorf("%d-token cache: failure %v, completed %d; want the request served", c.tokens, out.Failure, out.Metrics.Completed)
		}
	}
}
