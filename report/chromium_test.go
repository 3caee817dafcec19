//go:build linux

package report_test

import (
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/autotune/autotune/internal/citest"
)

// chromiumFlags are those that work on this project's machines (and CI's): headless as root, no GPU, and none of
// Chromium's own background traffic (updates, sync, account checks) where it can be turned off.
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
	"--window-size=1000,2400"}

// TestHTMLRendersInChromium serves the page from a loopback server, renders it in headless Chromium, and checks
// that the screenshot is not blank (the charts drew: the feasible points' green is there) and that the page
// requested nothing but itself: the server saw one request, and Chromium's network log has no other request
// made for the page. Chromium is Debian's package; .ci/run installs it, so under CI=true its absence fails.
func TestHTMLRendersInChromium(t *testing.T) {
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		citest.SkipUnlessCI(t, "chromium is not installed (apt-get install -y chromium); .ci/run installs it and CI runs this test")
	}
	page := renderFixture(t)
	var mu sync.Mutex
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.URL.Path)
		mu.Unlock()
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer srv.Close()

	dir := t.TempDir()
	shot, netLog := filepath.Join(dir, "shot.png"), filepath.Join(dir, "net.json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append(append([]string{}, chromiumFlags...), "--user-data-dir="+filepath.Join(dir, "profile"),
		"--screenshot="+shot, "--log-net-log="+netLog, srv.URL+"/")
	cmd := exec.CommandContext(ctx, bin, args...)
	// Chromium starts helpers: they go in a process group of their own that dies with the test, and the whole
	// group is killed on a timeout and swept after Chromium exits.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers left in our group; ESRCH when none
	}
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out.String())
	}

	mu.Lock()
	got := append([]string(nil), requests...)
	mu.Unlock()
	if len(got) != 1 || got[0] != "/" {
		t.Errorf("the server saw %q; want only the page itself", got)
	}
	checkNetLog(t, netLog, srv.URL+"/")

	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, out.String())
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	inked, green := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			if r < 200 || g < 200 || bl < 200 {
				inked++
			}
			if r < 90 && g > 100 && g < 150 && bl < 90 { // #2e7d32, the feasible points and the best-so-far line
				green++
			}
		}
	}
	total := (b.Dx() / 2) * (b.Dy() / 2)
	if inked*100 < total*2 {
		t.Errorf("the screenshot is nearly blank: %d of %d sampled pixels have ink", inked, total)
	}
	if green < 20 {
		t.Errorf("the screenshot has %d pixels of the feasible points' green: the charts did not draw", green)
	}
}

// checkNetLog reads Chromium's network log and fails on any request made for the page other than the page.
// Requests a page makes carry its site in their network isolation key; Chromium's own background requests
// (component updates, account checks), which the flags cannot all turn off, carry none of the page's.
func checkNetLog(t *testing.T, path, pageURL string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("chromium wrote no network log: %v", err)
	}
	var log struct {
		Constants struct {
			LogEventTypes map[string]int `json:"logEventTypes"`
		} `json:"constants"`
		Events []struct {
			Type   int            `json:"type"`
			Params map[string]any `json:"params"`
		} `json:"events"`
	}
	if err := json.Unmarshal(data, &log); err != nil {
		// Chromium may end the file without closing its array when it is killed after the screenshot.
		fixed := strings.TrimRight(strings.TrimSpace(string(data)), ",") + "]}"
		if err2 := json.Unmarshal([]byte(fixed), &log); err2 != nil {
			t.Fatalf("network log: %v", errors.Join(err, err2))
		}
	}
	start, ok := log.Constants.LogEventTypes["URL_REQUEST_START_JOB"]
	if !ok {
		t.Fatal("network log has no URL_REQUEST_START_JOB event type")
	}
	pageKey := ""
	var all []map[string]any
	for _, e := range log.Events {
		if e.Type != start {
			continue
		}
		all = append(all, e.Params)
		if e.Params["url"] == pageURL {
			pageKey, _ = e.Params["network_isolation_key"].(string)
		}
	}
	if pageKey == "" {
		t.Fatalf("the network log does not show the page's own request (%s) with its isolation key", pageURL)
	}
	for _, p := range all {
		if p["network_isolation_key"] == pageKey && p["url"] != pageURL {
			t.Errorf("the page requested %v", p["url"])
		}
	}
}
