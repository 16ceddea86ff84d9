package daemon

import (
	"testing"
	"time"
)

func TestFloor(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name   string
		t      string
		window time.Duration
		want   string
	}{
		{"hour", "2026-11-26T10:59:59.9Z", time.Hour, "2026-11-26T10:00:00Z"},
		{"on a boundary", "2026-11-26T10:00:00Z", time.Hour, "2026-11-26T10:00:00Z"},
		{"day in UTC whatever the zone", "2026-11-26T01:30:00+02:00", 24 * time.Hour, "2026-11-25T00:00:00Z"},
		{"seven hours from the epoch", "1970-01-01T15:00:00Z", 7 * time.Hour, "1970-01-01T14:00:00Z"},
		{"second", "2026-11-26T10:00:01.5Z", time.Second, "2026-11-26T10:00:01Z"},
		{"before the epoch", "1969-12-31T23:30:00Z", time.Hour, "1969-12-31T23:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Floor(at(tc.t), tc.window); !got.Equal(at(tc.want)) || got.Location() != time.UTC {
				t.Fatalf("Floor(%s, %s) = %s, want %s", tc.t, tc.window, got, tc.want)
			}
		})
	}
}

func TestNextEndAndPending(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)
	h := time.Hour
	tests := []struct {
		name      string
		watermark time.Time
		archived  bool
		wantEnd   time.Time
		wantOK    bool
		pending   int64
	}{
		{"empty chain: the latest boundary", time.Time{}, false, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), true, 1},
		{"up to date", time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), true, time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC), false, 0},
		{"one behind", time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), true, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), true, 1},
		{"six hours down", time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC), true, time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC), true, 6},
		{"off a boundary (manual export): realigned", time.Date(2026, 11, 26, 8, 17, 0, 0, time.UTC), true, time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), true, 2},
		{"watermark in the future (clock skew)", time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), true, time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC), false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			end, ok := NextEnd(tc.watermark, tc.archived, h, now)
			if !end.Equal(tc.wantEnd) || ok != tc.wantOK {
				t.Fatalf("NextEnd = %s, %v; want %s, %v", end, ok, tc.wantEnd, tc.wantOK)
			}
			if got := Pending(tc.watermark, tc.archived, h, now); got != tc.pending {
				t.Fatalf("Pending = %d, want %d", got, tc.pending)
			}
		})
	}
}
