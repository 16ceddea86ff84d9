package lease_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/service/lease"
)

// clock is a fake clock shared by managers, as if their hosts agreed.
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

func newFS(t *testing.T) store.Store {
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func managers(st store.Store, c *clock, n int) []*lease.Manager {
	ms := make([]*lease.Manager, n)
	for i := range ms {
		ms[i] = &lease.Manager{Store: st, Holder: fmt.Sprintf("replica-%d", i), TTL: time.Minute, Now: c.Now}
	}
	return ms
}

func TestAcquireRenewExpireTakeOver(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	ms := managers(newFS(t), c, 2)
	a, b := ms[0], ms[1]

	la, err := a.Acquire(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Acquire(ctx, "edge")
	var held *lease.HeldError
	if !errors.As(err, &held) || held.Holder != "replica-0" || !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("second holder: want HeldError by replica-0, got %v", err)
	}
	// Renewals keep it.
	c.Add(40 * time.Second)
	if err := la.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	c.Add(40 * time.Second)
	if _, err := b.Acquire(ctx, "edge"); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("after a renewal the lease is still held: got %v", err)
	}
	// The holder dies: once the lease has expired, b takes it over.
	c.Add(21 * time.Second)
	lb, err := b.Acquire(ctx, "edge")
	if err != nil {
		t.Fatalf("take over an expired lease: %v", err)
	}
	// The old holder finds out at its next renewal.
	if err := la.Renew(ctx); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("renewal by the old holder: want ErrLost, got %v", err)
	}
	// Release lets the other replica in at once.
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Acquire(ctx, "edge"); err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	// A released-then-lost lease's release is not an error.
	if err := lb.Release(ctx); err != nil {
		t.Fatalf("release of a lost lease: %v", err)
	}
	// Other names are independent.
	if _, err := b.Acquire(ctx, "audit"); err != nil {
		t.Fatal(err)
	}
}

func TestRenewAfterExpiryIsLost(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	m := managers(newFS(t), c, 1)[0]
	l, err := m.Acquire(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	if err := l.Renew(ctx); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("renew after expiry: want ErrLost, got %v", err)
	}
}

func TestCorruptLeaseIsTakenOver(t *testing.T) {
	ctx := context.Background()
	st := newFS(t)
	if _, err := st.Put(ctx, lease.Key("edge"), strings.NewReader("{not json"), store.PutOptions{Size: 9}); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now()}
	l, err := managers(st, c, 1)[0].Acquire(ctx, "edge")
	if err != nil {
		t.Fatalf("acquire over a corrupt lease object: %v", err)
	}
	if to := l.Takeover(); to == nil || to.Reason != lease.TakeoverUnreadable {
		t.Fatalf("takeover of a corrupt lease: %+v", to)
	}
}

// writeRecord stores a lease record as another holder (or an intruder)
// would have written it.
func writeRecord(t *testing.T, st store.Store, name string, r lease.Record) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(context.Background(), lease.Key(name), bytes.NewReader(b), store.PutOptions{Size: int64(len(b))}); err != nil {
		t.Fatal(err)
	}
}

// TestExpiryTooFarIsTakenOver: a lease whose expiry lies further ahead
// than the TTL (and the tolerated drift, a tenth of it) allows is invalid
// and taken over; one within the bound is respected.
func TestExpiryTooFarIsTakenOver(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		expires  time.Time
		released bool
		want     string // takeover reason, "" for none, "held" for ErrHeld
	}{
		{"2099", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), false, lease.TakeoverExpiryTooFar},
		{"just past TTL and drift", now.Add(time.Minute + 6*time.Second + time.Millisecond), false, lease.TakeoverExpiryTooFar},
		{"TTL and drift exactly", now.Add(time.Minute + 6*time.Second), false, "held"},
		{"a fresh lease", now.Add(time.Minute), false, "held"},
		{"expired", now.Add(-time.Second), false, ""},
		{"released, any expiry", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newFS(t)
			writeRecord(t, st, "edge", lease.Record{Schema: lease.Schema, Name: "edge", Holder: "intruder",
				Token: "t", Acquired: now, Renewed: now, Expires: tc.expires, Released: tc.released})
			m := managers(st, &clock{t: now}, 1)[0]
			l, err := m.Acquire(context.Background(), "edge")
			if tc.want == "held" {
				var held *lease.HeldError
				if !errors.As(err, &held) || held.Holder != "intruder" || !held.Expires.Equal(tc.expires) {
					t.Fatalf("acquire: %v, want held by intruder until %s", err, tc.expires)
				}
				return
			}
			if err != nil {
				t.Fatalf("acquire: %v", err)
			}
			to := l.Takeover()
			switch {
			case tc.want == "" && to != nil:
				t.Fatalf("takeover %+v of a free lease", to)
			case tc.want != "" && (to == nil || to.Reason != tc.want || to.Previous.Holder != "intruder" || !to.Previous.Expires.Equal(tc.expires)):
				t.Fatalf("takeover %+v, want %s of intruder's lease", to, tc.want)
			}
			if got := l.Record(); got.Holder != "replica-0" || !got.Expires.Equal(now.Add(time.Minute)) {
				t.Fatalf("lease after acquire: %+v", got)
			}
		})
	}
}

// raceAcquire has n managers acquire one lease at once and returns how
// many got it.
func raceAcquire(t *testing.T, st store.Store, n int) int {
	t.Helper()
	c := &clock{t: time.Now()}
	ms := managers(st, c, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i, m := range ms {
		wg.Go(func() {
			<-start
			_, errs[i] = m.Acquire(context.Background(), "edge")
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, lease.ErrHeld):
		default:
			t.Fatalf("manager %d: %v", i, err)
		}
	}
	return won
}

func TestAcquireRaceFS(t *testing.T) {
	st := newFS(t)
	if won := raceAcquire(t, st, 8); won != 1 {
		t.Fatalf("%d of 8 racing creators got the lease, want 1", won)
	}
	// And again over an expired lease: a race of conditional replaces.
	c := &clock{t: time.Now().Add(2 * time.Minute)}
	ms := managers(st, c, 8)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for _, m := range ms {
		wg.Go(func() {
			if _, err := m.Acquire(context.Background(), "edge"); err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d of 8 racing replacers got the expired lease, want 1", won)
	}
}

func TestAcquireRaceS3(t *testing.T) {
	env := testenv.S3(t)
	st, err := s3store.New(context.Background(), s3store.Options{Bucket: env.NewBucket(t, true), Prefix: "p", PathStyle: true, Client: env.Client()})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		if round > 0 {
			// Release whatever is there so the next round races replaces.
			releaseAll(t, st)
		}
		if won := raceAcquire(t, st, 8); won != 1 {
			t.Fatalf("round %d: %d of 8 racing holders got the lease, want 1", round, won)
		}
	}
}

// releaseAll takes the lease over with a clock past any expiry and
// releases it.
func releaseAll(t *testing.T, st store.Store) {
	t.Helper()
	m := &lease.Manager{Store: st, Holder: "janitor", TTL: time.Minute, Now: func() time.Time { return time.Now().Add(time.Hour) }}
	l, err := m.Acquire(context.Background(), "edge")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// failingStore fails every Put while fail is set.
type failingStore struct {
	store.Store
	mu   sync.Mutex
	fail bool
}

func (f *failingStore) set(v bool) { f.mu.Lock(); f.fail = v; f.mu.Unlock() }
func (f *failingStore) Put(ctx context.Context, key string, r io.Reader, opts store.PutOptions) (store.ObjectInfo, error) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return store.ObjectInfo{}, errors.New("store unavailable")
	}
	return f.Store.Put(ctx, key, r, opts)
}

func TestHoldCancelsWhenLost(t *testing.T) {
	ctx := context.Background()
	st := newFS(t)
	// A TTL of 4s: renewals every 1.3s, and the watchdog gives up only when
	// none succeeded for 3.6s, enough for fsyncs on a loaded machine (300ms
	// and 1s were not: the test failed under a load average of 20).
	const ttl = 4 * time.Second
	a := &lease.Manager{Store: st, Holder: "a", TTL: ttl}
	b := &lease.Manager{Store: st, Holder: "b", TTL: ttl, Now: func() time.Time { return time.Now().Add(time.Hour) }}
	l, err := a.Acquire(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	held, stop := l.Hold(ctx)
	defer stop()
	// Held past its TTL thanks to renewals.
	select {
	case <-held.Done():
		t.Fatalf("lease lost while renewed: %v", context.Cause(held))
	case <-time.After(ttl + time.Second):
	}
	// b (whose clock runs an hour ahead) takes it over: a must notice.
	if _, err := b.Acquire(ctx, "edge"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held.Done():
		if !errors.Is(context.Cause(held), lease.ErrLost) {
			t.Fatalf("cause %v, want ErrLost", context.Cause(held))
		}
	case <-time.After(ttl):
		t.Fatal("holder did not notice that its lease was taken over")
	}
}

func TestHoldGivesUpWhenStoreFails(t *testing.T) {
	ctx := context.Background()
	st := &failingStore{Store: newFS(t)}
	m := &lease.Manager{Store: st, Holder: "a", TTL: 2 * time.Second}
	l, err := m.Acquire(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	held, stop := l.Hold(ctx)
	defer stop()
	st.set(true)
	start := time.Now()
	select {
	case <-held.Done():
		if !errors.Is(context.Cause(held), lease.ErrLost) {
			t.Fatalf("cause %v, want ErrLost", context.Cause(held))
		}
		if d := time.Since(start); d >= 2*time.Second {
			t.Fatalf("gave up after %v: later than the lease's expiry", d)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("holder kept working although it could not renew")
	}
}
