package custody_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/memstore"
)

// holdObjects lists every JSON object under _holds/ with its size.
func holdObjects(t *testing.T, st store.Store) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := st.List(context.Background(), custody.HoldsPrefix, func(oi store.ObjectInfo) error {
		out[oi.Key] = oi.Size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A matter whose versions do not fit in its record is written as a record
// and chunks, none over the bound; it reads, lists, re-places and releases
// as a whole record does; a missing chunk makes the record unreadable, not
// missing.
func TestHoldRecordInChunks(t *testing.T) {
	const bound = 4096
	defer custody.SetHoldChunkBytes(bound)()
	ctx := context.Background()
	f := newFixture(t, 6, 50)
	st := f.st
	now := func() time.Time { return t0.Add(24 * time.Hour) }
	opts := custody.HoldOptions{Matter: "M-big", Reason: "letter", Actor: "alice", PublicKey: f.signer.Public(), Now: now}
	res, err := custody.PlaceHold(ctx, st, "s", opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.ObjectsHeld != 300 || res.ManifestsHeld != 6 {
		t.Fatalf("placed %+v, want 300 objects and 6 manifests", res)
	}
	objs := holdObjects(t, st)
	chunks := 0
	for k, size := range objs {
		if size > bound {
			t.Errorf("%s is %d bytes, over %d", k, size, bound)
		}
		if strings.HasPrefix(k, custody.HoldsPrefix+"M-big/versions-") {
			chunks++
		}
	}
	if chunks < 2 || len(objs) != chunks+1 {
		t.Fatalf("%d chunks among %v", chunks, objs)
	}
	for _, m := range f.ms {
		for _, o := range m.Objects {
			if on, err := st.LegalHold(ctx, o.Key, o.VersionID); err != nil || !on {
				t.Fatalf("%s not held: %v", o.Key, err)
			}
		}
	}
	holds, err := custody.ListHolds(ctx, st)
	if err != nil || len(holds) != 1 || len(holds[0].Objects) != 300 || len(holds[0].Manifests) != 12 {
		t.Fatalf("list: %d holds, %v", len(holds), err)
	}
	// Placing again writes nothing new.
	if res, err := custody.PlaceHold(ctx, st, "s", opts); err != nil || res.ObjectsHeld != 300 {
		t.Fatalf("placed again: %+v, %v", res, err)
	}
	if again := holdObjects(t, st); len(again) != len(objs) {
		t.Fatalf("placing again wrote %d objects, had %d", len(again), len(objs))
	}
	// A second matter, small enough to be whole, over the same range.
	restore := custody.SetHoldChunkBytes(8 << 20)
	o2 := opts
	o2.Matter = "M-small"
	if _, err := custody.PlaceHold(ctx, st, "s", o2); err != nil {
		t.Fatal(err)
	}
	restore()
	if _, ok := holdObjects(t, st)[custody.HoldsPrefix+"M-small/"]; ok || len(holdObjects(t, st)) != len(objs)+1 {
		t.Fatalf("the small matter was chunked: %v", holdObjects(t, st))
	}
	rel, err := custody.ReleaseHold(ctx, st, "M-big", "done", "bob", now(), nil)
	if err != nil || rel.Released != 0 || rel.StillHeld != 312 {
		t.Fatalf("release of M-big while M-small holds the same: %+v, %v", rel, err)
	}
	// The released record is still in chunks, and reads whole.
	holds, err = custody.ListHolds(ctx, st)
	if err != nil || len(holds) != 2 || holds[0].Matter != "M-big" || holds[0].ReleasedAt == nil || len(holds[0].Objects) != 300 {
		t.Fatalf("after release: %v", err)
	}
	for k, size := range holdObjects(t, st) {
		if size > bound && !strings.HasPrefix(k, custody.HoldsPrefix+"M-small") {
			t.Errorf("%s is %d bytes after release", k, size)
		}
	}
	rel, err = custody.ReleaseHold(ctx, st, "M-small", "done", "bob", now(), nil)
	if err != nil || rel.Released != 312 {
		t.Fatalf("release of M-small: %+v, %v", rel, err)
	}
	// A lost chunk: the record is unreadable (not unknown), and placing
	// the matter again does not start a new one.
	for k := range holdObjects(t, st) {
		if strings.HasPrefix(k, custody.HoldsPrefix+"M-big/") {
			if err := st.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if _, err := custody.ListHolds(ctx, st); !errors.Is(err, store.ErrUnreadable) || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("list with a chunk gone: %v", err)
	}
	if _, err := custody.PlaceHold(ctx, st, "s", opts); !errors.Is(err, store.ErrUnreadable) {
		t.Fatalf("place with a chunk gone: %v", err)
	}
}

// A chunk that is not what its record names (garbage, another matter's,
// one outside the matter's folder, one with data after it) makes that
// record unreadable, and the other matters still list.
func TestHoldChunkHostile(t *testing.T) {
	defer custody.SetHoldChunkBytes(4096)()
	ctx := context.Background()
	for name, tamper := range map[string]func(st *memstore.Store, chunk string, rec []byte){
		"garbage": func(st *memstore.Store, chunk string, _ []byte) { st.PutRaw(chunk, []byte("{not json")) },
		"another matter's": func(st *memstore.Store, chunk string, _ []byte) {
			st.PutRaw(chunk, []byte(`{"schema":"logkeeper.hold-versions/v1","matter":"M-other","objects":[],"manifests":[]}`))
		},
		"data after it": func(st *memstore.Store, chunk string, _ []byte) {
			st.PutRaw(chunk, []byte(`{"schema":"logkeeper.hold-versions/v1","matter":"M-big","objects":[],"manifests":[]} {}`))
		},
		"outside the matter's folder": func(st *memstore.Store, chunk string, rec []byte) {
			st.PutRaw(custody.HoldKey("M-big"), []byte(strings.Replace(string(rec), chunk, "s/manifests/00000000000000000001.json", 1)))
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, 3, 30)
			now := func() time.Time { return t0.Add(24 * time.Hour) }
			for _, m := range []string{"M-big", "M-fine"} {
				if _, err := custody.PlaceHold(ctx, f.st, "s", custody.HoldOptions{Matter: m, PublicKey: f.signer.Public(), Now: now}); err != nil {
					t.Fatal(err)
				}
			}
			var chunk string
			for k := range holdObjects(t, f.st) {
				if strings.HasPrefix(k, custody.HoldsPrefix+"M-big/") {
					chunk = k
				}
			}
			rc, _, err := f.st.Get(ctx, custody.HoldKey("M-big"), store.GetOptions{})
			if err != nil || chunk == "" {
				t.Fatalf("no chunk (%q) or record: %v", chunk, err)
			}
			rec := make([]byte, 64<<10)
			n, _ := io.ReadFull(rc, rec)
			rc.Close()
			tamper(f.st, chunk, rec[:n])
			holds, err := custody.ListHolds(ctx, f.st)
			if !errors.Is(err, store.ErrUnreadable) || len(holds) != 1 || holds[0].Matter != "M-fine" || len(holds[0].Objects) != 90 {
				t.Fatalf("list: %d holds, %v", len(holds), err)
			}
			if _, err := custody.ReleaseHold(ctx, f.st, "M-big", "r", "a", now(), nil); !errors.Is(err, store.ErrUnreadable) {
				t.Fatalf("release of the tampered matter: %v", err)
			}
		})
	}
}
