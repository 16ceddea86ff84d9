package custody_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/manifest"
)

// withFiles makes a manifest that archives the files ids (size n each,
// modified at mod) and records failures for fails.
func withFiles(run string, n int64, mod time.Time, ids, fails []string) *manifest.Manifest {
	m := newManifest(run)
	for _, id := range ids {
		m.Objects = append(m.Objects, manifest.Object{
			Key: "s/objects/" + run + "/" + id, Size: n, SHA256: strings.Repeat("a", 64),
			Checksum: manifest.Checksum{Algorithm: "SHA256", Type: manifest.ChecksumFullObject, Value: strings.Repeat("A", 43) + "="},
			Source:   manifest.Provenance{ID: id, Path: id, Size: n, Modified: mod},
		})
	}
	for _, id := range fails {
		m.Failures = append(m.Failures, manifest.Failure{ID: id, Path: id, Error: "read: boom " + run})
	}
	return m
}

func appendM(t *testing.T, st store.Store, m *manifest.Manifest) {
	t.Helper()
	s := signer(t, 1)
	c, err := custody.Load(context.Background(), st, "s", s.Public())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(context.Background(), st, s, m, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// agree checks that the chain loaded through the index answers as the
// chain loaded in memory does, for every id.
func agree(t *testing.T, st store.Store, stateDir string, ids []string, log *slog.Logger) *custody.Chain {
	t.Helper()
	ctx := context.Background()
	pub := signer(t, 1).Public()
	mem, err := custody.Load(ctx, st, "s", pub)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := custody.LoadIndexed(ctx, st, "s", pub, stateDir, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if (mem.Head == nil) != (ix.Head == nil) || (mem.Head != nil && (mem.Head.Sequence != ix.Head.Sequence || mem.Head.SHA256 != ix.Head.SHA256)) {
		t.Fatalf("heads differ: %+v vs %+v", mem.Head, ix.Head)
	}
	for _, id := range ids {
		for _, p := range []manifest.Provenance{
			{ID: id, Size: 10, Modified: time.Unix(100, 0).UTC()},
			{ID: id, Size: 20, Modified: time.Unix(100, 0).UTC()},
			{ID: id, Size: 10, Modified: time.Unix(200, 0).UTC()},
		} {
			if a, b := mem.NeedsArchiving(p), ix.NeedsArchiving(p); a != b {
				t.Fatalf("%+v: in memory %v, indexed %v", p, a, b)
			}
		}
	}
	fm, _ := mem.Failures()
	fi, err := ix.Failures()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(fm) != fmt.Sprint(fi) {
		t.Fatalf("failures differ:\n%v\n%v", fm, fi)
	}
	return ix
}

func TestLoadIndexedAgreesAndCatchesUp(t *testing.T) {
	root := t.TempDir()
	st, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ids := []string{"a", "b", "c", "d", "e"}
	t0, t1 := time.Unix(100, 0).UTC(), time.Unix(200, 0).UTC()

	agree(t, st, state, ids, log) // empty chain
	appendM(t, st, withFiles("r1", 10, t0, []string{"a", "b"}, []string{"c"}))
	appendM(t, st, withFiles("r2", 20, t0, []string{"a"}, []string{"d", "b"}))
	agree(t, st, state, ids, log)
	appendM(t, st, withFiles("r3", 10, t1, []string{"c", "d"}, []string{"e"}))
	appendM(t, st, withFiles("r4", 10, t0, nil, nil))
	c := agree(t, st, state, ids, log)
	if c.Head.Sequence != 4 {
		t.Fatalf("head %d", c.Head.Sequence)
	}
	if strings.Contains(logs.String(), "rebuilding") {
		t.Fatalf("index rebuilt on a chain that only grew:\n%s", logs.String())
	}
	if _, err := os.Stat(custody.IndexFile(state, st, "s")); err != nil {
		t.Fatalf("no index file: %v", err)
	}
}

// An index that cannot be trusted for the chain in the store is rebuilt:
// damaged, built for another chain, or ahead of the store.
func TestLoadIndexedRebuildsUntrusted(t *testing.T) {
	ids := []string{"a", "b", "c"}
	t0 := time.Unix(100, 0).UTC()
	cases := map[string]func(t *testing.T, st *fsstore.Store, root, path string){
		"damaged": func(t *testing.T, _ *fsstore.Store, _, path string) {
			b, _ := os.ReadFile(path)
			b[len(b)-3] ^= 0x20
			os.WriteFile(path, b, 0o600)
		},
		"another chain": func(t *testing.T, st *fsstore.Store, _, _ string) {
			// The head manifest is replaced by a different, re-signed one.
			if err := st.Delete(context.Background(), manifest.Key("s", 2)); err != nil {
				t.Fatal(err)
			}
			appendM(t, st, withFiles("other", 10, t0, []string{"c"}, nil))
		},
		"ahead of the store": func(t *testing.T, st *fsstore.Store, _, _ string) {
			if err := st.Delete(context.Background(), manifest.Key("s", 2)); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			st, err := fsstore.New(root)
			if err != nil {
				t.Fatal(err)
			}
			state := t.TempDir()
			appendM(t, st, withFiles("r1", 10, t0, []string{"a"}, []string{"b"}))
			appendM(t, st, withFiles("r2", 10, t0, []string{"b"}, nil))
			agree(t, st, state, ids, nil).Close()
			damage(t, st, root, custody.IndexFile(state, st, "s"))
			var logs bytes.Buffer
			agree(t, st, state, ids, slog.New(slog.NewTextHandler(&logs, nil)))
			if !strings.Contains(logs.String(), "rebuilding") {
				t.Fatalf("no rebuild logged:\n%s", logs.String())
			}
		})
	}
}

// A chain that fails Load's checks fails LoadIndexed's too, with or
// without an index that was trusted before.
func TestLoadIndexedRefusesBrokenChain(t *testing.T) {
	root := t.TempDir()
	st, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	t0 := time.Unix(100, 0).UTC()
	appendM(t, st, withFiles("r1", 10, t0, []string{"a"}, nil))
	agree(t, st, state, []string{"a"}, nil).Close()
	// A second manifest signed by another key.
	c, err := custody.Load(context.Background(), st, "s", signer(t, 1).Public())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(context.Background(), st, signer(t, 2), withFiles("r2", 10, t0, []string{"b"}, nil), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = custody.LoadIndexed(context.Background(), st, "s", signer(t, 1).Public(), state, nil)
	if !errors.Is(err, custody.ErrChainBroken) {
		t.Fatalf("head signed by another key: want ErrChainBroken, got %v", err)
	}
}
