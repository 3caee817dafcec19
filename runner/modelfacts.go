package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// ErrModelNotCached: the model's config.json is neither in a local folder of that name nor in the Hugging Face
// cache (the model has not been downloaded yet).
var ErrModelNotCached = errors.New("model config.json not found locally or in the Hugging Face cache")

// ModelMaxLen returns the max_model_len vLLM derives for model from its config.json, found in a local folder
// named model or in the Hugging Face hub cache that env points at (HF_HUB_CACHE, HF_HOME/hub,
// XDG_CACHE_HOME/huggingface/hub, then ~/.cache/huggingface/hub), and the file it read.
//
// The derivation is vLLM 0.15's (model_arch_config_convertor.py derive_max_model_len_and_key and
// config/model.py _get_and_verify_max_len at a2b877df6): the smallest of the length keys of the text config,
// model_max_length when set, capped by tokenizer_config.json's model_max_length, 2048 when no key is there,
// then the RoPE scaling factor (yarn: original_max_position_embeddings x factor; not for su, longrope,
// llama3 or Gemma 3). Sliding-window and speculative-draft cases are not modelled.
func ModelMaxLen(model string, env []string) (int, string, error) {
	path := modelConfigPath(model, env)
	if path == "" {
		return 0, "", fmt.Errorf("%s: %w", model, ErrModelNotCached)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, path, err
	}
	var tok map[string]any
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "tokenizer_config.json")); err == nil {
		_ = json.Unmarshal(b, &tok) // a broken tokenizer config only loses the cap
	}
	n, err := deriveMaxModelLen(data, tok)
	if err != nil {
		return 0, path, fmt.Errorf("%s: %w", path, err)
	}
	return n, path, nil
}

// lengthKeys are the config.json keys vLLM reads the model's length from (the smallest wins).
var lengthKeys = []string{"max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "model_max_length",
	"max_target_positions", "max_sequence_length", "max_seq_length", "seq_len"}

func deriveMaxModelLen(configJSON []byte, tokenizerConfig map[string]any) (int, error) {
	var cfg map[string]any
	if err := json.Unmarshal(configJSON, &cfg); err != nil {
		return 0, fmt.Errorf("parse config.json: %w", err)
	}
	text := cfg
	if tc, ok := cfg["text_config"].(map[string]any); ok {
		text = tc
	}
	derived := math.Inf(1)
	for _, k := range lengthKeys {
		if v, ok := text[k].(float64); ok && v < derived {
			derived = v
		}
	}
	if v, ok := text["model_max_length"].(float64); ok && v > 0 {
		derived = v
	}
	if v, ok := tokenizerConfig["model_max_length"].(float64); ok && v < derived {
		derived = v
	}
	if math.IsInf(derived, 1) {
		derived = 2048 // vLLM's default, with a warning
	}
	model, _ := cfg["model_type"].(string)
	rope, ok := cfg["rope_scaling"].(map[string]any)
	if !ok {
		rope, ok = cfg["rope_parameters"].(map[string]any)
	}
	if ok && !strings.Contains(model, "gemma3") {
		typ, _ := rope["rope_type"].(string)
		if typ == "" {
			typ, _ = rope["type"].(string)
		}
		if typ != "su" && typ != "longrope" && typ != "llama3" {
			factor := 1.0
			if f, ok := rope["factor"].(float64); ok {
				factor = f
			}
			if typ == "yarn" {
				if o, ok := rope["original_max_position_embeddings"].(float64); ok {
					derived = o
				}
			}
			derived *= factor
		}
	}
	if derived < 1 || derived > math.MaxInt32 {
		return 0, fmt.Errorf("derived max_model_len %v is out of range", derived)
	}
	return int(derived), nil
}

// modelConfigPath finds config.json for model: a local folder first, then the snapshot refs/main points at in
// the hub cache, then any snapshot that has one.
func modelConfigPath(model string, env []string) string {
	if p := filepath.Join(model, "config.json"); fileExists(p) {
		return p
	}
	if strings.Count(model, "/") > 1 || strings.HasPrefix(model, ".") || filepath.IsAbs(model) {
		return ""
	}
	repo := filepath.Join(hubCache(env), "models--"+strings.ReplaceAll(model, "/", "--"))
	if ref, err := os.ReadFile(filepath.Join(repo, "refs", "main")); err == nil {
		if p := filepath.Join(repo, "snapshots", strings.TrimSpace(string(ref)), "config.json"); fileExists(p) {
			return p
		}
	}
	matches, _ := filepath.Glob(filepath.Join(repo, "snapshots", "*", "config.json"))
	if len(matches) > 0 {
		return matches[0]
	}
	return ""
}

func hubCache(env []string) string {
	get := func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v
			}
		}
		return ""
	}
	switch {
	case get("HF_HUB_CACHE") != "":
		return get("HF_HUB_CACHE")
	case get("HUGGINGFACE_HUB_CACHE") != "":
		return get("HUGGINGFACE_HUB_CACHE")
	case get("HF_HOME") != "":
		return filepath.Join(get("HF_HOME"), "hub")
	case get("XDG_CACHE_HOME") != "":
		return filepath.Join(get("XDG_CACHE_HOME"), "huggingface", "hub")
	}
	return filepath.Join(get("HOME"), ".cache", "huggingface", "hub")
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
