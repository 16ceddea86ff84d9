// Package storetest is the conformance suite every store.Store
// implementation runs: each test states one guarantee of the store package.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
)

// Options tell the suite about the store under test.
type Options struct {
	// PartSize is the multipart part size the store was configured with;
	// the suite writes objects larger than it to exercise multipart paths.
	PartSize int64
}

// Run runs the conformance suite. newStore must return an empty store
// (a fresh bucket or prefix) each time it is called.
func Run(t *testing.T, newStore func(t *testing.T) store.Store, opts Options) {
	if opts.PartSize <= 0 {
		opts.PartSize = 5 << 20
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, o Options)
	}{
		{"RoundTripSizes", testRoundTripSizes},
		{"ChecksumsMatchContent", testChecksums},
		{"ShortReaderStoresNothing", testShortReader},
		{"LongReaderStoresNothing", testLongReader},
		{"FailingReaderStoresNothing", testFailingReader},
		{"CancelledPutStoresNothing", testCancelledPut},
		{"ConditionalCreate", testConditionalCreate},
		{"ConditionalCreateRace", testConditionalRace},
		{"ETagEverywhere", testETag},
		{"ConditionalReplace", testConditionalReplace},
		{"ConditionalReplaceMissing", testConditionalReplaceMissing},
		{"ConditionalReplaceRace", testConditionalReplaceRace},
		{"ConditionalReplaceLarge", testConditionalReplaceLarge},
		{"NotFound", testNotFound},
		{"ListOrderAndPrefix", testList},
		{"InvalidKeys", testInvalidKeys},
		{"MetadataRoundTrip", testMetadata},
		{"Versions", testVersions},
		{"DeferredPut", testDeferredPut},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t), opts)
		})
	}
}

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sumHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func get(t *testing.T, s store.Store, key string) []byte {
	t.Helper()
	rc, _, err := s.Get(context.Background(), key, store.GetOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func mustAbsent(t *testing.T, s store.Store, key string) {
	t.Helper()
	_, err := s.Head(context.Background(), key, store.GetOptions{})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("head %s after failed put: want ErrNotFound, got %v", key, err)
	}
	var listed []string
	err = s.List(context.Background(), "", func(oi store.ObjectInfo) error {
		listed = append(listed, oi.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	for _, k := range listed {
		if k == key {
			t.Fatalf("failed put left %s visible in List", key)
		}
	}
}

func testRoundTripSizes(t *testing.T, s store.Store, o Options) {
	ctx := context.Background()
	sizes := []int{0, 1, 4096, int(o.PartSize) - 1, int(o.PartSize), int(o.PartSize) + 1, int(2*o.PartSize + o.PartSize/2)}
	for i, n := range sizes {
		for _, known := range []bool{true, false} {
			data := randBytes(n, uint64(i))
			key := fmt.Sprintf("sizes/%d-%v.bin", n, known)
			size := int64(-1)
			if known {
				size = int64(n)
			}
			info, err := s.Put(ctx, key, bytes.NewReader(data), store.PutOptions{Size: size})
			if err != nil {
				t.Fatalf("put %d bytes (size known %v): %v", n, known, err)
			}
			if info.Size != int64(n) || info.SHA256 != sumHex(data) || info.Key != key {
				t.Fatalf("put %d bytes: info = %+v, want size %d sha %s", n, info, n, sumHex(data))
			}
			if got := get(t, s, key); !bytes.Equal(got, data) {
				t.Fatalf("get %d bytes: content differs (got %d bytes)", n, len(got))
			}
			h, err := s.Head(ctx, key, store.GetOptions{})
			if err != nil || h.Size != int64(n) {
				t.Fatalf("head %d bytes: %+v, %v", n, h, err)
			}
		}
	}
}

func testChecksums(t *testing.T, s store.Store, o Options) {
	ctx := context.Background()
	for _, n := range []int{10, int(2*o.PartSize + 7)} {
		data := randBytes(n, 42)
		key := fmt.Sprintf("sum/%d", n)
		info, err := s.Put(ctx, key, bytes.NewReader(data), store.PutOptions{Size: int64(n)})
		if err != nil {
			t.Fatal(err)
		}
		var want string
		if len(info.PartChecksums) > 0 {
			if info.PartSize <= 0 || int64(len(info.PartChecksums)) != (int64(n)+info.PartSize-1)/info.PartSize {
				t.Fatalf("part size %d and %d part checksums do not cover %d bytes", info.PartSize, len(info.PartChecksums), n)
			}
			for i, p := range info.PartChecksums {
				end := min(int64(i+1)*info.PartSize, int64(n))
				part := sha256.Sum256(data[int64(i)*info.PartSize : end])
				if c, _ := store.ChecksumOfHex(hex.EncodeToString(part[:])); c != p {
					t.Fatalf("part %d checksum %s, want %s", i+1, p, c)
				}
			}
			want, err = store.CompositeChecksum(info.PartChecksums)
		} else {
			want, err = store.ChecksumOfHex(sumHex(data))
		}
		if err != nil {
			t.Fatal(err)
		}
		if info.Checksum != want {
			t.Fatalf("put checksum %q, want %q", info.Checksum, want)
		}
		h, err := s.Head(ctx, key, store.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if h.Checksum != "" && h.Checksum != want {
			t.Fatalf("head checksum %q, want %q", h.Checksum, want)
		}
		if h.SHA256 != "" && h.SHA256 != sumHex(data) {
			t.Fatalf("head sha256 %q, want %q", h.SHA256, sumHex(data))
		}
	}
}

func testShortReader(t *testing.T, s store.Store, o Options) {
	for _, n := range []int{100, int(2 * o.PartSize)} {
		key := fmt.Sprintf("short/%d", n)
		_, err := s.Put(context.Background(), key, bytes.NewReader(randBytes(n, 1)), store.PutOptions{Size: int64(n + 1)})
		if !errors.Is(err, store.ErrSizeMismatch) {
			t.Fatalf("put of %d bytes declared as %d: want ErrSizeMismatch, got %v", n, n+1, err)
		}
		mustAbsent(t, s, key)
	}
}

func testLongReader(t *testing.T, s store.Store, o Options) {
	for _, n := range []int{100, int(2 * o.PartSize)} {
		key := fmt.Sprintf("long/%d", n)
		_, err := s.Put(context.Background(), key, bytes.NewReader(randBytes(n+1, 1)), store.PutOptions{Size: int64(n)})
		if !errors.Is(err, store.ErrSizeMismatch) {
			t.Fatalf("put of %d bytes declared as %d: want ErrSizeMismatch, got %v", n+1, n, err)
		}
		mustAbsent(t, s, key)
	}
}

var errBoom = errors.New("boom: source read failed")

type failingReader struct {
	r     io.Reader
	after int
	n     int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n >= f.after {
		return 0, errBoom
	}
	if len(p) > f.after-f.n {
		p = p[:f.after-f.n]
	}
	n, err := f.r.Read(p)
	f.n += n
	return n, err
}

func testFailingReader(t *testing.T, s store.Store, o Options) {
	for _, n := range []int{100, int(2*o.PartSize + 100)} {
		key := fmt.Sprintf("failing/%d", n)
		r := &failingReader{r: bytes.NewReader(randBytes(n+10, 3)), after: n}
		_, err := s.Put(context.Background(), key, r, store.PutOptions{Size: int64(n + 10)})
		if !errors.Is(err, errBoom) {
			t.Fatalf("put from failing reader: want the reader's error wrapped, got %v", err)
		}
		mustAbsent(t, s, key)
	}
}

type cancelReader struct {
	r      io.Reader
	cancel context.CancelFunc
	at, n  int
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	if c.n >= c.at {
		c.cancel()
	}
	return n, err
}

func testCancelledPut(t *testing.T, s store.Store, o Options) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := int(2*o.PartSize + 100)
	key := "cancelled/obj"
	r := &cancelReader{r: bytes.NewReader(randBytes(n, 4)), cancel: cancel, at: int(o.PartSize + 10)}
	_, err := s.Put(ctx, key, r, store.PutOptions{Size: int64(n)})
	if err == nil {
		t.Fatal("put cancelled midway: no error")
	}
	mustAbsent(t, s, key)
}

func testConditionalCreate(t *testing.T, s store.Store, o Options) {
	ctx := context.Background()
	key := "cond/manifest.json"
	if _, err := s.Put(ctx, key, strings.NewReader("first"), store.PutOptions{Size: 5, IfNotExists: true}); err != nil {
		t.Fatalf("first conditional create: %v", err)
	}
	_, err := s.Put(ctx, key, strings.NewReader("second"), store.PutOptions{Size: 6, IfNotExists: true})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("second conditional create: want ErrExists, got %v", err)
	}
	if got := string(get(t, s, key)); got != "first" {
		t.Fatalf("content after refused create = %q, want %q", got, "first")
	}
}

func testConditionalRace(t *testing.T, s store.Store, o Options) {
	ctx := context.Background()
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			body := fmt.Sprintf("writer-%d", i)
			_, errs[i] = s.Put(ctx, "race/seq-1", strings.NewReader(body), store.PutOptions{Size: int64(len(body)), IfNotExists: true})
		}()
	}
	close(start)
	wg.Wait()
	winners := 0
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			winner = i
		case errors.Is(err, store.ErrExists):
		default:
			t.Fatalf("writer %d: unexpected error %v", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d writers won a conditional create, want exactly 1", winners)
	}
	if got, want := string(get(t, s, "race/seq-1")), fmt.Sprintf("writer-%d", winner); got != want {
		t.Fatalf("stored %q, but the winner was %q", got, want)
	}
}

func testNotFound(t *testing.T, s store.Store, o Options) {
	ctx := context.Background()
	if _, _, err := s.Get(ctx, "nope/missing", store.GetOptions{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing: want ErrNotFound, got %v", err)
	}
	if _, err := s.Head(ctx, "nope/missing", store.GetOptions{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("head missing: want ErrNotFound, got %v", err)
	}
}

func testList(t *testing.T, s store.Store, o Options) {
	ctx := context.Background()
	var want []string
	for i := 0; i < 25; i++ {
		k := fmt.Sprintf("list/a/%03d", i)
		want = append(want, k)
		if _, err := s.Put(ctx, k, strings.NewReader("x"), store.PutOptions{Size: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"list/b/1", "list/ab", "other/1"} {
		if _, err := s.Put(ctx, k, strings.NewReader("x"), store.PutOptions{Size: 1}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err := s.List(ctx, "list/a/", func(oi store.ObjectInfo) error {
		got = append(got, oi.Key)
		if oi.Size != 1 {
			return fmt.Errorf("%s: size %d", oi.Key, oi.Size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list list/a/ = %v, want %v", got, want)
	}
	stop := errors.New("stop")
	n := 0
	err = s.List(ctx, "list/", func(store.ObjectInfo) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("list stopped by callback: err %v after %d calls", err, n)
	}
}

func testInvalidKeys(t *testing.T, s store.Store, o Options) {
	for _, k := range []string{"", "/abs", "a/../b", "a//b", "./a", "a/.", "ctl\x01"} {
		_, err := s.Put(context.Background(), k, strings.NewReader("x"), store.PutOptions{Size: 1})
		if !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("put %q: want ErrInvalidKey, got %v", k, err)
		}
	}
}

func testMetadata(t *testing.T, s store.Store, o Options) {
	ctx := context.Background()
	md := map[string]string{"logkeeper-stream": "edge", "logkeeper-run": "r1"}
	_, err := s.Put(ctx, "meta/obj", strings.NewReader("hello"), store.PutOptions{Size: 5, Metadata: md, ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Head(ctx, "meta/obj", store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range md {
		if h.Metadata[k] != v {
			t.Fatalf("metadata %s = %q, want %q (all: %v)", k, h.Metadata[k], v, h.Metadata)
		}
	}
	if time.Since(h.LastModified) > time.Hour || h.LastModified.After(time.Now().Add(time.Hour)) {
		t.Fatalf("last modified %v is not now", h.LastModified)
	}
}

func testVersions(t *testing.T, s store.Store, o Options) {
	ctx := context.Background()
	info, err := s.Put(ctx, "ver/obj", strings.NewReader("v1"), store.PutOptions{Size: 2})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := s.Versions(ctx, "ver/obj")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) < 1 || !vs[0].IsLatest || vs[0].DeleteMarker || vs[0].VersionID != info.VersionID {
		t.Fatalf("versions after one put = %+v, put version %q", vs, info.VersionID)
	}
	vs, err = s.Versions(ctx, "ver/missing")
	if err != nil || len(vs) != 0 {
		t.Fatalf("versions of a missing key = %+v, %v", vs, err)
	}
}

// putBody stores body under key with opts (Size set from body).
func putBody(t *testing.T, s store.Store, key, body string, opts store.PutOptions) (store.ObjectInfo, error) {
	t.Helper()
	opts.Size = int64(len(body))
	return s.Put(context.Background(), key, strings.NewReader(body), opts)
}

func testETag(t *testing.T, s store.Store, o Options) {
	ctx := context.Background()
	info, err := putBody(t, s, "etag/obj", "hello", store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag == "" {
		t.Fatal("put returned no ETag")
	}
	h, err := s.Head(ctx, "etag/obj", store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc, g, err := s.Get(ctx, "etag/obj", store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	var listed string
	if err := s.List(ctx, "etag/", func(oi store.ObjectInfo) error { listed = oi.ETag; return nil }); err != nil {
		t.Fatal(err)
	}
	if h.ETag != info.ETag || g.ETag != info.ETag || listed != info.ETag {
		t.Fatalf("ETag: put %q, head %q, get %q, list %q: want all equal", info.ETag, h.ETag, g.ETag, listed)
	}
}

func testConditionalReplace(t *testing.T, s store.Store, o Options) {
	ctx := context.Background()
	key := "lease/stream.json"
	first, err := putBody(t, s, key, "v1", store.PutOptions{IfNotExists: true})
	if err != nil {
		t.Fatal(err)
	}
	second, err := putBody(t, s, key, "v2-longer", store.PutOptions{IfMatch: first.ETag})
	if err != nil {
		t.Fatalf("replace with the current ETag: %v", err)
	}
	if second.ETag == "" || second.ETag == first.ETag {
		t.Fatalf("replace returned ETag %q, the replaced object had %q: want a new one", second.ETag, first.ETag)
	}
	if got := string(get(t, s, key)); got != "v2-longer" {
		t.Fatalf("content after replace = %q", got)
	}
	if h, err := s.Head(ctx, key, store.GetOptions{}); err != nil || h.ETag != second.ETag || h.Size != 9 {
		t.Fatalf("head after replace: %+v, %v; want ETag %q size 9", h, err, second.ETag)
	}
	// The old ETag no longer matches: the replace is refused, nothing changes.
	_, err = putBody(t, s, key, "v3", store.PutOptions{IfMatch: first.ETag})
	if !errors.Is(err, store.ErrPreconditionFailed) || errors.Is(err, store.ErrExists) {
		t.Fatalf("replace with a stale ETag: want ErrPreconditionFailed (not ErrExists), got %v", err)
	}
	if got := string(get(t, s, key)); got != "v2-longer" {
		t.Fatalf("content after a refused replace = %q", got)
	}
	// The same bytes written again still get a new ETag on a store that
	// counts generations; on S3 the ETag is the content's MD5, so callers
	// (leases) must always write something new. Either way the ETag after
	// the write matches the object.
	third, err := putBody(t, s, key, "v2-longer", store.PutOptions{IfMatch: second.ETag})
	if err != nil {
		t.Fatalf("replace with identical bytes: %v", err)
	}
	if h, err := s.Head(ctx, key, store.GetOptions{}); err != nil || h.ETag != third.ETag {
		t.Fatalf("head after identical replace: %+v, %v; want ETag %q", h, err, third.ETag)
	}
	// A plain Put still never overwrites on a write-once store, and a
	// conditional create still refuses.
	if _, err := putBody(t, s, key, "v4", store.PutOptions{IfNotExists: true}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("conditional create over a replaced object: want ErrExists, got %v", err)
	}
	// IfMatch and IfNotExists together are refused before anything is sent.
	if _, err := putBody(t, s, key, "v5", store.PutOptions{IfMatch: third.ETag, IfNotExists: true}); err == nil {
		t.Fatal("IfMatch with IfNotExists: no error")
	}
	if got := string(get(t, s, key)); got != "v2-longer" {
		t.Fatalf("content after refused puts = %q", got)
	}
}

func testConditionalReplaceMissing(t *testing.T, s store.Store, o Options) {
	_, err := putBody(t, s, "lease/missing.json", "x", store.PutOptions{IfMatch: "\"0123456789abcdef0123456789abcdef\""})
	if !errors.Is(err, store.ErrPreconditionFailed) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replace of a missing key: want ErrPreconditionFailed and ErrNotFound, got %v", err)
	}
	mustAbsent(t, s, "lease/missing.json")
}

func testConditionalReplaceRace(t *testing.T, s store.Store, o Options) {
	ctx := context.Background()
	key := "race/lease.json"
	base, err := putBody(t, s, key, "base", store.PutOptions{IfNotExists: true})
	if err != nil {
		t.Fatal(err)
	}
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	infos := make([]store.ObjectInfo, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			body := fmt.Sprintf("replacer-%d", i)
			infos[i], errs[i] = s.Put(ctx, key, strings.NewReader(body), store.PutOptions{Size: int64(len(body)), IfMatch: base.ETag})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("replacers %d and %d both won with ETag %q", winner, i, base.ETag)
			}
			winner = i
		case errors.Is(err, store.ErrPreconditionFailed):
		default:
			t.Fatalf("replacer %d: unexpected error %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no replacer won")
	}
	if got, want := string(get(t, s, key)), fmt.Sprintf("replacer-%d", winner); got != want {
		t.Fatalf("stored %q, but the winner was %q", got, want)
	}
	if h, err := s.Head(ctx, key, store.GetOptions{}); err != nil || h.ETag != infos[winner].ETag {
		t.Fatalf("head after the race: %+v, %v; want the winner's ETag %q", h, err, infos[winner].ETag)
	}
}

// testConditionalReplaceLarge replaces an object with one large enough to
// go up in parts: the condition holds for multipart uploads too.
func testConditionalReplaceLarge(t *testing.T, s store.Store, o Options) {
	key := "lease/large"
	first, err := putBody(t, s, key, "small", store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(int(o.PartSize)+100, 9)
	ctx := context.Background()
	if _, err := s.Put(ctx, key, bytes.NewReader(data), store.PutOptions{Size: int64(len(data)), IfMatch: "\"ffffffffffffffffffffffffffffffff\""}); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("large replace with a wrong ETag: want ErrPreconditionFailed, got %v", err)
	}
	if got := string(get(t, s, key)); got != "small" {
		t.Fatalf("content after a refused large replace = %q", got)
	}
	info, err := s.Put(ctx, key, bytes.NewReader(data), store.PutOptions{Size: int64(len(data)), IfMatch: first.ETag})
	if err != nil {
		t.Fatalf("large replace with the current ETag: %v", err)
	}
	if got := get(t, s, key); !bytes.Equal(got, data) || info.SHA256 != sumHex(data) {
		t.Fatalf("content after a large replace differs (%d bytes)", len(got))
	}
}

// A Deferred Put gives every guarantee but durability on return: the
// object is visible, whole, with its metadata, as soon as Put returns; a
// second create of the key fails; store.Sync then succeeds.
func testDeferredPut(t *testing.T, s store.Store, o Options) {
	ctx := context.Background()
	keys := []string{"deferred/a/one.log", "deferred/a/two.log", "deferred/b/three.log"}
	for i, key := range keys {
		body := randBytes(100+i, uint64(i))
		info, err := s.Put(ctx, key, bytes.NewReader(body), store.PutOptions{Size: int64(len(body)), IfNotExists: true, Deferred: true, Metadata: map[string]string{"n": fmt.Sprint(i)}})
		if err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		if info.SHA256 != sumHex(body) {
			t.Fatalf("put %s: sha256 %s", key, info.SHA256)
		}
		if got := get(t, s, key); !bytes.Equal(got, body) {
			t.Fatalf("get %s right after a Deferred put: %d bytes", key, len(got))
		}
		h, err := s.Head(ctx, key, store.GetOptions{})
		if err != nil || h.Size != int64(len(body)) || h.Metadata["n"] != fmt.Sprint(i) {
			t.Fatalf("head %s: %+v, %v", key, h, err)
		}
		_, err = s.Put(ctx, key, strings.NewReader("again"), store.PutOptions{Size: 5, IfNotExists: true, Deferred: true})
		if !errors.Is(err, store.ErrExists) {
			t.Fatalf("second Deferred create of %s: %v", key, err)
		}
	}
	if err := store.Sync(ctx, s); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if err := store.Sync(ctx, s); err != nil {
		t.Fatalf("sync with nothing pending: %v", err)
	}
	for i, key := range keys {
		if got := get(t, s, key); !bytes.Equal(got, randBytes(100+i, uint64(i))) {
			t.Fatalf("get %s after sync", key)
		}
	}
}
