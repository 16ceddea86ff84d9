package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/service/lease"
)

// putLease writes the stream's lease as another holder (or an intruder
// editing the store) would.
func (e *env) putLease(holder string, expires time.Time) {
	e.t.Helper()
	now := e.clock.Now()
	b, err := json.Marshal(lease.Record{Schema: lease.Schema, Name: "app", Holder: holder, Token: "x",
		Acquired: now, Renewed: now, Expires: expires})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.Put(context.Background(), lease.Key("app"), bytes.NewReader(b), store.PutOptions{Size: int64(len(b))}); err != nil {
		e.t.Fatal(err)
	}
}

// logLine returns the first JSON log line with msg, decoded.
func (e *env) logLine(msg string) map[string]any {
	e.t.Helper()
	e.logMu.Lock()
	defer e.logMu.Unlock()
	for _, line := range strings.Split(e.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	e.t.Fatalf("no log line %q in:\n%s", msg, e.logs.String())
	return nil
}

// TestLeaseExpiringIn2099IsTakenOver: a lease edited to expire in 2099
// stopped the stream with a DEBUG line only. It is invalid (its expiry lies
// further ahead than lease_ttl allows): taken over with a warning and a
// metric, and the window is archived.
func TestLeaseExpiringIn2099IsTakenOver(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, newStore(t))
			e.clock = &clock{t: time.Date(2026, 11, 26, 10, 20, 0, 0, time.UTC)}
			writeFile(t, e.src, "a.log", "a")
			e.putLease("intruder", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))
			if err := e.daemon("r1").RunOnce(context.Background()); err != nil {
				t.Fatalf("RunOnce: %v", err)
			}
			if n := len(e.manifests()); n != 1 {
				t.Fatalf("%d manifests, want 1", n)
			}
			if got := counter(t, e.metrics, "logkeeper_lease_takeovers_total", map[string]string{"stream": "app", "reason": "expiry_too_far"}); got != 1 {
				t.Fatalf("lease_takeovers_total = %v, want 1", got)
			}
			line := e.logLine("invalid lease taken over")
			if line["level"] != "WARN" || line["previous_holder"] != "intruder" || line["previous_expires"] != "2099-01-01T00:00:00Z" || line["reason"] != "expiry_too_far" {
				t.Fatalf("warning: %v", line)
			}
		})
	}
}

// TestRunOnceHeldLeaseFails: run --once beside a replica that holds a
// valid lease archives nothing, says so at info with the holder and the
// expiry, and returns an error wrapping lease.ErrHeld (exit non-zero).
func TestRunOnceHeldLeaseFails(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, newStore(t))
			e.clock = &clock{t: time.Date(2026, 11, 26, 10, 20, 0, 0, time.UTC)}
			writeFile(t, e.src, "a.log", "a")
			until := e.clock.Now().Add(e.ttl / 2)
			e.putLease("replica-b", until)
			err := e.daemon("r1").RunOnce(context.Background())
			var held *lease.HeldError
			if !errors.Is(err, lease.ErrHeld) || !errors.As(err, &held) || held.Holder != "replica-b" || !held.Expires.Equal(until) {
				t.Fatalf("RunOnce: %v, want the lease held by replica-b until %s", err, until)
			}
			if want := "stream app: nothing archived: lease app: lease held by another holder replica-b until 2026-11-26T10:20:05Z"; err.Error() != want {
				t.Fatalf("error %q, want %q", err, want)
			}
			if n := len(e.manifests()); n != 0 {
				t.Fatalf("%d manifests written under another's lease", n)
			}
			line := e.logLine("tick skipped: the stream's lease is held by another replica")
			if line["level"] != "INFO" || line["holder"] != "replica-b" || line["expires"] != "2026-11-26T10:20:05Z" {
				t.Fatalf("skip line: %v", line)
			}
			if got := counter(t, e.metrics, "logkeeper_ticks_skipped_total", map[string]string{"reason": "lease_held"}); got != 1 {
				t.Fatalf("ticks_skipped_total{lease_held} = %v, want 1", got)
			}
		})
	}
}
