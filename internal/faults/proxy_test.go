package faults_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/internal/faults"
)

func upstream(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %d", r.Method, r.URL.Path, r.Host, len(b))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func start(t *testing.T, cfg faults.Config) *faults.Proxy {
	t.Helper()
	p, err := faults.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// noRetry is a client with no connection reuse surprises.
func noRetry() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

func TestKinds(t *testing.T) {
	tests := []struct {
		kind       faults.Kind
		status     int    // 0: a transport error
		body       string // substring
		serverHits int32
	}{
		{faults.Pass, 200, "PUT /b/k", 1},
		{faults.SlowDown, 503, "<Code>SlowDown</Code>", 0},
		{faults.InternalError, 500, "<Code>InternalError</Code>", 0},
		{faults.Reset, 0, "", 0},
		{faults.ResetAfter, 0, "", 1},
		{faults.Slow, 200, "PUT /b/k", 1},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			srv, hits := upstream(t)
			cfg := faults.Config{Target: srv.URL, Seed: 1, Rate: 1, Weights: map[faults.Kind]int{tt.kind: 1}, MaxDelay: 50 * time.Millisecond}
			if tt.kind == faults.Pass {
				cfg.Rate, cfg.Weights = 0, nil
			}
			p := start(t, cfg)
			req, _ := http.NewRequest(http.MethodPut, p.URL+"/b/k", strings.NewReader("hello"))
			req.Host = "signed.example:1234"
			resp, err := noRetry().Do(req)
			if tt.status == 0 {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got status %d, want a connection error", resp.StatusCode)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.body) {
					t.Fatalf("got %d %q, want %d with %q", resp.StatusCode, b, tt.status, tt.body)
				}
				if tt.status == 200 && !strings.Contains(string(b), "signed.example:1234 5") {
					t.Fatalf("upstream saw %q: Host header or body not kept", b)
				}
			}
			if got := hits.Load(); got != tt.serverHits {
				t.Fatalf("server saw %d requests, want %d", got, tt.serverHits)
			}
			if c := p.Counts()[tt.kind]; c != 1 {
				t.Fatalf("counts %v", p.Counts())
			}
		})
	}
}

// The same seed faults the same requests, whatever the order they come in.
func TestDeterministic(t *testing.T) {
	srv, _ := upstream(t)
	pattern := func(seed uint64, reverse bool) string {
		p := start(t, faults.Config{Target: srv.URL, Seed: seed, Rate: 0.3, Weights: map[faults.Kind]int{faults.SlowDown: 1}})
		got := make([]byte, 40)
		for j := range 40 {
			i := j
			if reverse {
				i = 39 - j
			}
			resp, err := noRetry().Get(fmt.Sprintf("%s/b/key-%d", p.URL, i))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got[i] = '.'
			if resp.StatusCode == 503 {
				got[i] = 'x'
			}
		}
		return string(got)
	}
	a, b, c := pattern(7, false), pattern(7, true), pattern(8, false)
	if a != b {
		t.Fatalf("same seed, other order: %s vs %s", a, b)
	}
	if a == c {
		t.Fatalf("seeds 7 and 8 fault the same requests: %s", a)
	}
	if !strings.Contains(a, "x") || !strings.Contains(a, ".") {
		t.Fatalf("rate 0.3 over 40 requests: %s", a)
	}
}

func TestRefusesRemoteTarget(t *testing.T) {
	if _, err := faults.Start(faults.Config{Target: "http://s3.example.com"}); err == nil {
		t.Fatal("a target off loopback was accepted")
	}
}
