package daemon

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/internal/metrics"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/policies"
	"github.com/logkeeper/logkeeper/service/lease"
)

// RunFunc runs one export of a stream covering the window that ends at
// end, recording reason in the manifest (see export.Job.Run).
type RunFunc func(ctx context.Context, end time.Time, reason string) (*export.Result, error)

// JobRunner runs j.
func JobRunner(j *export.Job) RunFunc { return j.Run }

// Stream is one stream as the daemon runs it.
type Stream struct {
	Name string
	// Schedule ticks the stream; nil means RunOnce only. Spec is its text.
	Schedule cron.Schedule
	Spec     string
	// Window is the length of the windows the stream's runs cover (> 0).
	Window time.Duration
	// Run exports the stream.
	Run RunFunc
}

// Setup is everything a loaded configuration gives the daemon.
type Setup struct {
	// Store holds the chains of custody and the leases.
	Store store.Store
	// PublicKey checks the chain heads (the signing key's public key).
	PublicKey crypto.PublicKey
	Streams   []Stream
	// MaxBackfill is the most windows one tick of a stream archives (>= 1).
	MaxBackfill int
	// LeaseTTL is the lifetime of a stream's lease; 0 disables leases
	// (only safe with a single replica).
	LeaseTTL time.Duration
	// GracePeriod is how long running exports may finish at shutdown.
	GracePeriod time.Duration
	// LeaseEncryption, when not nil, encrypts the lease objects (SSE-KMS,
	// with the lease's name in place of the stream in the context).
	LeaseEncryption *policies.Encryption
	// Chains, when set, caches the chains between ticks (share it with the
	// streams' export jobs), so a tick reads only new manifests.
	Chains *custody.Cache
	// Origin and Witness are the periodic verify's store.origin and
	// store.witness: the same checks as logkeeper verify with the same
	// configuration (custody.VerifyOptions).
	Origin  string
	Witness store.Store
}

// LoadFunc loads the configuration and builds a Setup. Its error should
// join one error per problem (config.Load's do).
type LoadFunc func(ctx context.Context) (*Setup, error)

// Options configure a Daemon.
type Options struct {
	Load    LoadFunc
	Logger  *slog.Logger
	Metrics *metrics.Metrics // nil: none
	// Now is the clock that decides which windows are complete (default
	// time.Now).
	Now func() time.Time
	// Holder identifies this replica in leases (default host/pid/random).
	Holder string
	// VerifyEvery, when positive, verifies every stream's chain this often
	// (a fast verify) and reports the problems in the metrics.
	VerifyEvery time.Duration
	// StopTimeout bounds the wait for cancelled exports to return after the
	// grace period (default 45s: an upload abort has 30s).
	StopTimeout time.Duration
	// NothingDue, when set, is called by a tick of a stream that had no
	// complete window to archive, with the end of its next window (so
	// run --once can say when to come back). Ticks of different streams
	// may call it at once.
	NothingDue func(stream string, nextEnd time.Time)
}

// Daemon schedules the streams of a configuration.
type Daemon struct {
	o      Options
	log    *slog.Logger
	m      *metrics.Metrics
	holder string

	mu     sync.Mutex
	setup  *Setup
	leases *lease.Manager
	locks  map[string]*sync.Mutex // one per stream name, across reloads

	jobs     *tracker
	stopping atomic.Bool

	readyMu  sync.Mutex
	readyAt  time.Time
	readyErr error
}

// ErrShutdown is the cause of the cancellation of exports still running
// when the grace period ends.
var ErrShutdown = errors.New("shutdown: grace period over")

// New loads the configuration with o.Load and returns a daemon. The error
// is the configuration's (every problem joined).
func New(ctx context.Context, o Options) (*Daemon, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 45 * time.Second
	}
	d := &Daemon{o: o, log: o.Logger, m: o.Metrics, holder: o.Holder, locks: map[string]*sync.Mutex{}, jobs: newTracker()}
	if d.holder == "" {
		d.holder = defaultHolder()
	}
	s, err := o.Load(ctx)
	if err != nil {
		return nil, err
	}
	d.install(s)
	d.m.Reloaded(true, time.Now())
	return d, nil
}

func defaultHolder() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Holder returns the name this replica takes leases under.
func (d *Daemon) Holder() string { return d.holder }

func (d *Daemon) now() time.Time {
	if d.o.Now != nil {
		return d.o.Now().UTC()
	}
	return time.Now().UTC()
}

func (d *Daemon) install(s *Setup) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setup = s
	d.leases = &lease.Manager{Store: s.Store, Holder: d.holder, TTL: s.LeaseTTL, Now: d.o.Now, PutOptions: leasePutOptions(s)}
	for _, st := range s.Streams {
		if d.locks[st.Name] == nil {
			d.locks[st.Name] = &sync.Mutex{}
		}
		d.m.StreamSeen(st.Name)
	}
	d.readyMu.Lock()
	d.readyAt = time.Time{}
	d.readyMu.Unlock()
}

// leasePutOptions returns the encryption of s's lease objects, or nil.
func leasePutOptions(s *Setup) func(name, key, token string) store.PutOptions {
	enc := s.LeaseEncryption
	if enc == nil {
		return nil
	}
	where := s.Store.Describe()
	return func(name, key, token string) store.PutOptions {
		return store.PutOptions{SSE: &store.SSE{Algorithm: "aws:kms", KMSKeyID: enc.KMSKeyID,
			Context: enc.ContextFor(name, token, key, where)}}
	}
}

func (d *Daemon) current() (*Setup, *lease.Manager) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.setup, d.leases
}

func (d *Daemon) streamLock(name string) *sync.Mutex {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.locks[name]
}

// Problems splits an error into its problems: the errors it joins, or its
// lines.
func Problems(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, Problems(e)...)
		}
		return out
	}
	return strings.Split(err.Error(), "\n")
}

// Reload loads the configuration again. On success the new one is used
// from the next tick on (running exports finish with the old one) and it
// returns true; otherwise every problem is logged and the old one kept.
func (d *Daemon) Reload(ctx context.Context) (*Setup, bool) {
	s, err := d.o.Load(ctx)
	if err != nil {
		d.m.Reloaded(false, time.Now())
		d.log.Error("configuration not reloaded; keeping the previous one", "problems", Problems(err))
		return nil, false
	}
	d.install(s)
	d.m.Reloaded(true, time.Now())
	d.log.Info("configuration reloaded", "streams", streamNames(s))
	return s, true
}

func streamNames(s *Setup) []string {
	names := make([]string, len(s.Streams))
	for i, st := range s.Streams {
		names[i] = st.Name
	}
	return names
}

// Ready reports whether a configuration is loaded and its store answers.
// The answer is kept for five seconds.
func (d *Daemon) Ready(ctx context.Context) error {
	s, _ := d.current()
	if s == nil {
		return errors.New("no configuration loaded")
	}
	d.readyMu.Lock()
	defer d.readyMu.Unlock()
	if !d.readyAt.IsZero() && time.Since(d.readyAt) < 5*time.Second {
		return d.readyErr
	}
	_, err := s.Store.Head(ctx, lease.Prefix+"readyz", store.GetOptions{})
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("store %s not reachable: %w", s.Store.Describe(), err)
	}
	d.readyAt, d.readyErr = time.Now(), err
	return err
}

// RunOnce runs one tick of every stream, one after the other, with the
// code the schedule uses, and returns every stream's error joined. A
// stream whose lease another replica holds is not run: its error wraps
// lease.ErrHeld, so a one-off run never reports success having archived
// nothing.
func (d *Daemon) RunOnce(ctx context.Context) error {
	s, leases := d.current()
	var errs []error
	for _, st := range s.Streams {
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("stream %s: %w", st.Name, context.Cause(ctx)))
			continue
		}
		if err := d.runTick(ctx, s, leases, st); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run schedules the streams until ctx is cancelled, then shuts down
// gracefully (see the package documentation); each value on reload loads
// the configuration again. It returns nil after a clean stop, and an error
// when no stream has a schedule or when cancelled exports did not return
// within StopTimeout.
func (d *Daemon) Run(ctx context.Context, reload <-chan struct{}) error {
	s, leases := d.current()
	if !scheduled(s) {
		return errors.New("no stream has a schedule: set streams[].schedule, or use --once")
	}
	// Exports close over a root context of their own: the signal that ends
	// ctx must not cancel them before the grace period is over.
	root, cancelRoot := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelRoot(nil)
	c := d.schedule(root, s, leases)
	verifyCtx, stopVerify := context.WithCancel(root)
	defer stopVerify()
	if d.o.VerifyEvery > 0 {
		go d.verifyLoop(verifyCtx)
	}
	d.log.Info("daemon started", "holder", d.holder, "streams", streamNames(s), "grace_period", s.GracePeriod.String(), "lease_ttl", s.LeaseTTL.String())
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-reload:
			ns, ok := d.Reload(ctx)
			if !ok {
				continue
			}
			if !scheduled(ns) {
				d.log.Warn("the new configuration schedules no stream: nothing will run until the next reload")
			}
			_, nl := d.current()
			old := c
			c = d.schedule(root, ns, nl)
			old.Stop() // running jobs of the old configuration go on
		}
	}

	d.stopping.Store(true)
	c.Stop()
	stopVerify()
	s, _ = d.current()
	idle, running := d.jobs.close()
	d.log.Info("shutting down: scheduling stopped", "running", running, "grace_period", s.GracePeriod.String())
	grace := time.NewTimer(s.GracePeriod)
	defer grace.Stop()
	select {
	case <-idle:
		d.log.Info("shut down cleanly")
		return nil
	case <-grace.C:
	}
	d.log.Warn("grace period over: cancelling running exports (they abort their uploads and write no manifest)")
	cancelRoot(ErrShutdown)
	select {
	case <-idle:
		d.log.Info("shut down cleanly after cancelling running exports")
		return nil
	case <-time.After(d.o.StopTimeout):
		return fmt.Errorf("cancelled exports did not return within %s", d.o.StopTimeout)
	}
}

func scheduled(s *Setup) bool {
	for _, st := range s.Streams {
		if st.Schedule != nil {
			return true
		}
	}
	return false
}

// schedule starts a cron with one entry per scheduled stream of s.
func (d *Daemon) schedule(root context.Context, s *Setup, leases *lease.Manager) *cron.Cron {
	c := cron.New(cron.WithLocation(time.UTC))
	for _, st := range s.Streams {
		if st.Schedule == nil {
			d.log.Info("stream has no schedule: not scheduled", "stream", st.Name)
			continue
		}
		c.Schedule(st.Schedule, cron.FuncJob(func() {
			if err := d.runTick(root, s, leases, st); err != nil && !errors.Is(err, lease.ErrHeld) {
				attrs := []any{"stream", st.Name, "err", err.Error()}
				var re *export.RunError
				if errors.As(err, &re) {
					attrs = append(attrs, "run_id", re.RunID, "sequence", re.Sequence)
				}
				d.log.Error("tick failed; the window is retried at the next tick", attrs...)
			}
		}))
		d.log.Info("stream scheduled", "stream", st.Name, "schedule", st.Spec, "window", st.Window.String())
	}
	c.Start()
	return c
}

// runTick wraps tick the way cron.Recover and cron.SkipIfStillRunning
// would: no tick during shutdown, no second tick of a stream while one
// runs, and a panic becomes an error (logged with its stack, counted).
func (d *Daemon) runTick(ctx context.Context, s *Setup, leases *lease.Manager, st Stream) (err error) {
	log := d.log.With("stream", st.Name)
	if !d.jobs.start() {
		d.m.Skipped(st.Name, metrics.SkipShutdown)
		return nil
	}
	defer d.jobs.done()
	mu := d.streamLock(st.Name)
	if !mu.TryLock() {
		d.m.Skipped(st.Name, metrics.SkipStillRunning)
		log.Info("tick skipped: the previous tick of the stream is still running")
		return nil
	}
	defer mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			d.m.Panic(st.Name)
			log.Error("panic recovered in a tick", "panic", fmt.Sprint(r), "stack", string(debugStack()))
			err = fmt.Errorf("stream %s: panic: %v", st.Name, r)
		}
	}()
	return d.tick(ctx, s, leases, st, log)
}
