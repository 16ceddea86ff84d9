// Package metrics holds logkeeper's Prometheus metrics, all named
// logkeeper_*, in a registry of their own (with the Go runtime and process
// collectors), served by Handler.
//
// A nil *Metrics is valid and records nothing, so code that reports into
// it needs no checks. Sources report throttles and retries through a
// SourceReporter, which a source that paces itself (the Genesys sources)
// receives by implementing SourceReporting.
package metrics
