// Package sim simulates the Genesys Cloud endpoints that logkeeper's
// genesys sources use, as an http.Handler for httptest servers and for
// cmd/genesys-sim:
//
//   - POST /oauth/token (client credentials in HTTP Basic), with a cap on
//     tokens per minute (429 + Retry-After);
//   - GET /api/v2/organizations/me;
//   - GET /api/v2/telephony/providers/edges (paged), POST and GET
//     .../edges/{edgeId}/logs/jobs[/{jobId}], POST .../upload;
//   - GET /api/v2/downloads/{downloadId}?issueRedirect=false, and the
//     pre-signed, expiring download URLs it hands out (with Range support);
//   - POST /api/v2/audits/query, GET .../query/{id} and .../results.
//
// Every API request needs a token the simulator issued and is subject to
// the per-token limits: RequestsPerWindow (429 + Retry-After, with the
// inin-ratelimit-allowed, -count and -reset headers on every answer) and
// MaxInFlight (403 with a body holding waf_block, as an ingress that
// blocks bursts answers). Faults are injected at configurable rates: 503s,
// connections closed without an answer, and downloads cut short of their
// Content-Length. Each answer carries an ININ-Correlation-Id. File contents
// are generated from a seed ([Content]), so tests can check every byte.
// [Server.Stats] counts tokens issued and requests, 429s and 403s served.
package sim
