package genesys

import (
	"context"
	"net/http"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestAdaptiveLimit(t *testing.T) {
	tests := []struct {
		name     string
		initial  int
		max      int
		outcomes []outcome
		want     int
	}{
		{"slow start adds one per success", 2, 100, []outcome{outcomeSuccess, outcomeSuccess, outcomeSuccess}, 5},
		{"capped at the ceiling", 2, 4, []outcome{outcomeSuccess, outcomeSuccess, outcomeSuccess, outcomeSuccess}, 4},
		{"throttle halves", 2, 100, []outcome{outcomeSuccess, outcomeSuccess, outcomeSuccess, outcomeSuccess, outcomeSuccess, outcomeSuccess, outcomeThrottled}, 4},
		{"neutral changes nothing", 3, 100, []outcome{outcomeNeutral, outcomeNeutral}, 3},
		{"never below one", 1, 100, []outcome{outcomeThrottled}, 1},
		{"additive after a throttle", 8, 100, []outcome{outcomeThrottled, outcomeSuccess, outcomeSuccess, outcomeSuccess, outcomeSuccess}, 4},
		{"one more per limit of successes", 8, 100, []outcome{outcomeThrottled, outcomeSuccess, outcomeSuccess, outcomeSuccess, outcomeSuccess, outcomeSuccess}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAdaptive(tt.initial, tt.max)
			for _, o := range tt.outcomes {
				e, err := a.acquire(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				a.release(e, o)
			}
			if got, _ := a.snapshot(); got != tt.want {
				t.Fatalf("limit %d, want %d", got, tt.want)
			}
		})
	}
}

// TestAdaptiveOneDecreasePerBurst: throttles of requests that started
// before a decrease do not decrease again.
func TestAdaptiveOneDecreasePerBurst(t *testing.T) {
	a := newAdaptive(8, 8)
	var epochs []uint64
	for range 8 {
		e, _ := a.acquire(context.Background())
		epochs = append(epochs, e)
	}
	decreases := 0
	for _, e := range epochs {
		if a.release(e, outcomeThrottled) {
			decreases++
		}
	}
	if limit, _ := a.snapshot(); decreases != 1 || limit != 4 {
		t.Fatalf("%d decreases to limit %d, want 1 to 4", decreases, limit)
	}
}

func TestAdaptiveBlocksAtLimit(t *testing.T) {
	a := newAdaptive(1, 1)
	e, _ := a.acquire(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := a.acquire(ctx); err == nil {
		t.Fatal("second acquire at limit 1 did not block")
	}
	got := make(chan error, 1)
	go func() {
		_, err := a.acquire(context.Background())
		got <- err
	}()
	a.release(e, outcomeNeutral)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("release did not wake a waiter")
	}
}

func TestParseRateHeaders(t *testing.T) {
	tests := []struct {
		name                   string
		allowed, count, reset  string
		ok                     bool
		wantAllowed, wantCount int64
		wantReset              time.Duration
	}{
		{"all three", "300", "12", "45", true, 300, 12, 45 * time.Second},
		{"fractional reset", "10", "0", "0.5", true, 10, 0, 500 * time.Millisecond},
		{"missing count", "300", "", "45", false, 0, 0, 0},
		{"garbage", "x", "1", "1", false, 0, 0, 0},
		{"zero allowed", "0", "0", "1", false, 0, 0, 0},
		{"negative reset", "10", "1", "-1", false, 0, 0, 0},
		{"NaN reset", "10", "1", "NaN", false, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("inin-ratelimit-allowed", tt.allowed)
			h.Set("inin-ratelimit-count", tt.count)
			h.Set("inin-ratelimit-reset", tt.reset)
			got := parseRateHeaders(h)
			if got.ok != tt.ok || tt.ok && (got.allowed != tt.wantAllowed || got.count != tt.wantCount || got.reset != tt.wantReset) {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

// TestPacerFollowsHeaders: the rate is the requests left over the time
// left, never above the ceiling; none left pauses until the reset.
func TestPacerFollowsHeaders(t *testing.T) {
	p := newPacer(100, 1)
	p.observe(rateHeaders{ok: true, allowed: 300, count: 240, reset: 30 * time.Second})
	if got := p.lim.Limit(); got != rate.Limit(2) {
		t.Fatalf("rate %v, want 60 left / 30 s = 2/s", got)
	}
	p.observe(rateHeaders{ok: true, allowed: 300, count: 0, reset: time.Second})
	if got := p.lim.Limit(); got != 100 {
		t.Fatalf("rate %v, want the ceiling 100", got)
	}
	p.observe(rateHeaders{ok: true, allowed: 300, count: 300, reset: 50 * time.Millisecond})
	start := time.Now()
	if _, err := p.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Fatalf("waited %v, want the pause until the reset", el)
	}
	p.observe(rateHeaders{})
	if got := p.lim.Limit(); got != 100 {
		t.Fatalf("absent headers changed the rate to %v", got)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{"0.25", 250 * time.Millisecond},
		{"-1", 0},
		{"soon", 0},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(-10 * time.Second).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.v != "" {
			h.Set("Retry-After", tt.v)
		}
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("Retry-After %q: %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestBackoffIsCappedAndJittered(t *testing.T) {
	c := &Client{cfg: Config{BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second}}
	for n := 1; n <= 30; n++ {
		want := min(100*time.Millisecond<<min(n-1, 20), time.Second)
		for range 20 {
			if d := c.backoff(n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, want/2, want)
			}
		}
	}
}
