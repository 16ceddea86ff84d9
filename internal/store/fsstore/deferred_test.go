package fsstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
)

// A Deferred create and a plain one of the same key: exactly one wins,
// whichever comes first, and the store holds the winner's bytes and
// metadata.
func TestDeferredAndPlainCreateOfOneKey(t *testing.T) {
	ctx := context.Background()
	for _, deferredFirst := range []bool{true, false} {
		s := newStore(t)
		if _, err := s.Put(ctx, "k/x.log", strings.NewReader("first"), store.PutOptions{Size: 5, Deferred: deferredFirst}); err != nil {
			t.Fatal(err)
		}
		_, err := s.Put(ctx, "k/x.log", strings.NewReader("other"), store.PutOptions{Size: 5, Deferred: !deferredFirst})
		if !errors.Is(err, store.ErrExists) {
			t.Fatalf("deferred first %v: second create: %v", deferredFirst, err)
		}
		if err := store.Sync(ctx, s); err != nil {
			t.Fatal(err)
		}
		if got := string(readAll(t, s, "k/x.log")); got != "first" {
			t.Fatalf("deferred first %v: %q", deferredFirst, got)
		}
	}
}

// Many Deferred creates at once, with Syncs running among them: every
// create is stored once, whole, and the racing creates of one key have
// exactly one winner.
func TestDeferredConcurrent(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := map[string]int{}
	for w := range 16 {
		wg.Go(func() {
			for i := range 40 {
				key := fmt.Sprintf("c/d%d/f%03d.log", i%4, i)
				_, err := s.Put(ctx, key, strings.NewReader(key), store.PutOptions{Size: int64(len(key)), Deferred: true})
				switch {
				case err == nil:
					mu.Lock()
					wins[key]++
					mu.Unlock()
				case !errors.Is(err, store.ErrExists):
					t.Errorf("put %s: %v", key, err)
				}
				if (w+i)%7 == 0 {
					if err := store.Sync(ctx, s); err != nil {
						t.Errorf("sync: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := store.Sync(ctx, s); err != nil {
		t.Fatal(err)
	}
	if len(wins) != 40 {
		t.Fatalf("%d keys stored, want 40", len(wins))
	}
	for key, n := range wins {
		if n != 1 {
			t.Fatalf("%s created %d times", key, n)
		}
		if got := string(readAll(t, s, key)); got != key {
			t.Fatalf("%s holds %q", key, got)
		}
	}
}

// A folder whose fsync Sync cannot make (here: removed behind the store's
// back after a Deferred create linked a name into it) is an error naming
// it, and the objects are not claimed durable; the next Sync has nothing
// left to do.
func TestDeferredSyncReportsFailure(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "gone/sub/x.log", strings.NewReader("x"), store.PutOptions{Size: 1, Deferred: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "gone")); err != nil {
		t.Fatal(err)
	}
	err = s.Sync(ctx)
	if err == nil || !strings.Contains(err.Error(), "gone/sub") {
		t.Fatalf("sync of a removed folder: %v", err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("second sync: %v", err)
	}
}

func readAll(t *testing.T, s store.Store, key string) []byte {
	t.Helper()
	rc, _, err := s.Get(context.Background(), key, store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := rc.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return []byte(b.String())
}
