package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/logkeeper/logkeeper/internal/loopback"
	"github.com/logkeeper/logkeeper/internal/metrics"
)

// Handler serves the daemon's probes and metrics:
//
//	/healthz   200 while the process runs
//	/readyz    200 when a configuration is loaded and its store answers, else 503
//	/metrics   Prometheus metrics (m)
func (d *Daemon) Handler(m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := d.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

// CheckListen refuses a listen address that is not on loopback, unless
// allowRemote: the metrics and probes carry no secrets, but they tell the
// store and streams to whoever can reach them.
func CheckListen(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if allowRemote {
		return nil
	}
	if loopback.Is(host) {
		return nil
	}
	if host == "" {
		host = "every interface"
	}
	return fmt.Errorf("listen address %q is not on loopback (%s): use 127.0.0.1:PORT, or allow it explicitly with --listen-remote", addr, host)
}
