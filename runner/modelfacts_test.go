package runner

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDeriveMaxModelLen(t *testing.T) {
	cases := []struct {
		name, config string
		tok          map[string]any
		want         int
	}{
		{"one key", `{"max_position_embeddings": 32768}`, nil, 32768},
		{"smallest key wins", `{"max_position_embeddings": 8192, "seq_length": 4096}`, nil, 4096},
		{"model_max_length overrides", `{"max_position_embeddings": 8192, "model_max_length": 131072}`, nil, 131072},
		{"text_config of a multimodal model", `{"text_config": {"max_position_embeddings": 16384}, "max_position_embeddings": 99}`, nil, 16384},
		{"tokenizer caps", `{"max_position_embeddings": 32768}`, map[string]any{"model_max_length": 16384.0}, 16384},
		{"no key: vLLM's 2048", `{"hidden_size": 10}`, nil, 2048},
		{"yarn scales the original length", `{"max_position_embeddings": 40960, "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}`, nil, 131072},
		{"linear factor", `{"max_position_embeddings": 4096, "rope_scaling": {"type": "linear", "factor": 2.0}}`, nil, 8192},
		{"llama3 is not scaled", `{"max_position_embeddings": 131072, "rope_scaling": {"rope_type": "llama3", "factor": 8.0}}`, nil, 131072},
	}
	for _, c := range cases {
		got, err := deriveMaxModelLen([]byte(c.config), c.tok)
		if err != nil || got != c.want {
			t.Errorf("%s: got %d, %v; want %d", c.name, got, err, c.want)
		}
	}
	if _, err := deriveMaxModelLen([]byte("{"), nil); err == nil {
		t.Error("broken config.json: no error")
	}
}

func TestModelMaxLenFindsTheHubCache(t *testing.T) {
	home := t.TempDir()
	repo := filepath.Join(home, "hub", "models--Org--Model-1B")
	snap := filepath.Join(repo, "snapshots", "abc123")
	old := filepath.Join(repo, "snapshots", "000old")
	for _, d := range []string{snap, old, filepath.Join(repo, "refs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(repo, "refs", "main"), []byte("abc123\n"), 0o644)
	os.WriteFile(filepath.Join(snap, "config.json"), []byte(`{"max_position_embeddings": 8192}`), 0o644)
	os.WriteFile(filepath.Join(old, "config.json"), []byte(`{"max_position_embeddings": 2048}`), 0o644)

	n, path, err := ModelMaxLen("Org/Model-1B", []string{"HF_HOME=" + home})
	if err != nil || n != 8192 || path != filepath.Join(snap, "config.json") {
		t.Errorf("got %d from %q, %v; want 8192 from the snapshot refs/main names", n, path, err)
	}
	// A local folder of that name comes first.
	local := t.TempDir()
	os.WriteFile(filepath.Join(local, "config.json"), []byte(`{"n_positions": 1024}`), 0o644)
	if n, _, err := ModelMaxLen(local, nil); err != nil || n != 1024 {
		t.Errorf("local folder: got %d, %v; want 1024", n, err)
	}
	if _, _, err := ModelMaxLen("Org/Not-Downloaded", []string{"HF_HOME=" + home}); !errors.Is(err, ErrModelNotCached) {
		t.Errorf("not cached: err = %v, want ErrModelNotCached", err)
	}
}

// The real config.json of the model the simulator models gives the max_model_len the simulator assumes.
func TestModelMaxLenOfQwen25(t *testing.T) {
	n, _, err := ModelMaxLen(filepath.Join("testdata", "models", "Qwen2.5-0.5B"), nil)
	if err != nil || n != 32768 {
		t.Errorf("got %d, %v; want 32768", n, err)
	}
}
