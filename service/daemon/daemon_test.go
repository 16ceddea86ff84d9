package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/manifest"
	"github.com/logkeeper/logkeeper/service/daemon"
	"github.com/logkeeper/logkeeper/service/lease"
)

// checkWindows checks that the windows of the manifests meet, that every
// window after the first is aligned to window, and returns their ends.
func checkWindows(t *testing.T, e *env, window time.Duration) []time.Time {
	t.Helper()
	ms := e.manifests()
	var ends []time.Time
	for i, m := range ms {
		if i == 0 && !m.Window.Start.Equal(time.Unix(0, 0)) {
			t.Fatalf("first window starts %s, want the Unix epoch", m.Window.Start)
		}
		if i > 0 && !m.Window.Start.Equal(ms[i-1].Window.End) {
			t.Fatalf("manifest %d window starts %s, previous ended %s: gap", i+1, m.Window.Start, ms[i-1].Window.End)
		}
		if !daemon.Floor(m.Window.End, window).Equal(m.Window.End) {
			t.Fatalf("manifest %d window ends %s, not on a %s boundary", i+1, m.Window.End, window)
		}
		if i > 0 && m.Window.End.Sub(m.Window.Start) != window {
			t.Fatalf("manifest %d window %s..%s is not %s long", i+1, m.Window.Start, m.Window.End, window)
		}
		ends = append(ends, m.Window.End)
	}
	return ends
}

// A restart after a gap backfills the missed windows in order, at most
// max_backfill_windows per tick, and none twice.
func TestRestartAfterGapBackfills(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, newStore(t))
			e.clock = &clock{t: time.Date(2026, 11, 26, 10, 20, 0, 0, time.UTC)}
			e.backlog = 4
			writeFile(t, e.src, "a.log", "first\n")
			if err := e.daemon("first").RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if ends := checkWindows(t, e, time.Hour); len(ends) != 1 || !ends[0].Equal(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)) {
				t.Fatalf("first run: window ends %v, want the latest boundary 10:00", ends)
			}
			// Down for ten hours; a new process (another holder) starts.
			e.clock.Add(10 * time.Hour)
			writeFile(t, e.src, "b.log", "written while down\n")
			d := e.daemon("second")
			for _, want := range []int{5, 9, 11, 11} {
				if err := d.RunOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
				if got := len(e.manifests()); got != want {
					t.Fatalf("after a tick: %d manifests, want %d (4 windows per tick)", got, want)
				}
			}
			ends := checkWindows(t, e, time.Hour)
			if last := ends[len(ends)-1]; !last.Equal(time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)) {
				t.Fatalf("caught up to %s, want 20:00", last)
			}
			e.verifyClean()
			if got := counter(t, e.metrics, "logkeeper_runs_total", map[string]string{"stream": "app", "result": "success"}); got != 11 {
				t.Fatalf("runs_total{success} = %v, want 11", got)
			}
			if got := counter(t, e.metrics, "logkeeper_backlog_windows", map[string]string{"stream": "app"}); got != 0 {
				t.Fatalf("backlog = %v, want 0", got)
			}
			// b.log was archived exactly once, in the first window after the gap.
			seen := map[string]int{}
			for _, m := range e.manifests() {
				for _, o := range m.Objects {
					seen[o.Source.Path]++
				}
			}
			if seen["a.log"] != 1 || seen["b.log"] != 1 {
				t.Fatalf("files archived %v, want each once", seen)
			}
		})
	}
}

// A store outage during a run: the run fails and is counted, the next
// tick retries the same window, and no window is skipped.
func TestStoreOutageRetriesWindow(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fs := &faultyStore{Store: newStore(t)}
			e := newEnv(t, fs)
			e.clock = &clock{t: time.Date(2026, 11, 26, 10, 20, 0, 0, time.UTC)}
			writeFile(t, e.src, "a.log", "a\n")
			d := e.daemon("r1")
			if err := d.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(3 * time.Hour)
			writeFile(t, e.src, "b.log", "b\n")
			fs.down.Store(true)
			err := d.RunOnce(context.Background())
			if !errors.Is(err, errOutage) || !strings.Contains(err.Error(), "window 2026-11-26T10:00:00Z to 2026-11-26T11:00:00Z") {
				t.Fatalf("tick during an outage: %v; want the outage, naming the window", err)
			}
			if got := counter(t, e.metrics, "logkeeper_runs_total", map[string]string{"stream": "app", "result": "failed"}); got != 1 {
				t.Fatalf("runs_total{failed} = %v, want 1", got)
			}
			if n := len(e.manifests()); n != 1 {
				t.Fatalf("%d manifests after the failed tick, want 1", n)
			}
			fs.down.Store(false)
			if err := d.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			ends := checkWindows(t, e, time.Hour)
			if len(ends) != 4 {
				t.Fatalf("%d manifests after recovery, want 4 (the failed window and the two after it)", len(ends))
			}
			e.verifyClean()
		})
	}
}

// Three ticks of a real schedule (@every 1s, 1s windows) chain correctly.
func TestThreeScheduledRunsChain(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, newStore(t))
			e.spec, e.window = "@every 1s", time.Second
			writeFile(t, e.src, "a.log", "a\n")
			d := e.daemon("r1")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx, nil) }()
			deadline := time.Now().Add(20 * time.Second)
			for len(e.manifests()) < 3 {
				if time.Now().After(deadline) {
					cancel()
					t.Fatalf("only %d manifests after 20s", len(e.manifests()))
				}
				if len(e.manifests()) == 2 {
					writeFile(t, e.src, "b.log", "b\n")
				}
				time.Sleep(100 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run after cancel: %v", err)
			}
			checkWindows(t, e, time.Second)
			rep := e.verifyClean()
			if rep.ManifestsValid < 3 {
				t.Fatalf("%d valid manifests, want at least 3", rep.ManifestsValid)
			}
		})
	}
}

// Shutdown lets a running export finish within the grace period, and
// cancels it (no manifest) when it does not.
func TestGracefulShutdown(t *testing.T) {
	for _, tc := range []struct {
		name      string
		exportFor time.Duration
		grace     time.Duration
		cancelled bool
	}{
		{"finishes within the grace period", 300 * time.Millisecond, 5 * time.Second, false},
		{"cancelled after the grace period", time.Hour, 300 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, stores(t)["fs"](t))
			e.spec, e.window, e.grace = "@every 1s", time.Second, tc.grace
			started := make(chan struct{})
			var once sync.Once
			var cause error
			e.run = func(ctx context.Context, job *export.Job, end time.Time, reason string) (*export.Result, error) {
				once.Do(func() { close(started) })
				select {
				case <-time.After(tc.exportFor):
					return job.Run(ctx, end, reason)
				case <-ctx.Done():
					cause = context.Cause(ctx)
					return nil, fmt.Errorf("export cancelled (no manifest written): %w", ctx.Err())
				}
			}
			d := e.daemon("r1")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx, nil) }()
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatal("no export started")
			}
			stop := time.Now()
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			took := time.Since(stop)
			n := len(e.manifests())
			if tc.cancelled {
				if n != 0 || !errors.Is(cause, daemon.ErrShutdown) {
					t.Fatalf("%d manifests, cause %v: want none and ErrShutdown", n, cause)
				}
				if took > tc.grace+2*time.Second {
					t.Fatalf("stopped %v after the signal, grace period %v", took, tc.grace)
				}
				if got := counter(t, e.metrics, "logkeeper_runs_total", map[string]string{"result": "cancelled"}); got != 1 {
					t.Fatalf("runs_total{cancelled} = %v", got)
				}
			} else if n != 1 {
				t.Fatalf("%d manifests, want the export that finished within the grace period", n)
			}
		})
	}
}

// A panic in a tick is recovered, reported and counted, and the stream
// runs again at the next tick.
func TestPanicRecovered(t *testing.T) {
	e := newEnv(t, stores(t)["fs"](t))
	e.clock = &clock{t: time.Date(2026, 11, 26, 10, 20, 0, 0, time.UTC)}
	panicky := true
	e.run = func(ctx context.Context, job *export.Job, end time.Time, reason string) (*export.Result, error) {
		if panicky {
			panic("source blew up")
		}
		return job.Run(ctx, end, reason)
	}
	d := e.daemon("r1")
	if err := d.RunOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "panic: source blew up") {
		t.Fatalf("tick that panicked: %v", err)
	}
	if got := counter(t, e.metrics, "logkeeper_panics_total", map[string]string{"stream": "app"}); got != 1 {
		t.Fatalf("panics_total = %v, want 1", got)
	}
	if !strings.Contains(e.logs.String(), "goroutine") {
		t.Fatal("the panic's stack was not logged")
	}
	panicky = false
	if err := d.RunOnce(context.Background()); err != nil {
		t.Fatalf("tick after a panic: %v", err)
	}
}

// blockingRun holds the first export until release is closed.
func blockingRun(started chan<- struct{}, release <-chan struct{}) func(ctx context.Context, job *export.Job, end time.Time, reason string) (*export.Result, error) {
	var once sync.Once
	return func(ctx context.Context, job *export.Job, end time.Time, reason string) (*export.Result, error) {
		once.Do(func() { close(started) })
		<-release
		return job.Run(ctx, end, reason)
	}
}

// A stream never runs twice at once: in one process the second tick is
// skipped; in another replica the lease makes it skip.
func TestNoOverlappingRuns(t *testing.T) {
	for _, sameProcess := range []bool{true, false} {
		t.Run(fmt.Sprintf("same process %v", sameProcess), func(t *testing.T) {
			e := newEnv(t, stores(t)["fs"](t))
			e.clock = &clock{t: time.Date(2026, 11, 26, 10, 20, 0, 0, time.UTC)}
			started, release := make(chan struct{}), make(chan struct{})
			e.run = blockingRun(started, release)
			a := e.daemon("a")
			b := a
			if !sameProcess {
				b = e.daemon("b")
			}
			done := make(chan error, 1)
			go func() { done <- a.RunOnce(context.Background()) }()
			<-started
			err := b.RunOnce(context.Background())
			if sameProcess && err != nil {
				t.Fatal(err)
			}
			if !sameProcess && !errors.Is(err, lease.ErrHeld) {
				t.Fatalf("RunOnce beside a replica holding the lease: %v, want ErrHeld", err)
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			reason := "still_running"
			if !sameProcess {
				reason = "lease_held"
			}
			if got := counter(t, e.metrics, "logkeeper_ticks_skipped_total", map[string]string{"reason": reason}); got != 1 {
				t.Fatalf("ticks_skipped_total{%s} = %v, want 1", reason, got)
			}
			if n := len(e.manifests()); n != 1 {
				t.Fatalf("%d manifests, want 1", n)
			}
		})
	}
}

// A reload with a bad configuration reports it and keeps the old one.
func TestReloadKeepsOldConfigOnError(t *testing.T) {
	e := newEnv(t, stores(t)["fs"](t))
	calls := 0
	bad := errors.Join(errors.New(`streams[0].schedule: stream "app": invalid cron spec "* * *"`), errors.New("store.url: required"))
	reloadable, err := daemon.New(context.Background(), daemon.Options{Load: func(ctx context.Context) (*daemon.Setup, error) {
		calls++
		if calls > 1 {
			return nil, bad
		}
		return e.setup(ctx)
	}, Logger: e.logger(), Metrics: e.metrics})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reloadable.Reload(context.Background()); ok {
		t.Fatal("a bad configuration was accepted")
	}
	logs := e.logs.String()
	for _, want := range []string{"keeping the previous one", `invalid cron spec`, "store.url: required"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("log does not report %q:\n%s", want, logs)
		}
	}
	if got := counter(t, e.metrics, "logkeeper_config_reloads_total", map[string]string{"result": "failure"}); got != 1 {
		t.Fatalf("reloads_total{failure} = %v", got)
	}
	if err := reloadable.Ready(context.Background()); err != nil {
		t.Fatalf("not ready after a refused reload: %v", err)
	}
}

func TestHandler(t *testing.T) {
	e := newEnv(t, stores(t)["fs"](t))
	e.clock = &clock{t: time.Date(2026, 11, 26, 10, 20, 0, 0, time.UTC)}
	writeFile(t, e.src, "a.log", "a\n")
	d := e.daemon("r1")
	if err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler(e.metrics))
	defer srv.Close()
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  "ready",
		"/metrics": `logkeeper_runs_total{result="success",stream="app"} 1`,
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != 200 || !strings.Contains(body, want) {
			t.Fatalf("GET %s: %d %q, want 200 with %q", path, resp.StatusCode, body, want)
		}
	}
	for _, name := range []string{"logkeeper_archived_bytes_total", "logkeeper_archived_files_total", "logkeeper_run_duration_seconds",
		"logkeeper_last_success_timestamp_seconds", "logkeeper_watermark_timestamp_seconds", "logkeeper_chain_head_age_seconds"} {
		if counter(t, e.metrics, name, map[string]string{"stream": "app"}) == 0 {
			t.Errorf("%s not recorded", name)
		}
	}
}

func TestReadyzFailsWhenStoreIsDown(t *testing.T) {
	e := newEnv(t, downStore{})
	d := e.daemon("r1")
	srv := httptest.NewServer(d.Handler(e.metrics))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "not reachable") {
		t.Fatalf("readyz with the store down: %d %q", resp.StatusCode, body)
	}
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:9090", false, true},
		{"localhost:9090", false, true},
		{"[::1]:9090", false, true},
		{"0.0.0.0:9090", false, false},
		{":9090", false, false},
		{"192.0.2.1:9090", false, false},
		{"0.0.0.0:9090", true, true},
		{"nonsense", true, false},
	} {
		if err := daemon.CheckListen(tc.addr, tc.remote); (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, %v) = %v, want ok=%v", tc.addr, tc.remote, err, tc.ok)
		}
	}
}

// downStore answers every call with an error.
type downStore struct{ store.Store }

func (downStore) Head(context.Context, string, store.GetOptions) (store.ObjectInfo, error) {
	return store.ObjectInfo{}, errOutage
}
func (downStore) Describe() string { return "s3://down" }

// The periodic verify uses store.witness like logkeeper verify: it proves
// the chain against the witnessed checkpoints, and so catches the newest
// manifests deleted from the store.
func TestPeriodicVerifyUsesWitness(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, newStore(t))
			e.spec, e.window, e.verify = "@every 1s", time.Second, 300*time.Millisecond
			w, err := fsstore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			e.witness = w
			writeFile(t, e.src, "a.log", "a\n")
			waitLog := func(re *regexp.Regexp) {
				t.Helper()
				deadline := time.Now().Add(30 * time.Second)
				for {
					e.logMu.Lock()
					logs := e.logs.String()
					e.logMu.Unlock()
					if re.MatchString(logs) {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("no %s in the daemon's log after 30s:\n%s", re, logs)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			d := e.daemon("r1")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx, nil) }()
			// Two runs, and a valid chain proven against at least one
			// witnessed checkpoint.
			for deadline := time.Now().Add(30 * time.Second); len(e.manifests()) < 2; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d manifests after 30s", len(e.manifests()))
				}
			}
			waitLog(regexp.MustCompile(`"msg":"verify: chain valid".*"witnessed":[1-9]`))
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			// The newest manifest goes from the store, its witnessed
			// checkpoint stays: the periodic verify reports the cut.
			ms := e.manifests()
			if err := e.st.(store.Deleter).Delete(context.Background(), manifest.Key("app", ms[len(ms)-1].Sequence)); err != nil {
				t.Fatal(err)
			}
			e.logMu.Lock()
			e.logs.Reset()
			e.logMu.Unlock()
			// No runs now: only the periodic verify.
			e.run = func(context.Context, *export.Job, time.Time, string) (*export.Result, error) {
				return nil, errors.New("no runs in this test")
			}
			d = e.daemon("r2")
			ctx, cancel = context.WithCancel(context.Background())
			defer cancel()
			go func() { done <- d.Run(ctx, nil) }()
			waitLog(regexp.MustCompile(`"msg":"verify found problems".*chain_truncated`))
			cancel()
			<-done
		})
	}
}
