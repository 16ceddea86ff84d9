package genesys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/oauth2"
)

// maxBody bounds the size of one JSON answer (an audit page of 500
// entities is well below it).
const maxBody = 64 << 20

// Client talks to the Genesys Cloud public API of one organization. All
// its requests share one OAuth token, one adaptive concurrency limit and
// one rate limiter, so the workers of an export never open a token, or a
// burst of connections, each. It is safe for concurrent use; make one per
// organization and region and share it between sources.
type Client struct {
	cfg  Config
	log  *slog.Logger
	tok  *tokens
	conc *adaptive
	pace *pacer
	// downloads bounds downloads in flight (MaxConcurrency), apart from
	// API requests: a download holds its slot for as long as the archive
	// reads it.
	downloads chan struct{}
	st        counters

	orgMu sync.Mutex
	orgID string
}

// NewClient checks cfg, fills its defaults and returns a client. It makes
// no request: the token is requested by the first API call.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.normalize(); err != nil {
		return nil, fmt.Errorf("genesys client: %w", err)
	}
	c := &Client{
		cfg:       cfg,
		log:       cfg.Logger,
		conc:      newAdaptive(cfg.InitialConcurrency, cfg.MaxConcurrency),
		pace:      newPacer(cfg.RequestRate, cfg.RequestBurst),
		downloads: make(chan struct{}, cfg.MaxConcurrency),
	}
	c.tok = newTokens(c)
	return c, nil
}

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	limit, _ := c.conc.snapshot()
	s := Stats{
		Requests: c.st.requests.Load(), Retries: c.st.retries.Load(),
		RateLimited: c.st.rateLimited.Load(), Blocked: c.st.blocked.Load(),
		ServerErrors: c.st.serverErrors.Load(), ConnErrors: c.st.connErrors.Load(),
		TokenRequests: c.st.tokenRequests.Load(), TokenRefreshes: c.st.tokenRefreshes.Load(),
		Downloads: c.st.downloads.Load(), Resumes: c.st.resumes.Load(), URLRefreshes: c.st.urlRefreshes.Load(),
		BytesDownloaded: c.st.bytes.Load(), PeakInFlight: c.st.peak.Load(), ConcurrencyLimit: limit,
		ThrottleWait: time.Duration(c.st.throttleWait.Load()),
	}
	s.Throttled = s.RateLimited + s.Blocked
	return s
}

// Region returns the Genesys domain, or the API host when the client was
// configured with URLs only.
func (c *Client) Region() string {
	if c.cfg.Region != "" {
		return c.cfg.Region
	}
	if u, err := url.Parse(c.cfg.APIURL); err == nil {
		return u.Host
	}
	return c.cfg.APIURL
}

// APIURL returns the API base URL.
func (c *Client) APIURL() string { return c.cfg.APIURL }

// LogValue describes the client for log/slog without its secret.
func (c *Client) LogValue() slog.Value { return c.cfg.LogValue() }

// request is one API call.
type request struct {
	// op says what the call does, for errors and logs.
	op     string
	method string
	// path is the escaped path and query below the API URL.
	path string
	body any
	// perm is the permission the endpoint is documented to need, named
	// when a 403 does not say which one is missing.
	perm string
}

// response is a successful answer.
type response struct {
	status        int
	correlationID string
	body          []byte
}

// do sends req, waiting for a concurrency slot, the rate limiter and the
// shared token, and retries what is worth retrying: 429s and throttling
// 403s (after Retry-After or a backoff, shrinking the concurrency), 5xx
// answers and connection failures (capped exponential backoff with
// jitter), and one 401 (with a new token). Every other answer is an
// *APIError.
//
// Each attempt is one call of exchange, which holds the concurrency slot
// and releases it in one place; classify turns the attempt into a verdict
// and do only waits and counts.
func (c *Client) do(ctx context.Context, req request) (*response, error) {
	var payload []byte
	if req.body != nil {
		var err error
		if payload, err = json.Marshal(req.body); err != nil {
			return nil, fmt.Errorf("genesys %s: encode request: %w", req.op, err)
		}
	}
	failures, throttles, refreshed := 0, 0, false
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			c.st.retries.Add(1)
		}
		ex, v, err := c.exchange(ctx, req, payload)
		if err != nil {
			return nil, err
		}
		switch v.next {
		case verdictDone:
			return &response{status: ex.resp.StatusCode, correlationID: ex.corr, body: ex.body}, nil
		case verdictFail:
			return nil, v.err
		case verdictRefresh:
			if refreshed {
				return nil, c.apiError(req, ex.resp, ex.body, ErrUnauthorized, "")
			}
			refreshed = true
			if c.tok.drop(ctx, ex.tok) {
				c.st.tokenRefreshes.Add(1)
			}
			c.log.Info("genesys token refused, refreshing", "op", req.op, "path", pathOnly(req.path), "correlation_id", ex.corr)
			continue
		case verdictThrottled:
			throttles++
			if throttles > c.cfg.MaxThrottleRetries {
				return nil, c.apiError(req, ex.resp, ex.body, ErrThrottled, "")
			}
			limit, _ := c.conc.snapshot()
			attrs := []any{"op", req.op, "path", pathOnly(req.path), "status", ex.resp.StatusCode, "reason", v.reason,
				"concurrency", limit, "attempt", attempt + 1, "correlation_id", ex.corr}
			if d := min(retryAfter(ex.resp.Header, time.Now()), c.cfg.MaxRetryAfter); d > 0 {
				// The limit is the token's: everyone waits.
				c.pace.pause(d)
				c.log.Debug("genesys request throttled", append(attrs, "retry_after", d)...)
				continue
			}
			d := c.backoff(throttles)
			c.log.Debug("genesys request throttled", append(attrs, "retry_in", d)...)
			c.st.throttleWait.Add(int64(d))
			if err := sleep(ctx, d); err != nil {
				return nil, fmt.Errorf("genesys %s: %w", req.op, err)
			}
			continue
		case verdictRetry:
			failures++
			if failures > c.cfg.MaxRetries {
				if ex.resp == nil {
					return nil, fmt.Errorf("genesys %s: %s %s: %w after %d attempts: %w", req.op, req.method, pathOnly(req.path), ErrUnavailable, attempt+1, ex.err)
				}
				return nil, c.apiError(req, ex.resp, ex.body, ErrUnavailable, "")
			}
			d := c.backoff(failures)
			attrs := []any{"op", req.op, "path", pathOnly(req.path), "attempt", attempt + 1}
			if ex.resp == nil {
				attrs = append(attrs, "reason", "connection", "err", ex.err)
			} else {
				d = max(min(retryAfter(ex.resp.Header, time.Now()), c.cfg.MaxRetryAfter), d)
				eb, _ := decodeErrorBody(ex.body)
				attrs = append(attrs, "status", ex.resp.StatusCode, "code", oneLine(eb.Code), "context_id", oneLine(eb.ContextID), "correlation_id", ex.corr)
			}
			c.log.Debug("genesys request retried", append(attrs, "retry_in", d)...)
			if err := sleep(ctx, d); err != nil {
				return nil, fmt.Errorf("genesys %s: %w", req.op, err)
			}
			continue
		}
	}
}

// exchanged is one attempt of a request: the answer (resp nil after a
// transport error, err then says why) and the token it was sent with.
type exchanged struct {
	resp *http.Response
	body []byte
	corr string
	tok  *oauth2.Token
	err  error
}

// What do does after an attempt.
const (
	verdictDone      = iota // a 2xx answer
	verdictFail             // a final error (verdict.err)
	verdictRefresh          // a 401: a new token, once
	verdictThrottled        // a 429 or throttling 403
	verdictRetry            // a 5xx or a transport failure
)

type verdict struct {
	next   int
	err    error
	reason string // of a throttle: rate_limited or blocked
}

// exchange makes one attempt: it takes a concurrency slot, waits for the
// rate limiter and the token, sends req and reads the answer, classifies
// it and releases the slot with the outcome, in this one place. An error
// means no attempt was made (the context ended, or no token).
func (c *Client) exchange(ctx context.Context, req request, payload []byte) (ex exchanged, v verdict, err error) {
	epoch, err := c.conc.acquire(ctx)
	if err != nil {
		return ex, v, fmt.Errorf("genesys %s: %w", req.op, err)
	}
	out := outcomeNeutral
	defer func() {
		if c.conc.release(epoch, out) {
			limit, _ := c.conc.snapshot()
			c.log.Info("genesys concurrency reduced after a throttle", "status", ex.resp.StatusCode, "limit", limit, "correlation_id", ex.corr)
		}
	}()
	waited, err := c.pace.wait(ctx)
	c.st.throttleWait.Add(int64(waited))
	if err != nil {
		return ex, v, fmt.Errorf("genesys %s: %w", req.op, err)
	}
	if ex.tok, err = c.tok.get(ctx); err != nil {
		return ex, v, err
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, c.cfg.APIURL+req.path, bytes.NewReader(payload))
	if err != nil {
		return ex, v, fmt.Errorf("genesys %s: %w", req.op, err)
	}
	hreq.Header.Set("Authorization", "Bearer "+ex.tok.AccessToken)
	hreq.Header.Set("Accept", "application/json")
	if payload != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	c.st.requests.Add(1)
	c.onWire(1)
	ex.resp, ex.err = c.cfg.HTTPClient.Do(hreq)
	if ex.err == nil {
		ex.body, ex.err = io.ReadAll(io.LimitReader(ex.resp.Body, maxBody+1))
		ex.resp.Body.Close()
	}
	c.onWire(-1)
	if ex.err != nil {
		if ctx.Err() != nil {
			return ex, v, fmt.Errorf("genesys %s: %w", req.op, ctx.Err())
		}
		c.st.connErrors.Add(1)
		ex.resp = nil
		return ex, verdict{next: verdictRetry}, nil
	}
	ex.corr = ex.resp.Header.Get("ININ-Correlation-Id")
	v, out = c.classify(req, ex)
	return ex, v, nil
}

// classify says what an answer means and how it counts for the adaptive
// concurrency.
func (c *Client) classify(req request, ex exchanged) (verdict, outcome) {
	if len(ex.body) > maxBody {
		return verdict{next: verdictFail, err: c.apiError(req, ex.resp, nil, ErrMalformed, "answer larger than 64 MiB")}, outcomeNeutral
	}
	c.pace.observe(parseRateHeaders(ex.resp.Header))
	switch st := ex.resp.StatusCode; {
	case st >= 200 && st < 300:
		return verdict{next: verdictDone}, outcomeSuccess
	case st == http.StatusUnauthorized:
		return verdict{next: verdictRefresh}, outcomeNeutral
	case st == http.StatusTooManyRequests:
		c.st.rateLimited.Add(1)
		return verdict{next: verdictThrottled, reason: "rate_limited"}, outcomeThrottled
	case st == http.StatusForbidden && isThrottle(ex.body):
		c.st.blocked.Add(1)
		return verdict{next: verdictThrottled, reason: "blocked"}, outcomeThrottled
	case st >= 500:
		c.st.serverErrors.Add(1)
		return verdict{next: verdictRetry}, outcomeNeutral
	}
	kind := ErrRejected
	switch st := ex.resp.StatusCode; {
	case st == http.StatusForbidden && isPermission(ex.body):
		kind = ErrPermission
	case st == http.StatusForbidden:
		kind = ErrForbidden
	case st == http.StatusNotFound:
		kind = ErrNotFound
	}
	return verdict{next: verdictFail, err: c.apiError(req, ex.resp, ex.body, kind, "")}, outcomeNeutral
}

// apiError builds the error for a final answer.
func (c *Client) apiError(req request, resp *http.Response, body []byte, kind error, msg string) *APIError {
	e := &APIError{
		Op: req.op, Method: req.method, Path: pathOnly(req.path), Status: resp.StatusCode,
		CorrelationID: resp.Header.Get("ININ-Correlation-Id"), kind: kind, Message: msg,
	}
	if eb, err := decodeErrorBody(body); err == nil {
		e.Code = oneLine(eb.Code)
		e.ContextID = oneLine(eb.ContextID)
		if e.Message == "" {
			e.Message = oneLine(eb.text())
		}
	}
	if errors.Is(kind, ErrPermission) {
		e.Permissions = missingPermissions(body)
		if len(e.Permissions) == 0 && req.perm != "" {
			e.Permissions = []string{req.perm}
		}
	}
	return e
}

// doJSON sends req and decodes its JSON answer with decode.
func doJSON[T any](ctx context.Context, c *Client, req request, decode func([]byte) (T, error)) (T, *response, error) {
	var zero T
	resp, err := c.do(ctx, req)
	if err != nil {
		return zero, nil, err
	}
	v, err := decode(resp.body)
	if err != nil {
		corr := ""
		if resp.correlationID != "" {
			corr = " [correlation id " + resp.correlationID + "]"
		}
		return zero, resp, fmt.Errorf("genesys %s: %s %s: %w%s", req.op, req.method, pathOnly(req.path), err, corr)
	}
	return v, resp, nil
}

// backoff returns the wait before retry n (1-based): BackoffBase doubled
// per retry, capped at BackoffMax, with "equal jitter" (between half and
// all of it) so that workers that failed together do not retry together.
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.BackoffBase
	for i := 1; i < n && d < c.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.BackoffMax)
	return d/2 + rand.N(d/2+1)
}

// pathOnly drops the query from an API path, for messages.
func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// isConnError reports whether err is a transport failure worth retrying:
// a reset, an unexpected EOF, a refused connection or a timeout.
func isConnError(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// onWire counts API requests on the wire, for Stats.PeakInFlight.
func (c *Client) onWire(d int64) {
	n := c.st.wire.Add(d)
	for {
		p := c.st.peak.Load()
		if n <= p || c.st.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// acquireDownload takes a download slot; the returned func frees it.
func (c *Client) acquireDownload(ctx context.Context) (func(), error) {
	select {
	case c.downloads <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-c.downloads }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// OrgID returns the organization's id (GET /api/v2/organizations/me,
// which needs no permission), asked once per client.
func (c *Client) OrgID(ctx context.Context) (string, error) {
	c.orgMu.Lock()
	defer c.orgMu.Unlock()
	if c.orgID != "" {
		return c.orgID, nil
	}
	org, _, err := doJSON(ctx, c, request{op: "get organization", method: http.MethodGet, path: "/api/v2/organizations/me"}, decodeOrganization)
	if err != nil {
		return "", err
	}
	c.orgID = org.ID
	return org.ID, nil
}
