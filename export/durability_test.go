package export_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// syncRecorder is a store that records its Puts and Syncs in order, and
// fails its Syncs when told to.
type syncRecorder struct {
	store.Store
	mu      sync.Mutex
	events  []string
	failing bool
}

func (r *syncRecorder) Put(ctx context.Context, key string, rd io.Reader, opts store.PutOptions) (store.ObjectInfo, error) {
	info, err := r.Store.Put(ctx, key, rd, opts)
	if err == nil {
		r.mu.Lock()
		r.events = append(r.events, fmt.Sprintf("put deferred=%v %s", opts.Deferred, key))
		r.mu.Unlock()
	}
	return info, err
}

func (r *syncRecorder) Sync(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return errors.New("sync failed on purpose")
	}
	r.events = append(r.events, "sync")
	return store.Sync(ctx, r.Store)
}

// checkOrder checks that every object was put Deferred, every manifest
// not, and that each object a manifest lists was put before a Sync that
// came before the manifest; it returns the number of manifests.
func (r *syncRecorder) checkOrder(t *testing.T, e *env) int {
	t.Helper()
	putAt := map[string]int{} // object key: event index
	lastSync, manifests := -1, 0
	for i, ev := range r.events {
		if ev == "sync" {
			lastSync = i
			continue
		}
		deferred, key, _ := strings.Cut(strings.TrimPrefix(ev, "put deferred="), " ")
		switch {
		case strings.Contains(key, "/objects/"):
			if deferred != "true" {
				t.Errorf("object not put Deferred: %s", ev)
			}
			putAt[key] = i
		case strings.Contains(key, "/manifests/") && strings.HasSuffix(key, ".json"):
			if deferred != "false" {
				t.Errorf("manifest put Deferred: %s", ev)
			}
			manifests++
			m := readManifest(t, e, uint64(manifests), manifest.MaxBytes)
			for _, o := range m.Objects {
				if at, ok := putAt[o.Key]; !ok || at > lastSync {
					t.Errorf("manifest %s lists %s, not synced before it", key, o.Key)
				}
			}
		}
	}
	return manifests
}

// The export puts its objects Deferred and makes them durable (store.Sync)
// before each manifest that lists them: in a run held in memory and in a
// streaming run of several parts.
func TestObjectsDurableBeforeManifest(t *testing.T) {
	for _, streaming := range []bool{false, true} {
		t.Run(fmt.Sprintf("streaming=%v", streaming), func(t *testing.T) {
			e := newEnv(t)
			rec := &syncRecorder{Store: e.st}
			e.st = rec
			for i := range 40 {
				writeFile(t, e.path(fmt.Sprintf("d%d/f%02d.log", i%3, i)), fmt.Sprintf("line %d\n", i))
			}
			var res *export.Result
			var err error
			if streaming {
				res, err = e.streamRun(t.TempDir(), 6<<10)
			} else {
				res, err = e.run()
			}
			if err != nil || res.Files != 40 {
				t.Fatalf("run: %+v, %v", res, err)
			}
			n := rec.checkOrder(t, e)
			if streaming && n < 2 || n != res.Parts {
				t.Fatalf("%d manifests for %d parts", n, res.Parts)
			}
			if kinds := e.verify(); len(kinds) != 0 {
				t.Fatalf("verify found %v", kinds)
			}
		})
	}
}

// A Sync that fails fails the run before its manifest: nothing claims
// objects that may not be durable.
func TestSyncFailureWritesNoManifest(t *testing.T) {
	for _, streaming := range []bool{false, true} {
		t.Run(fmt.Sprintf("streaming=%v", streaming), func(t *testing.T) {
			e := newEnv(t)
			rec := &syncRecorder{Store: e.st, failing: true}
			e.st = rec
			writeFile(t, e.path("a.log"), "a")
			var err error
			if streaming {
				_, err = e.streamRun(t.TempDir(), 0)
			} else {
				_, err = e.run()
			}
			if err == nil || !strings.Contains(err.Error(), "sync failed on purpose") || !strings.Contains(err.Error(), "no manifest written") {
				t.Fatalf("run: %v", err)
			}
			if n := rec.checkOrder(t, e); n != 0 {
				t.Fatalf("%d manifests written", n)
			}
			err = e.st.List(context.Background(), manifest.ManifestsPrefix("app"), func(o store.ObjectInfo) error {
				return fmt.Errorf("manifest %s stored", o.Key)
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
