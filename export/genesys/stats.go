package genesys

import (
	"sync/atomic"
	"time"
)

// Stats counts what a Client did since it was made. Every API request
// attempt, retry, throttle and token request is counted.
type Stats struct {
	// Requests is the number of API requests sent, every attempt counted.
	Requests int64 `json:"requests"`
	// Retries is the number of API requests sent again after a throttle,
	// a 5xx answer, a connection failure or a 401.
	Retries int64 `json:"retries"`
	// Throttled is RateLimited + Blocked: answers that asked to slow down.
	Throttled int64 `json:"throttled"`
	// RateLimited counts 429 answers (token endpoint included).
	RateLimited int64 `json:"rate_limited"`
	// Blocked counts 403 answers marked rate_limit_exceeded or waf_block.
	Blocked int64 `json:"blocked"`
	// ServerErrors counts 5xx answers to API requests and downloads.
	ServerErrors int64 `json:"server_errors"`
	// ConnErrors counts requests and downloads that failed on the
	// connection (reset, EOF, timeout).
	ConnErrors int64 `json:"conn_errors"`
	// TokenRequests counts requests to the token endpoint.
	TokenRequests int64 `json:"token_requests"`
	// TokenRefreshes counts tokens dropped after a 401.
	TokenRefreshes int64 `json:"token_refreshes"`
	// Downloads counts GETs of download URLs, resumes included.
	Downloads int64 `json:"downloads"`
	// Resumes counts downloads continued with a Range request after a
	// short body or a broken connection.
	Resumes int64 `json:"resumes"`
	// URLRefreshes counts download URLs resolved again after they were
	// refused as expired.
	URLRefreshes int64 `json:"url_refreshes"`
	// BytesDownloaded is the number of file bytes received.
	BytesDownloaded int64 `json:"bytes_downloaded"`
	// PeakInFlight is the most API requests that were on the wire at once
	// (sent, answer not yet read).
	PeakInFlight int64 `json:"peak_in_flight"`
	// ConcurrencyLimit is the adaptive limit of API requests in flight now.
	ConcurrencyLimit int `json:"concurrency_limit"`
	// ThrottleWait is the total time requests were held back by
	// Retry-After, the rate-limit headers and the rate limiter.
	ThrottleWait time.Duration `json:"throttle_wait"`
}

type counters struct {
	requests, retries, rateLimited, blocked, serverErrors, connErrors atomic.Int64
	tokenRequests, tokenRefreshes                                     atomic.Int64
	downloads, resumes, urlRefreshes, bytes                           atomic.Int64
	throttleWait, wire, peak                                          atomic.Int64
}
