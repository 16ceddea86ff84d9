package lease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/logkeeper/logkeeper/internal/store"
)

// Schema is the value of Record.Schema.
const Schema = "logkeeper.lease/v1"

// Prefix is the folder of lease objects in the store.
const Prefix = "_leases/"

// Key returns the store key of the lease called name. Stream names never
// start with "_", so no stream's keys can collide with it.
func Key(name string) string { return Prefix + name + ".json" }

// ErrHeld is wrapped by *HeldError: another holder has the lease.
var ErrHeld = errors.New("lease held by another holder")

// ErrLost means a holder no longer has its lease: another holder replaced
// it, or it could not be renewed before it expired. Work done under the
// lease must stop.
var ErrLost = errors.New("lease lost")

// HeldError says who holds a lease and until when.
type HeldError struct {
	Name    string
	Holder  string
	Expires time.Time
}

func (e *HeldError) Error() string {
	if e.Holder == "" {
		return fmt.Sprintf("lease %s: %v (taken at the same moment)", e.Name, ErrHeld)
	}
	return fmt.Sprintf("lease %s: %v %s until %s", e.Name, ErrHeld, e.Holder, e.Expires.Format(time.RFC3339))
}

func (e *HeldError) Unwrap() error { return ErrHeld }

// Record is the content of a lease object.
type Record struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// Holder names the process that holds (or last held) the lease.
	Holder string `json:"holder"`
	// Token is unique to one acquisition, so that every write of the
	// object has new content (S3 ETags are content hashes).
	Token    string    `json:"token"`
	Acquired time.Time `json:"acquired"`
	Renewed  time.Time `json:"renewed"`
	Expires  time.Time `json:"expires"`
	// Released is set when the holder gave the lease up before it expired.
	Released bool `json:"released,omitempty"`
}

// free reports whether the lease may be taken at now by holder.
func (r *Record) free(now time.Time, holder string) bool {
	return r.Released || r.Holder == holder || !now.Before(r.Expires)
}

// Reasons a lease that was not free was taken over (Takeover.Reason).
const (
	// TakeoverExpiryTooFar: the record's expiry lies further ahead than
	// the TTL (plus the clock drift a lease tolerates) allows. No holder
	// writes that; a record edited by hand, or by a replica configured with
	// a longer lease_ttl, would otherwise stop the stream until then.
	TakeoverExpiryTooFar = "expiry_too_far"
	// TakeoverUnreadable: the lease object is not a lease record.
	TakeoverUnreadable = "unreadable"
)

// Takeover describes an invalid lease that Acquire replaced.
type Takeover struct {
	Name   string
	Reason string
	// Previous is the record replaced (zero when it was unreadable).
	Previous Record
}

// Manager takes leases in one store for one holder. Its fields must not
// change once it is in use; it is safe for concurrent use.
type Manager struct {
	Store store.Store
	// Holder identifies this process, e.g. host/pid/random. Two processes
	// must never share it.
	Holder string
	// TTL is how long a lease lasts without renewal.
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// PutOptions, when not nil, gives the options (encryption) for writing
	// the object at key of the lease called name; Size, ContentType and
	// the conditions are set by the Manager.
	PutOptions func(name, key, token string) store.PutOptions
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

// margin is how long before its written expiry a holder gives a lease up,
// and so the clock drift between holders that leases tolerate.
func (m *Manager) margin() time.Duration { return m.TTL / 10 }

// tooFar reports whether r's expiry lies further ahead of now than a
// holder with this TTL can have written.
func (m *Manager) tooFar(r *Record, now time.Time) bool {
	return !r.Released && r.Expires.Sub(now) > m.TTL+m.margin()
}

// Lease is a lease held by this process.
type Lease struct {
	m    *Manager
	name string
	key  string
	mu   sync.Mutex
	rec  Record
	etag string
	// takeover is set when Acquire replaced an invalid lease.
	takeover *Takeover
}

// Acquire takes the lease called name. It returns a *HeldError (wrapping
// ErrHeld) when another holder has it; any other error comes from the
// store and may be transient. A lease object that is not a valid lease (an
// expiry further ahead than the TTL allows, content that is not a lease
// record) is taken over: Lease.Takeover then says what was replaced, for
// the caller to report.
func (m *Manager) Acquire(ctx context.Context, name string) (*Lease, error) {
	if m.TTL <= 0 {
		return nil, fmt.Errorf("lease %s: TTL %s must be positive", name, m.TTL)
	}
	key := Key(name)
	cur, etag, err := m.read(ctx, key)
	var takeover *Takeover
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("lease %s: %w", name, err)
	case cur == nil:
		takeover = &Takeover{Name: name, Reason: TakeoverUnreadable}
	case m.tooFar(cur, m.now()):
		takeover = &Takeover{Name: name, Reason: TakeoverExpiryTooFar, Previous: *cur}
	case !cur.free(m.now(), m.Holder):
		return nil, &HeldError{Name: name, Holder: cur.Holder, Expires: cur.Expires}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("lease %s: token: %w", name, err)
	}
	now := m.now()
	l := &Lease{m: m, name: name, key: key, rec: Record{
		Schema: Schema, Name: name, Holder: m.Holder, Token: id.String(),
		Acquired: now, Renewed: now, Expires: now.Add(m.TTL),
	}}
	newTag, err := l.write(ctx, l.rec, etag)
	if errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrPreconditionFailed) {
		return nil, &HeldError{Name: name}
	}
	if err != nil {
		return nil, fmt.Errorf("lease %s: %w", name, err)
	}
	l.etag, l.takeover = newTag, takeover
	return l, nil
}

// Takeover returns what Acquire replaced when it took over an invalid
// lease, or nil.
func (l *Lease) Takeover() *Takeover { return l.takeover }

// read returns the lease object's record and ETag. A record that does not
// parse is returned as nil with its ETag: it can be taken over.
func (m *Manager) read(ctx context.Context, key string) (*Record, string, error) {
	rc, info, err := m.Store.Get(ctx, key, store.GetOptions{})
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", key, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil || r.Schema != Schema {
		return nil, info.ETag, nil
	}
	return &r, info.ETag, nil
}

// write stores rec: a conditional create when etag is empty, otherwise a
// conditional replace of that ETag. It returns the new ETag.
func (l *Lease) write(ctx context.Context, rec Record, etag string) (string, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	var opts store.PutOptions
	if l.m.PutOptions != nil {
		opts = l.m.PutOptions(l.name, l.key, rec.Token)
	}
	opts.Size = int64(len(b))
	opts.ContentType = "application/json"
	opts.IfNotExists = etag == ""
	opts.IfMatch = etag
	opts.Retention = nil // never lock a lease: it is rewritten all the time
	info, err := l.m.Store.Put(ctx, l.key, bytes.NewReader(b), opts)
	if err != nil {
		return "", err
	}
	return info.ETag, nil
}

// Name returns the lease's name.
func (l *Lease) Name() string { return l.name }

// Record returns the lease as last written.
func (l *Lease) Record() Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rec
}

// Renew extends the lease by the TTL. It returns an error wrapping ErrLost
// when another holder has replaced the lease, or when the lease had
// already expired by the time the renewal was sent; other errors come from
// the store and may be retried until the lease expires.
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.m.now()
	if !now.Before(l.rec.Expires) {
		return fmt.Errorf("lease %s: %w: expired at %s", l.name, ErrLost, l.rec.Expires.Format(time.RFC3339Nano))
	}
	rec := l.rec
	rec.Renewed, rec.Expires = now, now.Add(l.m.TTL)
	etag, err := l.write(ctx, rec, l.etag)
	if errors.Is(err, store.ErrPreconditionFailed) {
		return fmt.Errorf("lease %s: %w: replaced by another holder", l.name, ErrLost)
	}
	if err != nil {
		return fmt.Errorf("lease %s: renew: %w", l.name, err)
	}
	l.rec, l.etag = rec, etag
	return nil
}

// Release gives the lease up, so another holder need not wait for it to
// expire. Releasing a lease that was lost is not an error.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	rec := l.rec
	rec.Released, rec.Expires = true, l.m.now()
	etag, err := l.write(ctx, rec, l.etag)
	if errors.Is(err, store.ErrPreconditionFailed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lease %s: release: %w", l.name, err)
	}
	l.rec, l.etag = rec, etag
	return nil
}

// Hold renews the lease in the background, every third of the TTL, until
// stop is called. The returned context is cancelled, with a cause wrapping
// ErrLost, as soon as a renewal finds the lease replaced, or when a tenth
// of the TTL before the lease expires it has not been renewed (a watchdog
// timer, so a renewal stuck in a slow store cannot hold it up). Work under
// the lease must use that context. stop waits for the renewals to end.
func (l *Lease) Hold(ctx context.Context) (held context.Context, stop func()) {
	held, cancel := context.WithCancelCause(ctx)
	deadline := func() time.Duration { return l.Record().Expires.Add(-l.m.margin()).Sub(l.m.now()) }
	watchdog := time.AfterFunc(deadline(), func() {
		cancel(fmt.Errorf("lease %s: %w: not renewed before it expires", l.name, ErrLost))
	})
	quit := make(chan struct{})
	done := make(chan struct{})
	interval := l.m.TTL / 3
	go func() {
		defer close(done)
		wait := interval
		for {
			t := time.NewTimer(wait)
			select {
			case <-quit:
				t.Stop()
				return
			case <-held.Done():
				t.Stop()
				return
			case <-t.C:
			}
			err := l.Renew(held)
			switch {
			case err == nil:
				if !watchdog.Stop() {
					return // it fired while the renewal was under way
				}
				watchdog.Reset(deadline())
				wait = interval
			case errors.Is(err, ErrLost):
				cancel(err)
				return
			default:
				// A transient store error: try again soon; the watchdog
				// gives the lease up in time if this goes on.
				wait = min(interval, max(deadline()/2, 10*time.Millisecond))
			}
		}
	}()
	return held, func() {
		close(quit)
		<-done
		watchdog.Stop()
		cancel(nil)
	}
}
