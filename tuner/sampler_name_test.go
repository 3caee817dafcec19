package tuner

import (
	"strings"
	"testing"
)

// An unknown sampler is named, with the known ones; the CLI flag is cmd's to name (tuner also serves searchq).
func TestUnknownSamplerError(t *testing.T) {
	_, err := newSampler("bayes", 1, 0)
	if err == nil || !strings.Contains(err.Error(), `"bayes"`) || !strings.Contains(err.Error(), "tpe, random, grid") || strings.Contains(err.Error(), "--") {
		t.Errorf("newSampler(bayes): %v, want the name and the known samplers, and no CLI flag", err)
	}
}
