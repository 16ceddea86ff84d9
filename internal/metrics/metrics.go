package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Run results, the values of the result label of logkeeper_runs_total.
const (
	// ResultSuccess: a manifest was written and every file archived.
	ResultSuccess = "success"
	// ResultPartial: a manifest was written, but some files could not be
	// read; they are listed as failures and retried by the next run.
	ResultPartial = "partial"
	// ResultFailed: no manifest was written (store or source error); the
	// window is retried at the next tick.
	ResultFailed = "failed"
	// ResultCancelled: the run was cancelled (shutdown, lost lease) and
	// wrote no manifest.
	ResultCancelled = "cancelled"
)

// Reasons a scheduled tick did nothing, the values of the reason label of
// logkeeper_ticks_skipped_total.
const (
	SkipStillRunning = "still_running"
	SkipLeaseHeld    = "lease_held"
	SkipShutdown     = "shutting_down"
)

// Metrics are the daemon's metrics.
type Metrics struct {
	reg *prometheus.Registry

	runs         *prometheus.CounterVec
	bytes        *prometheus.CounterVec
	files        *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	lastSuccess  *prometheus.GaugeVec
	watermark    *prometheus.GaugeVec
	backlog      *prometheus.GaugeVec
	skipped      *prometheus.CounterVec
	takeovers    *prometheus.CounterVec
	panics       *prometheus.CounterVec
	throttles    *prometheus.CounterVec
	throttleWait *prometheus.CounterVec
	retries      *prometheus.CounterVec
	verifyRuns   *prometheus.CounterVec
	verifyProbs  *prometheus.GaugeVec
	reloads      *prometheus.CounterVec
	configLoaded prometheus.Gauge
	headAge      *headAge
}

// New returns the metrics, registered in a new registry.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg}
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logkeeper_runs_total",
		Help: "Export runs by stream and result (success, partial, failed, cancelled)."}, []string{"stream", "result"})
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logkeeper_archived_bytes_total",
		Help: "Bytes archived by runs that wrote a manifest."}, []string{"stream"})
	m.files = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logkeeper_archived_files_total",
		Help: "Files archived by runs that wrote a manifest."}, []string{"stream"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "logkeeper_run_duration_seconds",
		Help:    "Duration of export runs, whatever their result.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 12)}, []string{"stream"})
	m.lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logkeeper_last_success_timestamp_seconds",
		Help: "Unix time at which the last run of the stream that wrote a manifest finished."}, []string{"stream"})
	m.watermark = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logkeeper_watermark_timestamp_seconds",
		Help: "End of the last archived window of the stream (Unix time)."}, []string{"stream"})
	m.backlog = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logkeeper_backlog_windows",
		Help: "Complete windows of the stream not archived yet, after the last tick."}, []string{"stream"})
	m.skipped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logkeeper_ticks_skipped_total",
		Help: "Scheduled ticks that ran nothing, by reason (still_running, lease_held, shutting_down)."}, []string{"stream", "reason"})
	m.takeovers = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logkeeper_lease_takeovers_total",
		Help: "Invalid leases taken over, by reason (expiry_too_far, unreadable)."}, []string{"stream", "reason"})
	m.panics = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logkeeper_panics_total",
		Help: "Panics recovered in scheduled jobs."}, []string{"stream"})
	m.throttles = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logkeeper_source_throttles_total",
		Help: "Answers from a source that asked to slow down, by reason."}, []string{"stream", "reason"})
	m.throttleWait = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logkeeper_source_throttle_wait_seconds_total",
		Help: "Time spent waiting because a source throttled."}, []string{"stream"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logkeeper_source_retries_total",
		Help: "Source requests retried, by reason."}, []string{"stream", "reason"})
	m.verifyRuns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logkeeper_verify_runs_total",
		Help: "Periodic verifications by stream and result (valid, problems, error)."}, []string{"stream", "result"})
	m.verifyProbs = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logkeeper_verify_problems",
		Help: "Integrity problems found by the last completed verification of the stream."}, []string{"stream"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logkeeper_config_reloads_total",
		Help: "Configuration reloads (SIGHUP) by result (success, failure)."}, []string{"result"})
	m.configLoaded = prometheus.NewGauge(prometheus.GaugeOpts{Name: "logkeeper_config_last_reload_success_timestamp_seconds",
		Help: "Unix time of the last successful configuration load."})
	m.headAge = newHeadAge(time.Now)
	for _, c := range []prometheus.Collector{m.runs, m.bytes, m.files, m.duration, m.lastSuccess, m.watermark, m.backlog,
		m.skipped, m.takeovers, m.panics, m.throttles, m.throttleWait, m.retries, m.verifyRuns, m.verifyProbs, m.reloads, m.configLoaded, m.headAge} {
		f(c)
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// StreamSeen makes a stream's series exist (at zero) before its first run,
// so that alerts on absence and rates work from the start.
func (m *Metrics) StreamSeen(stream string) {
	if m == nil {
		return
	}
	for _, r := range []string{ResultSuccess, ResultPartial, ResultFailed, ResultCancelled} {
		m.runs.WithLabelValues(stream, r)
	}
	m.bytes.WithLabelValues(stream)
	m.files.WithLabelValues(stream)
	m.panics.WithLabelValues(stream)
}

// Run records one finished run. files and bytes count what a run that
// wrote a manifest archived (0 otherwise).
func (m *Metrics) Run(stream, result string, d time.Duration, files int, bytes int64, finished time.Time) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(stream, result).Inc()
	m.duration.WithLabelValues(stream).Observe(d.Seconds())
	if result == ResultSuccess || result == ResultPartial {
		m.files.WithLabelValues(stream).Add(float64(files))
		m.bytes.WithLabelValues(stream).Add(float64(bytes))
		m.lastSuccess.WithLabelValues(stream).Set(float64(finished.UnixNano()) / 1e9)
	}
}

// Watermark records the end of the stream's last archived window (the
// chain's head, whose age logkeeper_chain_head_age_seconds then reports)
// and the number of complete windows still to archive.
func (m *Metrics) Watermark(stream string, end time.Time, backlog int64) {
	if m == nil {
		return
	}
	if !end.IsZero() {
		m.watermark.WithLabelValues(stream).Set(float64(end.UnixNano()) / 1e9)
		m.headAge.set(stream, end)
	}
	m.backlog.WithLabelValues(stream).Set(float64(backlog))
}

// Skipped records a tick that ran nothing.
func (m *Metrics) Skipped(stream, reason string) {
	if m == nil {
		return
	}
	m.skipped.WithLabelValues(stream, reason).Inc()
}

// LeaseTakenOver records an invalid lease replaced by this replica.
func (m *Metrics) LeaseTakenOver(stream, reason string) {
	if m == nil {
		return
	}
	m.takeovers.WithLabelValues(stream, reason).Inc()
}

// Panic records a recovered panic.
func (m *Metrics) Panic(stream string) {
	if m == nil {
		return
	}
	m.panics.WithLabelValues(stream).Inc()
}

// Verified records a periodic verification: its number of problems, or
// err when it could not complete.
func (m *Metrics) Verified(stream string, problems int, err error) {
	if m == nil {
		return
	}
	switch {
	case err != nil:
		m.verifyRuns.WithLabelValues(stream, "error").Inc()
		return
	case problems > 0:
		m.verifyRuns.WithLabelValues(stream, "problems").Inc()
	default:
		m.verifyRuns.WithLabelValues(stream, "valid").Inc()
	}
	m.verifyProbs.WithLabelValues(stream).Set(float64(problems))
}

// Reloaded records a configuration load (ok) or a refused reload.
func (m *Metrics) Reloaded(ok bool, at time.Time) {
	if m == nil {
		return
	}
	if ok {
		m.reloads.WithLabelValues("success").Inc()
		m.configLoaded.Set(float64(at.UnixNano()) / 1e9)
		return
	}
	m.reloads.WithLabelValues("failure").Inc()
}
