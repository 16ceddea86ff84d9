package policies

import (
	"testing"
	"time"
)

func TestRetentionUntil(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("X", 3600))
	got := Retention{Mode: Compliance, RetainDays: 10}.Until(now)
	want := time.Date(2026, 1, 12, 2, 4, 6, 0, time.UTC)
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("Until = %v, want %v", got, want)
	}
}

func TestRetentionValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Retention
		ok   bool
	}{
		{"compliance", Retention{Compliance, 1}, true},
		{"governance", Retention{Governance, 3650}, true},
		{"bad mode", Retention{"compliant", 1}, false},
		{"zero days", Retention{Compliance, 0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.r.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestEncryptionContext(t *testing.T) {
	e := Encryption{KMSKeyID: "alias/logs", Context: map[string]string{"team": "legal"}}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	c := e.ContextFor("edge", "run-1", "edge/objects/run-1/a.log", "s3://b/p")
	want := map[string]string{"team": "legal", ContextStream: "edge", ContextRunID: "run-1", ContextKey: "edge/objects/run-1/a.log", ContextStore: "s3://b/p"}
	if len(c) != len(want) {
		t.Fatalf("context = %v, want %v", c, want)
	}
	for k, v := range want {
		if c[k] != v {
			t.Fatalf("context[%s] = %q, want %q", k, c[k], v)
		}
	}
	if e.Context[ContextStream] != "" {
		t.Fatal("ContextFor modified the configured map")
	}
	for _, k := range []string{"logkeeper:stream", "aws:s3:arn"} {
		if err := (Encryption{Context: map[string]string{k: "x"}}).Validate(); err == nil {
			t.Errorf("reserved key %s accepted", k)
		}
	}
}
