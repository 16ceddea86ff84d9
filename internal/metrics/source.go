package metrics

import "time"

// SourceReporter receives a source's pacing events. Implementations are
// safe for concurrent use; reasons are short fixed words ("rate_limited",
// "server_error", "connection"), never request details.
type SourceReporter interface {
	// Throttled reports an answer that asked the source to slow down, and
	// how long it waited because of it (0 if unknown).
	Throttled(reason string, wait time.Duration)
	// Retried reports a request sent again.
	Retried(reason string)
}

// SourceReporting is implemented by sources that report their throttles
// and retries. The daemon hands each such source the reporter of its
// stream before the first run.
type SourceReporting interface {
	ReportTo(r SourceReporter)
}

// Source returns the reporter for a stream's source.
func (m *Metrics) Source(stream string) SourceReporter {
	return sourceReporter{m: m, stream: stream}
}

type sourceReporter struct {
	m      *Metrics
	stream string
}

func (s sourceReporter) Throttled(reason string, wait time.Duration) {
	if s.m == nil {
		return
	}
	s.m.throttles.WithLabelValues(s.stream, reason).Inc()
	if wait > 0 {
		s.m.throttleWait.WithLabelValues(s.stream).Add(wait.Seconds())
	}
}

func (s sourceReporter) Retried(reason string) {
	if s.m == nil {
		return
	}
	s.m.retries.WithLabelValues(s.stream, reason).Inc()
}
