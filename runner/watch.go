package runner

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// scrapeEvery is how often the watcher reads /metrics while a benchmark runs under a PruneRule.
const scrapeEvery = 2 * time.Second

func (r *Runner) metricsURL() string {
	return "http://" + net.JoinHostPort(r.opts.Host, strconv.Itoa(r.opts.Port)) + "/metrics"
}

// scrape reads /metrics once, bounded by timeout.
func (r *Runner) scrape(ctx context.Context, timeout time.Duration) (Metrics, bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.metricsURL(), nil)
	if err != nil {
		return Metrics{}, false
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return Metrics{}, false
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return Metrics{}, false
	}
	m, err := ParseMetrics(data)
	return m, err == nil
}

// pruneWatch scrapes /metrics every `every` from began on and judges each scrape by the rule; it sends the first
// verdict that prunes on pruned and stops. A scrape that fails or cannot be parsed is skipped: the watcher never
// prunes on evidence it could not read, and without a first scrape it judges nothing.
type pruneWatch struct {
	mu       sync.Mutex
	verdicts []Verdict
}

func (w *pruneWatch) all() []Verdict {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Verdict(nil), w.verdicts...)
}

func (r *Runner) watchMetrics(ctx context.Context, rule PruneRule, began time.Time, every time.Duration, w *pruneWatch, pruned chan<- Verdict) {
	first, ok := r.scrape(ctx, r.watchTimeout)
	if !ok {
		return
	}
	scrapes := []Scrape{{Elapsed: time.Since(began).Seconds(), Metrics: first}}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m, ok := r.scrape(ctx, r.watchTimeout)
		if !ok {
			continue
		}
		scrapes = append(scrapes, Scrape{Elapsed: time.Since(began).Seconds(), Metrics: m})
		v := rule.Judge(scrapes)
		w.mu.Lock()
		w.verdicts = append(w.verdicts, v)
		w.mu.Unlock()
		if v.Prune {
			pruned <- v
			return
		}
	}
}
