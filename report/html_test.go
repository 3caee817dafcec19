package report_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/c-bata/goptuna"

	"github.com/autotune/autotune/report"
	"github.com/autotune/autotune/report/reporttest"
	"github.com/autotune/autotune/store"
)

func renderFixture(t *testing.T) []byte {
	t.Helper()
	v, err := report.Load(reporttest.Study(), "tuning.db", "")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := report.WriteHTML(&b, v, report.HTMLOptions{ExportHint: "autotune best --db tuning.db --export flags.sh",
		SimulatedNote: "SIMULATED: not a measurement"}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// externalRef finds anything in a page that a browser would fetch from elsewhere: a URL with a scheme or a
// protocol-relative one in an attribute or in CSS, a script, a stylesheet link, an import.
var externalRef = regexp.MustCompile(`(?i)(src|href|action|poster|data)\s*=\s*["']?\s*(https?:|//|ftp:)|url\(\s*["']?\s*(https?:|//)|<script|rel=["']?stylesheet|@import`)

// The page is self-contained and says what the issue asks of it.
func TestHTMLSelfContained(t *testing.T) {
	page := string(renderFixture(t))
	if m := externalRef.FindString(page); m != "" {
		t.Errorf("the page refers to something outside itself: %q", m)
	}
	for _, want := range []string{
		"<svg", "Optimization history", "Throughput against latency", "SLA &lt; 50", "SLA &lt; 2000",
		"Parameter importance", "How it is computed", "Effect of each parameter", "Failures", "kv_cache_too_small",
		"crashed_during_benchmark", "mean of 2 runs", "#7", // the best config with both of its runs
		"vllm serve Qwen/Qwen2.5-0.5B --speculative-config", "autotune best --db tuning.db --export flags.sh",
		"SIMULATED: not a measurement", `rel="icon" href="data:,"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// The importance ranking finds a planted effect: a decides the throughput, b does nothing.
func TestImportanceRanksTheEffect(t *testing.T) {
	src := reporttest.New(store.Study{ID: 1, Name: "default", SLAJSON: `{"max_p99_tpot_ms":50,"max_p99_ttft_ms":2000}`})
	for i := 0; i < 24; i++ {
		a, b := []string{"x", "y"}[i%2], []string{"p", "q", "r"}[(i/2)%3]
		tput := 3000.0 + float64(i%5)*10
		if a == "x" {
			tput += 3000
		}
		obj := tput
		src.Add(1, goptuna.TrialStateComplete, store.Trial{Number: i, ConfigKey: fmt.Sprint(i), Params: map[string]string{"a": a, "b": b},
			Feasible: true, Objective: &obj, BenchJSON: reporttest.Bench(tput, 10, 1000)})
	}
	v, err := report.Load(src, "tuning.db", "")
	if err != nil {
		t.Fatal(err)
	}
	imps := v.Importances()
	if len(imps) != 2 || imps[0].Param != "a" || imps[0].Score < 0.9 || imps[1].Score > 0.05 {
		t.Fatalf("importances %+v, want a near 1 and b near 0", imps)
	}
	if top := imps[0].Values[0]; top.Value != "x" || top.Feasible != 12 || top.Mean < 6000 {
		t.Errorf("best value of a = %+v, want x: 12 feasible trials at about 6020", top)
	}
}
