// Package genesys is the export source of Genesys Cloud: the logs of
// Genesys Cloud Edge and BYOC telephony edges (source type genesys-edge,
// [EdgeSource]) and the organization's audit trail (source type
// genesys-audit, [AuditSource]), read through the public API's bulk-export
// endpoints.
//
// # One client per organization
//
// A [Client] serves one organization in one region. Every request it
// sends, from every worker of an export, shares:
//
//   - one OAuth token (client credentials, HTTP Basic to
//     https://login.DOMAIN/oauth/token), requested on first use, cached,
//     replaced a little before it expires (Config.TokenRefreshBefore), and
//     replaced once, by one request, when the API answers 401;
//   - one adaptive limit on requests in flight, which starts at
//     Config.InitialConcurrency, grows towards Config.MaxConcurrency while
//     answers succeed (slow start, then additive increase) and halves on a
//     throttle (multiplicative decrease);
//   - one rate limiter (golang.org/x/time/rate) capped at
//     Config.RequestRate, whose rate follows the inin-ratelimit-allowed,
//     -count and -reset headers: the requests left in the window are spread
//     over the time left, and none left means a pause until the reset.
//
// Creating a token per connection, or opening a burst of connections, is
// what gets a client throttled and then blocked by the ingress; this
// client does neither.
//
// # Retries
//
// A 429 is retried after its Retry-After (all requests pause: the limit
// is the token's). A 403 whose body marks throttling or burst blocking
// (rate_limit_exceeded, waf_block) is retried after a backoff. Both halve
// the concurrency. A 403 for a missing permission fails at once with an
// error that names the permission ([ErrPermission]). 5xx answers and
// connection failures are retried with capped exponential backoff and
// jitter, up to Config.MaxRetries. Every retry, throttle and token request
// is counted in [Stats] and logged to Config.Logger. Neither the client
// secret nor the access token is ever logged or put into an error.
//
// # Edge logs
//
// [EdgeSource.List] creates a log job per edge (all edges, or the
// configured ones) and waits, bounded, for each to list its files.
// [EdgeSource.Open] requests the upload of one file, waits, bounded, for
// it, resolves the download id to a pre-signed URL and streams the bytes:
// a file is never held whole in memory or on disk. The byte count must
// match the listed size; a short body is resumed with a Range request and
// an expired URL is resolved again. Uploads are requested lazily, per file
// the export job archives, so files archived before are never uploaded
// from the edge again.
//
// # Audit trail
//
// [AuditSource.List] runs one asynchronous audit query over the run's
// window, waits for it and counts its records; Open streams them into one
// JSON Lines object per window.
//
// # Errors
//
// Errors wrap the sentinels of this package ([ErrBadCredentials],
// [ErrPermission], [ErrNotFound], [ErrTimeout], [ErrMalformed],
// [ErrDownload], ...); [APIError] and [TimeoutError] carry the operation,
// edge, job, file or query and the correlation id. Errors from List fail
// the export run before any manifest is written; errors from Open or while
// reading are recorded as that file's failure and the next run retries it.
//
// The simulator in package sim serves these endpoints with strict limits
// and injected faults, for tests and demos (cmd/genesys-sim).
package genesys
