package custody_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/memstore"
	"github.com/logkeeper/logkeeper/manifest"
)

// requestStore counts every request made to the store, by kind.
type requestStore struct {
	store.Store
	mu sync.Mutex
	n  map[string]int
}

func counted(st store.Store) *requestStore { return &requestStore{Store: st, n: map[string]int{}} }

func (r *requestStore) add(kind string) {
	r.mu.Lock()
	r.n[kind]++
	r.mu.Unlock()
}

func (r *requestStore) reset() {
	r.mu.Lock()
	r.n = map[string]int{}
	r.mu.Unlock()
}

func (r *requestStore) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := 0
	for _, v := range r.n {
		t += v
	}
	return t
}

func (r *requestStore) Get(ctx context.Context, key string, o store.GetOptions) (io.ReadCloser, store.ObjectInfo, error) {
	r.add("GET")
	return r.Store.Get(ctx, key, o)
}

func (r *requestStore) Head(ctx context.Context, key string, o store.GetOptions) (store.ObjectInfo, error) {
	r.add("HEAD")
	return r.Store.Head(ctx, key, o)
}

func (r *requestStore) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	r.add("LIST")
	return r.Store.List(ctx, prefix, fn)
}

func (r *requestStore) Put(ctx context.Context, key string, rd io.Reader, o store.PutOptions) (store.ObjectInfo, error) {
	r.add("PUT")
	return r.Store.Put(ctx, key, rd, o)
}

// stateChain appends n runs to stream s of st, each archiving a file of its
// own and failing one, and writes the start-up state after the last when
// publish.
func stateChain(t *testing.T, st store.Store, s signing.Signer, from, n int, publish bool) *custody.Chain {
	t.Helper()
	ctx := context.Background()
	c, err := custody.Load(ctx, st, "s", s.Public())
	if err != nil {
		t.Fatal(err)
	}
	mod := time.Unix(100, 0).UTC()
	for i := from; i < from+n; i++ {
		run := fmt.Sprintf("run%05d", i)
		m := withFiles(run, 10, mod, []string{fmt.Sprintf("f%d", i)}, []string{fmt.Sprintf("bad%d", i%3)})
		if _, err := c.Append(ctx, st, s, m, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if publish {
		if err := custody.PublishState(ctx, st, s, c, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// sameChain checks that got knows what a full Load of st knows.
func sameChain(t *testing.T, st store.Store, got *custody.Chain) {
	t.Helper()
	want, err := custody.Load(context.Background(), st, "s", signer(t, 1).Public())
	if err != nil {
		t.Fatal(err)
	}
	if want.Head.Sequence != got.Head.Sequence || want.Head.SHA256 != got.Head.SHA256 {
		t.Fatalf("head %d %s, want %d %s", got.Head.Sequence, got.Head.SHA256, want.Head.Sequence, want.Head.SHA256)
	}
	ws, wr, _ := want.Root()
	gs, gr, err := got.Root()
	if err != nil || ws != gs || !bytes.Equal(wr, gr) {
		t.Fatalf("tree %d %x (%v), want %d %x", gs, gr, err, ws, wr)
	}
	for id, p := range want.Archived {
		if got.NeedsArchiving(p) {
			t.Fatalf("%s: archived in the chain, not in the resumed chain", id)
		}
	}
	if !got.NeedsArchiving(manifest.Provenance{ID: "never"}) {
		t.Fatal("a file never archived is said archived")
	}
	wf, _ := want.Failures()
	gf, err := got.Failures()
	if err != nil || fmt.Sprint(wf) != fmt.Sprint(gf) {
		t.Fatalf("failures %v (%v), want %v", gf, err, wf)
	}
}

func captureLog() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

// Start-up from the state takes the same few requests for a chain of 10
// manifests and of 300, and knows what a full load knows.
func TestResumeRequestsDoNotGrowWithTheChain(t *testing.T) {
	ctx := context.Background()
	s := signer(t, 1)
	var counts []int
	for _, n := range []int{10, 300} {
		mem := memstore.New(memstore.Options{})
		stateChain(t, mem, s, 0, n, true)
		st := counted(mem)
		log, buf := captureLog()
		c, err := custody.Resume(ctx, st, "s", s.Public(), log)
		if err != nil {
			t.Fatal(err)
		}
		if st.n["LIST"] != 0 || buf.Len() != 0 {
			t.Fatalf("chain of %d: %v requests, log %q", n, st.n, buf)
		}
		// The state, the head, two probes, the head's signature.
		if st.total() != 5 {
			t.Fatalf("chain of %d: %d requests (%v), want 5", n, st.total(), st.n)
		}
		counts = append(counts, st.total())
		sameChain(t, mem, c)

		// The same through the archived-file index, once it exists.
		dir := t.TempDir()
		ix, err := custody.LoadIndexed(ctx, mem, "s", s.Public(), dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		ix.Close()
		st.reset()
		ix, err = custody.LoadIndexed(ctx, st, "s", s.Public(), dir, log)
		if err != nil {
			t.Fatal(err)
		}
		if st.n["LIST"] != 0 || st.total() > 7 || buf.Len() != 0 {
			t.Fatalf("indexed, chain of %d: %v requests, log %q", n, st.n, buf)
		}
		sameChain(t, mem, ix)
		ix.Close()
	}
	if counts[0] != counts[1] {
		t.Fatalf("requests grow with the chain: %v", counts)
	}
}

// Manifests appended after the state was written (a run that could not
// write it, another exporter) are found by probing and folded in.
func TestResumeFindsManifestsAfterTheState(t *testing.T) {
	ctx := context.Background()
	s := signer(t, 1)
	mem := memstore.New(memstore.Options{})
	stateChain(t, mem, s, 0, 5, true)
	stateChain(t, mem, s, 5, 3, false)
	log, buf := captureLog()
	c, err := custody.Resume(ctx, mem, "s", s.Public(), log)
	if err != nil {
		t.Fatal(err)
	}
	if c.Head.Sequence != 8 || buf.Len() != 0 {
		t.Fatalf("head %d, log %q", c.Head.Sequence, buf)
	}
	sameChain(t, mem, c)
	dir := t.TempDir()
	for range 2 {
		// The second time, the local index is ahead of the state: the
		// tree is carried from the state's head to the index's.
		ix, err := custody.LoadIndexed(ctx, mem, "s", s.Public(), dir, log)
		if err != nil {
			t.Fatal(err)
		}
		sameChain(t, mem, ix)
		ix.Close()
	}
	if buf.Len() != 0 {
		t.Fatalf("log %q", buf)
	}

	// A gap after the state (manifest 9 deleted, 10 kept) is not written
	// over: the chain is refused.
	stateChain(t, mem, s, 8, 2, false)
	if err := mem.Delete(ctx, manifest.Key("s", 9)); err != nil {
		t.Fatal(err)
	}
	if _, err := custody.Resume(ctx, mem, "s", s.Public(), log); !errors.Is(err, custody.ErrChainBroken) {
		t.Fatalf("gap after the state: %v, want ErrChainBroken", err)
	}
	if _, err := custody.LoadIndexed(ctx, mem, "s", s.Public(), t.TempDir(), log); !errors.Is(err, custody.ErrChainBroken) {
		t.Fatalf("indexed, gap after the state: %v, want ErrChainBroken", err)
	}
}

// envelope mirrors the stored form of a state, to forge one.
type envelope struct {
	State     []byte `json:"state"`
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key_id"`
	Signature []byte `json:"signature"`
}

// signed signs the state bytes raw as PublishState does.
func signed(t *testing.T, s signing.Signer, raw []byte) []byte {
	t.Helper()
	sig, err := s.Sign(context.Background(), append([]byte("logkeeper-state/v1\n"), raw...))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(envelope{State: raw, Algorithm: s.Algorithm(), KeyID: s.KeyID(), Signature: sig})
	return b
}

// A state that is missing, damaged, forged, signed by another key, of
// another stream or chain, ahead of the store or stale is never trusted:
// the chain is read whole (with a warning) or from the stale head, and
// the result is what a full load gives.
func TestResumeNeverTrustsABadState(t *testing.T) {
	ctx := context.Background()
	s := signer(t, 1)
	key := custody.StateKey("s")
	good := func(t *testing.T) (*memstore.Store, []byte, custody.State) {
		mem := memstore.New(memstore.Options{})
		stateChain(t, mem, s, 0, 6, true)
		env := mem.Bytes(key)
		var e envelope
		var st custody.State
		if err := json.Unmarshal(env, &e); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(e.State, &st); err != nil {
			t.Fatal(err)
		}
		return mem, env, st
	}
	resign := func(t *testing.T, st custody.State) []byte {
		raw, _ := json.Marshal(st)
		return signed(t, s, raw)
	}
	cases := []struct {
		name string
		// tamper changes the store; it returns the words the warning must hold.
		tamper func(t *testing.T, mem *memstore.Store, env []byte, st custody.State) string
	}{
		{"missing", func(t *testing.T, mem *memstore.Store, _ []byte, _ custody.State) string {
			mem.Delete(ctx, key)
			return "no start-up state"
		}},
		{"garbage", func(t *testing.T, mem *memstore.Store, _ []byte, _ custody.State) string {
			mem.PutRaw(key, []byte("{not json"))
			return "does not verify"
		}},
		{"unsigned", func(t *testing.T, mem *memstore.Store, env []byte, st custody.State) string {
			raw, _ := json.Marshal(st)
			b, _ := json.Marshal(envelope{State: raw})
			mem.PutRaw(key, b)
			return "does not verify"
		}},
		{"another key", func(t *testing.T, mem *memstore.Store, _ []byte, st custody.State) string {
			raw, _ := json.Marshal(st)
			mem.PutRaw(key, signed(t, signer(t, 2), raw))
			return "trusted key"
		}},
		{"forged files", func(t *testing.T, mem *memstore.Store, env []byte, st custody.State) string {
			// A file claimed archived so that it is never archived: the
			// state's bytes change, the signature does not follow.
			var e envelope
			json.Unmarshal(env, &e)
			st.Files.Archived = append(st.Files.Archived, manifest.Provenance{ID: "never", Size: 0})
			e.State, _ = json.Marshal(st)
			b, _ := json.Marshal(e)
			mem.PutRaw(key, b)
			return "signature"
		}},
		{"another stream", func(t *testing.T, mem *memstore.Store, _ []byte, st custody.State) string {
			st.Stream = "other"
			mem.PutRaw(key, resign(t, st))
			return "stream"
		}},
		{"wrong tree", func(t *testing.T, mem *memstore.Store, _ []byte, st custody.State) string {
			st.Tree.Hashes[0] = strings.Repeat("00", 32)
			mem.PutRaw(key, resign(t, st))
			return "root"
		}},
		{"tree of another size", func(t *testing.T, mem *memstore.Store, _ []byte, st custody.State) string {
			st.Tree.Size--
			mem.PutRaw(key, resign(t, st))
			return "tree of size"
		}},
		{"head of another chain", func(t *testing.T, mem *memstore.Store, _ []byte, st custody.State) string {
			// A state of the same key for a chain that was rewritten.
			other := memstore.New(memstore.Options{})
			stateChain(t, other, s, 100, 6, true)
			mem.PutRaw(key, other.Bytes(key))
			return "differs in the store"
		}},
		{"ahead of the store", func(t *testing.T, mem *memstore.Store, _ []byte, st custody.State) string {
			// The newest manifests deleted, the state kept: truncation.
			for n := uint64(5); n <= 6; n++ {
				mem.Delete(ctx, manifest.Key("s", n))
			}
			return "does not hold its head"
		}},
		{"head named wrong", func(t *testing.T, mem *memstore.Store, _ []byte, st custody.State) string {
			st.Head.Key = manifest.Key("s", 5)
			mem.PutRaw(key, resign(t, st))
			return "is not manifest"
		}},
		{"without files", func(t *testing.T, mem *memstore.Store, _ []byte, st custody.State) string {
			st.Files = nil
			mem.PutRaw(key, resign(t, st))
			return "does not hold the archived files"
		}},
		{"stale", func(t *testing.T, mem *memstore.Store, env []byte, _ custody.State) string {
			stateChain(t, mem, s, 6, 4, false)
			return ""
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem, env, st := good(t)
			want := tc.tamper(t, mem, env, st)
			log, buf := captureLog()
			c, err := custody.Resume(ctx, mem, "s", s.Public(), log)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), want) {
				t.Fatalf("log %q does not say %q", buf, want)
			}
			sameChain(t, mem, c)
			if tc.name == "without files" {
				return // a state for the index: used by LoadIndexed
			}
			buf.Reset()
			ix, err := custody.LoadIndexed(ctx, mem, "s", s.Public(), t.TempDir(), log)
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			if !strings.Contains(buf.String(), want) {
				t.Fatalf("indexed: log %q does not say %q", buf, want)
			}
			sameChain(t, mem, ix)
		})
	}
}

// A head rewritten after the state was written is not trusted: the chain
// is read whole and refused, as Load refuses it.
func TestResumeRewrittenHead(t *testing.T) {
	ctx := context.Background()
	s := signer(t, 1)
	mem := memstore.New(memstore.Options{})
	stateChain(t, mem, s, 0, 4, true)
	k := manifest.Key("s", 4)
	mem.PutRaw(k, bytes.Replace(mem.Bytes(k), []byte(`"host": "t"`), []byte(`"host": "x"`), 1))
	if _, err := custody.Resume(ctx, mem, "s", s.Public(), nil); !errors.Is(err, custody.ErrChainBroken) {
		t.Fatalf("rewritten head: %v, want ErrChainBroken", err)
	}
}

// The state is replaced after each run, on a write-once file store too,
// and its tree root is the checkpoint's.
func TestPublishStateReplaces(t *testing.T) {
	s := signer(t, 1)
	mem := memstore.New(memstore.Options{})
	stateChain(t, mem, s, 0, 2, true)
	c := stateChain(t, mem, s, 2, 1, true)
	st, err := custody.OpenState(mem.Bytes(custody.StateKey("s")), "s", s.Public())
	if err != nil {
		t.Fatal(err)
	}
	size, root, _ := c.Root()
	if st.Head.Sequence != 3 || st.Tree.Size != size || st.Tree.Root != hex.EncodeToString(root) {
		t.Fatalf("state %+v, chain %d %x", st.Head, size, root)
	}
	if _, err := custody.OpenState(mem.Bytes(custody.StateKey("s")), "s", signer(t, 2).Public()); err == nil {
		t.Fatal("a state opened with another key")
	}
}

// The daemon's chain cache starts from the state: its first load is as
// cheap as Resume, its next ones probe instead of listing.
func TestCacheStartsFromTheState(t *testing.T) {
	ctx := context.Background()
	s := signer(t, 1)
	mem := memstore.New(memstore.Options{})
	stateChain(t, mem, s, 0, 50, true)
	st := counted(mem)
	cache := custody.Cache{}
	c, err := cache.Load(ctx, st, "s", s.Public())
	if err != nil {
		t.Fatal(err)
	}
	if st.n["LIST"] != 0 || st.total() != 5 {
		t.Fatalf("first load: %v", st.n)
	}
	sameChain(t, mem, c)
	stateChain(t, mem, s, 50, 2, false)
	st.reset()
	if c, err = cache.Load(ctx, st, "s", s.Public()); err != nil {
		t.Fatal(err)
	}
	// The known head, four probes (two found), two manifests, a signature.
	if st.n["LIST"] != 0 || st.total() != 8 {
		t.Fatalf("second load: %v", st.n)
	}
	sameChain(t, mem, c)
}
