package custody_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/manifest"
)

func signer(t *testing.T, seed byte) signing.Signer {
	s, err := signing.NewKeySigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newManifest(runID string) *manifest.Manifest {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	return &manifest.Manifest{
		Schema: manifest.SchemaV1, RunID: runID,
		Window:    manifest.Window{Start: now, End: now},
		StartedAt: now, FinishedAt: now,
		Exporter: manifest.Exporter{Name: "t", Version: "t", Host: "t"},
		Store:    "test", Source: manifest.Source{Type: "dir", Location: "/x"},
		Objects: []manifest.Object{},
	}
}

func appendN(t *testing.T, st store.Store, s signing.Signer, n int) {
	for i := range n {
		c, err := custody.Load(context.Background(), st, "s", s.Public())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Append(context.Background(), st, s, newManifest(string(rune('a'+i))), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// Of several exporters appending to the same head, exactly one wins; the
// others get ErrSequenceTaken and the chain does not fork.
func TestAppendRaceNeverForks(t *testing.T) {
	root := t.TempDir()
	st, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	s := signer(t, 1)
	appendN(t, st, s, 1)
	const writers = 8
	// Every writer loads the chain (head 1) before any of them appends.
	chains := make([]*custody.Chain, writers)
	for i := range chains {
		c, err := custody.Load(context.Background(), st, "s", s.Public())
		if err != nil {
			t.Fatal(err)
		}
		chains[i] = c
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	entries := make([]*custody.Entry, writers)
	start := make(chan struct{})
	for i, c := range chains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			entries[i], errs[i] = c.Append(context.Background(), st, s, newManifest("racer-"+string(rune('A'+i))), store.PutOptions{})
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
			if entries[i].Sequence != 2 {
				t.Fatalf("winner appended sequence %d, want 2", entries[i].Sequence)
			}
		case !errors.Is(err, custody.ErrSequenceTaken):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d writers appended sequence 2, want exactly 1", won)
	}
	rep, err := custody.Verify(context.Background(), st, "s", custody.VerifyOptions{PublicKey: s.Public(), Origin: "test"})
	if err != nil || len(rep.Problems) != 0 || rep.Head != 2 || rep.ManifestsValid != 2 {
		t.Fatalf("verify after the race: %+v %v", rep, err)
	}
	// The losers' signatures are orphans: listed, not failures.
	if rep.Orphans != 7 || len(rep.OrphanKeys) != 7 {
		t.Fatalf("orphans after the race: %d %v, want the 7 losers' signatures", rep.Orphans, rep.OrphanKeys)
	}
}

// An exporter refuses to append to a chain that fails its checks.
func TestLoadRefusesBrokenChain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, root string)
		pub    func(t *testing.T) any
	}{
		{"middle manifest edited", func(t *testing.T, root string) {
			p := filepath.Join(root, filepath.FromSlash(manifest.Key("s", 2)))
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte(`"host": "t"`), []byte(`"host": "x"`), 1), 0o644)
		}, nil},
		{"manifest missing", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, filepath.FromSlash(manifest.Key("s", 1))))
		}, nil},
		{"head signed by another key", nil, func(t *testing.T) any { return signer(t, 2).Public() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			st, err := fsstore.New(root)
			if err != nil {
				t.Fatal(err)
			}
			s := signer(t, 1)
			appendN(t, st, s, 3)
			pub := s.Public()
			if tc.tamper != nil {
				tc.tamper(t, root)
			}
			if tc.pub != nil {
				pub = tc.pub(t)
			}
			if _, err := custody.Load(context.Background(), st, "s", pub); !errors.Is(err, custody.ErrChainBroken) {
				t.Fatalf("Load: want ErrChainBroken, got %v", err)
			}
		})
	}
}

// countingStore counts Gets.
type countingStore struct {
	store.Store
	mu   sync.Mutex
	gets int
}

func (c *countingStore) Get(ctx context.Context, key string, o store.GetOptions) (io.ReadCloser, store.ObjectInfo, error) {
	c.mu.Lock()
	c.gets++
	c.mu.Unlock()
	return c.Store.Get(ctx, key, o)
}

func TestCacheLoadsIncrementally(t *testing.T) {
	root := t.TempDir()
	fs, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	st := &countingStore{Store: fs}
	s := signer(t, 1)
	appendN(t, fs, s, 5)
	var cache custody.Cache
	ctx := context.Background()
	c1, err := cache.Load(ctx, st, "s", s.Public())
	if err != nil || c1.Head.Sequence != 5 {
		t.Fatalf("first load: %v", err)
	}
	// Appending to the returned chain does not change the cache.
	if _, err := c1.Append(ctx, fs, s, newManifest("f"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	st.gets = 0
	c2, err := cache.Load(ctx, st, "s", s.Public())
	if err != nil || c2.Head.Sequence != 6 {
		t.Fatalf("second load: head %v, %v", c2.Head, err)
	}
	// The known head (to check it is unchanged), the new manifest, its signature.
	if st.gets != 3 {
		t.Fatalf("incremental load made %d reads, want 3", st.gets)
	}
	full, err := custody.Load(ctx, fs, "s", s.Public())
	if err != nil || full.Head.SHA256 != c2.Head.SHA256 || len(full.Archived) != len(c2.Archived) {
		t.Fatalf("incremental chain differs from a full load")
	}

	// A rewritten head is noticed: the cache falls back to a full, checked load.
	p := filepath.Join(root, filepath.FromSlash(manifest.Key("s", 6)))
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte(`"host": "t"`), []byte(`"host": "x"`), 1), 0o644)
	if _, err := cache.Load(ctx, st, "s", s.Public()); !errors.Is(err, custody.ErrChainBroken) {
		t.Fatalf("load after the head was rewritten: %v, want ErrChainBroken", err)
	}
}
