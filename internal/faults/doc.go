// Package faults is a fault-injecting HTTP reverse proxy for tests: put it
// in front of a test S3 server and point the client at it, and a share of
// the requests fail the way a real endpoint fails on a bad day.
//
// Each request is either passed through or given one fault:
//
//   - SlowDown: 503 with an S3 "SlowDown" error body (throttling);
//   - InternalError: 500 with an S3 "InternalError" body;
//   - Reset: the connection is reset before the request reaches the server;
//   - ResetAfter: the request reaches the server and is carried out, then the
//     connection is reset instead of answering: the client cannot know the
//     outcome (an ambiguous write, the hardest case for a retry);
//   - Slow: the answer is delayed by up to Config.MaxDelay.
//
// Which requests get a fault is deterministic: the decision for the n-th
// request with a given method, path and part number is a hash of the seed
// and those, so the same workload with the same seed meets the same faults
// whatever the order in which concurrent requests arrive.
//
// The proxy listens on 127.0.0.1 only and forwards only to a loopback
// target. It keeps the Host header, so SigV4 signatures made for the proxy's
// address still verify at the server behind it.
package faults
