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
		epoch, err := c.conc.acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("genesys %s: %w", req.op, err)
		}
		waited, err := c.pace.wait(ctx)
		c.st.throttleWait.Add(int64(waited))
		if err != nil {
			c.conc.release(epoch, outcomeNeutral)
			return nil, fmt.Errorf("genesys %s: %w", req.op, err)
		}
		tok, err := c.tok.get(ctx)
		if err != nil {
			c.conc.release(epoch, outcomeNeutral)
			return nil, err
		}
		hreq, err := http.NewRequestWithContext(ctx, req.method, c.cfg.APIURL+req.path, bytes.NewReader(payload))
		if err != nil {
			c.conc.release(epoch, outcomeNeutral)
			return nil, fmt.Errorf("genesys %s: %w", req.op, err)
		}
		hreq.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		hreq.Header.Set("Accept", "application/json")
		if payload != nil {
			hreq.Header.Set("Content-Type", "application/json")
		}
		c.st.requests.Add(1)
		c.onWire(1)
		resp, err := c.cfg.HTTPClient.Do(hreq)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
			resp.Body.Close()
		}
		c.onWire(-1)
		if err == nil && len(body) > maxBody {
			c.conc.release(epoch, outcomeNeutral)
			return nil, c.apiError(req, resp, nil, ErrMalformed, "answer larger than 64 MiB")
		}
		if err != nil {
			c.conc.release(epoch, outcomeNeutral)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("genesys %s: %w", req.op, ctx.Err())
			}
			c.st.connErrors.Add(1)
			failures++
			if failures > c.cfg.MaxRetries {
				return nil, fmt.Errorf("genesys %s: %s %s: %w after %d attempts: %w", req.op, req.method, pathOnly(req.path), ErrUnavailable, attempt+1, err)
			}
			d := c.backoff(failures)
			c.log.Debug("genesys request retried", "op", req.op, "path", pathOnly(req.path), "reason", "connection", "err", err, "attempt", attempt+1, "retry_in", d)
			if err := sleep(ctx, d); err != nil {
				return nil, fmt.Errorf("genesys %s: %w", req.op, err)
			}
			continue
		}
		c.pace.observe(parseRateHeaders(resp.Header))
		corr := resp.Header.Get("ININ-Correlation-Id")
		switch st := resp.StatusCode; {
		case st >= 200 && st < 300:
			c.conc.release(epoch, outcomeSuccess)
			return &response{status: st, correlationID: corr, body: body}, nil

		case st == http.StatusUnauthorized:
			c.conc.release(epoch, outcomeNeutral)
			if refreshed {
				return nil, c.apiError(req, resp, body, ErrUnauthorized, "")
			}
			refreshed = true
			if c.tok.drop(ctx, tok) {
				c.st.tokenRefreshes.Add(1)
			}
			c.log.Info("genesys token refused, refreshing", "op", req.op, "path", pathOnly(req.path), "correlation_id", corr)
			continue

		case st == http.StatusTooManyRequests || st == http.StatusForbidden && isThrottle(body):
			if c.conc.release(epoch, outcomeThrottled) {
				limit, _ := c.conc.snapshot()
				c.log.Info("genesys concurrency reduced after a throttle", "status", st, "limit", limit, "correlation_id", corr)
			}
			throttles++
			reason := "rate_limited"
			if st == http.StatusTooManyRequests {
				c.st.rateLimited.Add(1)
			} else {
				c.st.blocked.Add(1)
				reason = "blocked"
			}
			if throttles > c.cfg.MaxThrottleRetries {
				return nil, c.apiError(req, resp, body, ErrThrottled, "")
			}
			limit, _ := c.conc.snapshot()
			if d := min(retryAfter(resp.Header, time.Now()), c.cfg.MaxRetryAfter); d > 0 {
				// The limit is the token's: everyone waits.
				c.pace.pause(d)
				c.log.Debug("genesys request throttled", "op", req.op, "path", pathOnly(req.path), "status", st, "reason", reason,
					"retry_after", d, "concurrency", limit, "attempt", attempt+1, "correlation_id", corr)
				continue
			}
			d := c.backoff(throttles)
			c.log.Debug("genesys request throttled", "op", req.op, "path", pathOnly(req.path), "status", st, "reason", reason,
				"retry_in", d, "concurrency", limit, "attempt", attempt+1, "correlation_id", corr)
			c.st.throttleWait.Add(int64(d))
			if err := sleep(ctx, d); err != nil {
				return nil, fmt.Errorf("genesys %s: %w", req.op, err)
			}
			continue

		case st >= 500:
			c.conc.release(epoch, outcomeNeutral)
			c.st.serverErrors.Add(1)
			failures++
			if failures > c.cfg.MaxRetries {
				return nil, c.apiError(req, resp, body, ErrUnavailable, "")
			}
			d := max(min(retryAfter(resp.Header, time.Now()), c.cfg.MaxRetryAfter), c.backoff(failures))
			c.log.Debug("genesys request retried", "op", req.op, "path", pathOnly(req.path), "status", st, "attempt", attempt+1, "retry_in", d, "correlation_id", corr)
			if err := sleep(ctx, d); err != nil {
				return nil, fmt.Errorf("genesys %s: %w", req.op, err)
			}
			continue

		default:
			c.conc.release(epoch, outcomeNeutral)
			kind := ErrRejected
			switch {
			case st == http.StatusForbidden && isPermission(body):
				kind = ErrPermission
			case st == http.StatusForbidden:
				kind = ErrForbidden
			case st == http.StatusNotFound:
				kind = ErrNotFound
			}
			return nil, c.apiError(req, resp, body, kind, "")
		}
	}
}

// apiError builds the error for a final answer.
func (c *Client) apiError(req request, resp *http.Response, body []byte, kind error, msg string) *APIError {
	e := &APIError{
		Op: req.op, Method: req.method, Path: pathOnly(req.path), Status: resp.StatusCode,
		CorrelationID: resp.Header.Get("ININ-Correlation-Id"), kind: kind, Message: msg,
	}
	if eb, err := decodeErrorBody(body); err == nil {
		e.Code = oneLine(eb.Code)
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
