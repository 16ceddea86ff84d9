package genesys

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// outcome is what one API request told the concurrency limit.
type outcome int

const (
	outcomeNeutral   outcome = iota // an error that says nothing about load
	outcomeSuccess                  // grow the limit
	outcomeThrottled                // shrink the limit
)

// adaptive bounds the API requests in flight with a limit that adapts the
// way TCP's congestion window does: it starts small, grows by one per
// success until the first throttle (slow start), then by one per limit's
// worth of successes (additive increase), and halves on a throttle
// (multiplicative decrease). Throttles of requests that started before the
// last decrease do not shrink it again: one burst of 403s halves the
// limit once, not once per request.
type adaptive struct {
	mu       sync.Mutex
	limit    float64
	ssthresh float64
	max      float64
	inflight int
	epoch    uint64
	changed  chan struct{} // closed and replaced whenever a slot may be free
}

func newAdaptive(initial, maxLimit int) *adaptive {
	return &adaptive{
		limit: float64(max(1, initial)), ssthresh: float64(maxLimit), max: float64(maxLimit),
		changed: make(chan struct{}),
	}
}

// acquire waits for a slot and returns the epoch the request starts in.
func (a *adaptive) acquire(ctx context.Context) (uint64, error) {
	for {
		a.mu.Lock()
		if a.inflight < int(a.limit) {
			a.inflight++
			e := a.epoch
			a.mu.Unlock()
			return e, nil
		}
		ch := a.changed
		a.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// release frees the slot of a request that started in epoch and adapts
// the limit to its outcome. It reports whether the limit was decreased.
func (a *adaptive) release(epoch uint64, o outcome) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inflight--
	decreased := false
	switch o {
	case outcomeSuccess:
		if a.limit < a.ssthresh {
			a.limit++
		} else {
			a.limit += 1 / a.limit
		}
		a.limit = min(a.limit, a.max)
	case outcomeThrottled:
		if epoch == a.epoch {
			a.limit = max(1, math.Floor(a.limit/2))
			a.ssthresh = a.limit
			a.epoch++
			decreased = true
		}
	}
	close(a.changed)
	a.changed = make(chan struct{})
	return decreased
}

func (a *adaptive) snapshot() (limit int, inflight int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return int(a.limit), a.inflight
}

// minRate is the slowest the headers may pace requests: one every 10 s.
const minRate = rate.Limit(0.1)

// pacer holds requests back: a token-bucket limiter whose rate follows
// the server's rate-limit headers (never above the configured ceiling),
// and a pause every request waits out after a 429 or an exhausted window.
type pacer struct {
	lim     *rate.Limiter
	ceiling rate.Limit
	mu      sync.Mutex
	until   time.Time
}

func newPacer(perSecond float64, burst int) *pacer {
	r := rate.Limit(perSecond)
	return &pacer{lim: rate.NewLimiter(r, burst), ceiling: r}
}

// wait blocks until a request may be sent and returns how long it waited.
func (p *pacer) wait(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	for {
		p.mu.Lock()
		d := time.Until(p.until)
		p.mu.Unlock()
		if d <= 0 {
			break
		}
		if err := sleep(ctx, d); err != nil {
			return time.Since(start), err
		}
	}
	err := p.lim.Wait(ctx)
	return time.Since(start), err
}

// pause holds every request back for d from now.
func (p *pacer) pause(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until := time.Now().Add(d); until.After(p.until) {
		p.until = until
	}
}

// observe adapts the rate to an answer's rate-limit headers: the requests
// left in the window spread evenly over the time left, so a steady client
// never meets a 429; none left means a pause until the window resets.
func (p *pacer) observe(h rateHeaders) {
	if !h.ok {
		return
	}
	remaining := h.allowed - h.count
	if remaining <= 0 {
		p.pause(h.reset)
		return
	}
	secs := max(h.reset.Seconds(), 1)
	r := min(max(rate.Limit(float64(remaining)/secs), minRate), p.ceiling)
	p.lim.SetLimit(r)
}

// rateHeaders are the inin-ratelimit-* headers of one answer.
type rateHeaders struct {
	ok      bool
	allowed int64
	count   int64
	reset   time.Duration
}

// parseRateHeaders reads inin-ratelimit-allowed, -count and -reset
// (seconds). ok is false unless all three are present and sane.
func parseRateHeaders(h http.Header) rateHeaders {
	allowed, err1 := strconv.ParseInt(strings.TrimSpace(h.Get("inin-ratelimit-allowed")), 10, 64)
	count, err2 := strconv.ParseInt(strings.TrimSpace(h.Get("inin-ratelimit-count")), 10, 64)
	reset, err3 := strconv.ParseFloat(strings.TrimSpace(h.Get("inin-ratelimit-reset")), 64)
	if err1 != nil || err2 != nil || err3 != nil || allowed <= 0 || count < 0 ||
		math.IsNaN(reset) || reset < 0 || reset > 24*3600 {
		return rateHeaders{}
	}
	return rateHeaders{ok: true, allowed: allowed, count: count, reset: time.Duration(reset * float64(time.Second))}
}

// retryAfter reads a Retry-After header (seconds or an HTTP date); zero
// when absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 || math.IsNaN(s) || s > 24*3600 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
