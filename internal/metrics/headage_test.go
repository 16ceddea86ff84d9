package metrics

import (
	"testing"
	"time"
)

// headAges gathers logkeeper_chain_head_age_seconds by stream.
func headAges(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "logkeeper_chain_head_age_seconds" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			got[mt.GetLabel()[0].GetValue()] = mt.GetGauge().GetValue()
		}
	}
	return got
}

func TestHeadAge(t *testing.T) {
	m := New()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	m.headAge.now = func() time.Time { return now }
	m.Watermark("edge", now.Add(-90*time.Minute), 0)
	m.Watermark("audit", now.Add(-30*time.Second), 0)
	m.Watermark("empty", time.Time{}, 3) // no head yet: no age
	if got := headAges(t, m); len(got) != 2 || got["edge"] != 5400 || got["audit"] != 30 {
		t.Fatalf("head ages %v, want edge 5400 and audit 30", got)
	}
	// The age grows between scrapes with no tick.
	now = now.Add(time.Hour)
	if got := headAges(t, m); got["edge"] != 9000 || got["audit"] != 3630 {
		t.Fatalf("head ages an hour later %v", got)
	}
}
