package daemon_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/export/dirsource"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/metrics"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
	"github.com/logkeeper/logkeeper/service/daemon"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func signer(t testing.TB) signing.Signer {
	t.Helper()
	s, err := signing.NewKeySigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stores returns the stores the tests run against: the filesystem store
// and versitygw.
func stores(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"fs": func(t *testing.T) store.Store {
			st, err := fsstore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		"s3": newS3,
	}
}

func newS3(t *testing.T) store.Store {
	env := testenv.S3(t)
	st, err := s3store.New(context.Background(), s3store.Options{
		Bucket: env.NewBucket(t, false), Prefix: "archive", PathStyle: true,
		PartSize: s3store.MinPartSize, Concurrency: 2, Client: env.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func writeFile(t testing.TB, dir, rel, data string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// env is a daemon over a real store, signer and folder source.
type env struct {
	t       *testing.T
	st      store.Store
	signer  signing.Signer
	src     string
	metrics *metrics.Metrics
	clock   *clock // nil: the real clock
	window  time.Duration
	spec    string
	backlog int
	grace   time.Duration
	ttl     time.Duration
	// witness, when set, is store.witness for the jobs and the periodic verify.
	witness store.Store
	verify  time.Duration // VerifyEvery
	// run, when set, replaces the export job's run.
	run   func(ctx context.Context, job *export.Job, end time.Time, reason string) (*export.Result, error)
	logs  *bytes.Buffer
	logMu sync.Mutex
}

func newEnv(t *testing.T, st store.Store) *env {
	return &env{t: t, st: st, signer: signer(t), src: t.TempDir(), metrics: metrics.New(),
		window: time.Hour, backlog: 24, grace: time.Second, ttl: 10 * time.Second, logs: &bytes.Buffer{}}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (e *env) setup(ctx context.Context) (*daemon.Setup, error) {
	src, err := dirsource.New(e.src)
	if err != nil {
		return nil, err
	}
	job := &export.Job{Stream: "app", Store: e.st, Signer: e.signer, Source: src, Workers: 2,
		Exporter: manifest.Exporter{Name: "logkeeper", Version: "test", Host: "test"}, Witness: e.witness}
	run := daemon.JobRunner(job)
	if e.run != nil {
		run = func(ctx context.Context, end time.Time, reason string) (*export.Result, error) {
			return e.run(ctx, job, end, reason)
		}
	}
	s := &daemon.Setup{Store: e.st, PublicKey: e.signer.Public(), MaxBackfill: e.backlog, LeaseTTL: e.ttl, GracePeriod: e.grace,
		Streams: []daemon.Stream{{Name: "app", Spec: e.spec, Window: e.window, Run: run}}, Witness: e.witness}
	if e.spec != "" {
		if s.Streams[0].Schedule, err = config.ParseSchedule(e.spec); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (e *env) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(lockedWriter{&e.logMu, e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (e *env) daemon(holder string) *daemon.Daemon {
	e.t.Helper()
	o := daemon.Options{Load: e.setup, Metrics: e.metrics, Holder: holder, Logger: e.logger(), VerifyEvery: e.verify}
	if e.clock != nil {
		o.Now = e.clock.Now
	}
	d, err := daemon.New(context.Background(), o)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) chain() *custody.Chain {
	e.t.Helper()
	c, err := custody.Load(context.Background(), e.st, "app", e.signer.Public())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// manifests returns every manifest of the stream, in order.
func (e *env) manifests() []*manifest.Manifest {
	e.t.Helper()
	var out []*manifest.Manifest
	for n := uint64(1); ; n++ {
		rc, _, err := e.st.Get(context.Background(), manifest.Key("app", n), store.GetOptions{})
		if errors.Is(err, store.ErrNotFound) {
			return out
		}
		if err != nil {
			e.t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		m, err := manifest.Parse(b)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, m)
	}
}

// verifyClean runs custody.Verify and fails on any problem.
func (e *env) verifyClean() *custody.Report {
	e.t.Helper()
	rep, err := custody.Verify(context.Background(), e.st, "app", custody.VerifyOptions{PublicKey: e.signer.Public()})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		e.t.Fatalf("verify: %v", rep.Problems)
	}
	return rep
}

// counter returns the value of a metric with the given labels (0 if none).
func counter(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mm := range mf.GetMetric() {
			for _, lp := range mm.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			switch {
			case mm.GetCounter() != nil:
				return mm.GetCounter().GetValue()
			case mm.GetGauge() != nil:
				return mm.GetGauge().GetValue()
			case mm.GetHistogram() != nil:
				return float64(mm.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// faultyStore fails every Put of archive data (not of leases) while down,
// like a store outage in the middle of a run.
type faultyStore struct {
	store.Store
	down atomic.Bool
	puts atomic.Int64
}

var errOutage = errors.New("injected store outage: 503 Service Unavailable")

func (f *faultyStore) Put(ctx context.Context, key string, r io.Reader, opts store.PutOptions) (store.ObjectInfo, error) {
	f.puts.Add(1)
	if f.down.Load() && !strings.HasPrefix(key, "_leases/") {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, errOutage)
	}
	return f.Store.Put(ctx, key, r, opts)
}
