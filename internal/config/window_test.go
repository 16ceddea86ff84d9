package config

import (
	"testing"
	"time"
)

func TestSchedulePeriod(t *testing.T) {
	tests := []struct {
		spec string
		want time.Duration
	}{
		{"@every 5m", 5 * time.Minute},
		{"@every 90s", 90 * time.Second},
		{"@hourly", time.Hour},
		{"@daily", 24 * time.Hour},
		{"@weekly", 7 * 24 * time.Hour},
		{"@monthly", 28 * 24 * time.Hour}, // the shortest month: every firing closes a window
		{"@yearly", 365 * 24 * time.Hour},
		{"*/5 * * * *", 5 * time.Minute},
		{"0 5 * * * *", time.Hour},       // six fields: second 0 of minute 5
		{"0 9,17 * * *", 8 * time.Hour},  // irregular: the shortest gap
		{"30 0 * * 1-5", 24 * time.Hour}, // weekdays
		{"* * * * * *", time.Second},     // every second, bounded loop
		{"CRON_TZ=Europe/Berlin 0 * * * *", time.Hour},
		{"0 0 29 2 *", DefaultWindow}, // fires once in four years
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			sched, err := ParseSchedule(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := SchedulePeriod(sched); got != tc.want {
				t.Fatalf("SchedulePeriod(%q) = %s, want %s", tc.spec, got, tc.want)
			}
		})
	}
}

// A stream's window follows its schedule unless written; a stream without
// a schedule keeps DefaultWindow.
func TestWindowDefaultsToSchedulePeriod(t *testing.T) {
	cfg := mustParse(t, `store: {url: "file:///a"}
signing: {key: "file:///k.pem"}
streams:
  - {name: a, schedule: "@every 5m", source: {type: dir, path: /l}}
  - {name: b, schedule: "0 9,17 * * *", source: {type: dir, path: /l}}
  - {name: c, schedule: "@every 5m", window: 1h, source: {type: dir, path: /l}}
  - {name: d, source: {type: dir, path: /l}}
  - {name: e, schedule: "${SCHED}", source: {type: dir, path: /l}}
`)
	want := map[string]time.Duration{"a": 5 * time.Minute, "b": 8 * time.Hour, "c": time.Hour, "d": DefaultWindow, "e": 15 * time.Minute}
	for _, s := range cfg.Streams {
		if s.Window != want[s.Name] {
			t.Errorf("stream %s: window %s, want %s", s.Name, s.Window, want[s.Name])
		}
	}
}
