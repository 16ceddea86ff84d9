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
// [EdgeSource.List] takes the configured edges, or lists the edges
// without cloud media devices and sets aside those reported OFFLINE or not
// active (returned as skipped items, so the manifest says "edge X was not
// collected"). It creates a log job per edge and waits, bounded per edge,
// for each to list its files; an edge that fails is returned as an item
// with Err and never cancels the others. [EdgeSource.Prepare] asks each
// job to upload the files the run will archive, in batches of fileIds, so
// files archived before are never uploaded from the edge again.
// [EdgeSource.Open] waits, bounded, until the file is UPLOADED with a
// download id (ERROR_ON_UPLOAD or a stuck upload fail that file alone),
// resolves the download id to a pre-signed URL and streams the bytes: a
// file is never held whole in memory or on disk. The byte count must match
// the listed size; a short body is resumed with a Range request and an
// expired URL is resolved again.
//
// # Audit trail
//
// [AuditSource.List] queries the run's window shifted back by the settle
// delay, no further back than the since bound, in intervals of at most
// MaxInterval, each an asynchronous audit query sorted by Timestamp; it
// waits for each and counts its records; Open streams them into one JSON
// Lines object per interval. [AuditSource.Recheck] queries the latest
// intervals again and archives records indexed after their first query,
// exactly once, in a supplemental object.
//
// # Models
//
// The JSON shapes follow the published Genesys Cloud SDK models (see
// docs/genesys.md): sizeBytes is a double checked to be a whole number of
// bytes, enumerations are compared ignoring case and a value the models do
// not list is logged and handled conservatively, never a decode failure.
// A field that cannot be used fails that one file or edge, with an error
// naming the field and the endpoint.
//
// # Errors
//
// Errors wrap the sentinels of this package ([ErrBadCredentials],
// [ErrPermission], [ErrNotFound], [ErrTimeout], [ErrMalformed],
// [ErrDownload], ...); [APIError] and [TimeoutError] carry the operation,
// edge, job, file or query, the error body's code and contextId, and the
// correlation id. Errors from List that would fail every item
// (credentials, permissions, the edge listing, an audit query) fail the
// export run before any manifest is written; the failure of one edge, and
// errors from Open or while reading, are recorded as that item's failure
// and the next run retries it.
//
// The simulator in package sim serves these endpoints with strict limits
// and injected faults, for tests and demos (cmd/genesys-sim).
package genesys
