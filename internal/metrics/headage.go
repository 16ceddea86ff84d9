package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// headAge exports, per stream, how long ago the window of the chain's
// newest manifest ended, computed when scraped: a stream whose archive
// stopped growing shows a rising age even when no tick runs anymore, so
// an alert needs no arithmetic (compare with verify --max-age).
type headAge struct {
	desc *prometheus.Desc
	now  func() time.Time

	mu   sync.Mutex
	ends map[string]time.Time
}

func newHeadAge(now func() time.Time) *headAge {
	return &headAge{
		desc: prometheus.NewDesc("logkeeper_chain_head_age_seconds",
			"Seconds since the window of the stream's newest manifest ended (at scrape time).", []string{"stream"}, nil),
		now:  now,
		ends: map[string]time.Time{},
	}
}

func (h *headAge) set(stream string, end time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ends[stream] = end
}

// Describe implements prometheus.Collector.
func (h *headAge) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect implements prometheus.Collector.
func (h *headAge) Collect(ch chan<- prometheus.Metric) {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for stream, end := range h.ends {
		ch <- prometheus.MustNewConstMetric(h.desc, prometheus.GaugeValue, now.Sub(end).Seconds(), stream)
	}
}
