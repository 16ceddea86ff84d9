package fsstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/internal/store/storetest"
)

func newStore(t *testing.T) store.Store {
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newStore, storetest.Options{PartSize: 1 << 20})
}

func TestNeverOverwrites(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.Put(ctx, "a/b", strings.NewReader("one"), store.PutOptions{Size: 3}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Put(ctx, "a/b", strings.NewReader("two"), store.PutOptions{Size: 3})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("unconditional put over an existing object: want ErrExists, got %v", err)
	}
}

func TestReservedKeys(t *testing.T) {
	s := newStore(t)
	_, err := s.Put(context.Background(), ".logkeeper/meta/x", strings.NewReader("x"), store.PutOptions{Size: 1})
	if !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("put into the store's own folder: want ErrInvalidKey, got %v", err)
	}
}

// The metadata is kept in the object's attribute, or, in the side-file
// layout, in a file beside it; either way no temporary file is left.
func TestMetadataKeptBeside(t *testing.T) {
	for _, sideFiles := range []bool{false, true} {
		root := t.TempDir()
		s, err := fsstore.New(root)
		if err != nil {
			t.Fatal(err)
		}
		if sideFiles {
			fsstore.UseSideFiles(s)
		} else if !fsstore.UsesXattr(s) {
			t.Log("no user extended attributes on this filesystem")
			continue
		}
		sse := &store.SSE{Algorithm: "aws:kms", KMSKeyID: "k", Context: map[string]string{"logkeeper:stream": "s"}}
		if _, err := s.Put(context.Background(), "x/y.log", strings.NewReader("hi"), store.PutOptions{Size: 2, SSE: sse}); err != nil {
			t.Fatal(err)
		}
		side := filepath.Join(root, ".logkeeper", "meta", "x", "y.log.json")
		var b []byte
		if sideFiles {
			b, err = os.ReadFile(side)
		} else {
			b, err = getXattr(filepath.Join(root, "x", "y.log"))
			if _, serr := os.Lstat(side); !errors.Is(serr, fs.ErrNotExist) {
				t.Fatalf("side file written beside an attribute: %v", serr)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"logkeeper:stream":"s"`) {
			t.Fatalf("side files %v: metadata lacks the encryption context: %s", sideFiles, b)
		}
		h, err := s.Head(context.Background(), "x/y.log", store.GetOptions{})
		if err != nil || h.SSE == nil || h.SSE.Context["logkeeper:stream"] != "s" {
			t.Fatalf("head SSE = %+v, %v", h.SSE, err)
		}
		if left := tempFiles(t, root); len(left) != 0 {
			t.Fatalf("temporary files left behind: %q", left)
		}
	}
}

// Readers never see the metadata (ETag, SHA-256) of one generation with
// the bytes of another while an object is being replaced.
func TestReplaceIsAtomicForReaders(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	body := func(i int) string { return strings.Repeat(string(rune('a'+i%26)), 100+i) }
	info, err := s.Put(ctx, "lease/x.json", strings.NewReader(body(0)), store.PutOptions{Size: int64(len(body(0)))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		etag := info.ETag
		for i := 1; i < 200; i++ {
			in, err := s.Put(ctx, "lease/x.json", strings.NewReader(body(i)), store.PutOptions{Size: int64(len(body(i))), IfMatch: etag})
			if err != nil {
				t.Error(err)
				return
			}
			etag = in.ETag
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		rc, got, err := s.Get(ctx, "lease/x.json", store.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != got.SHA256 || int64(len(b)) != got.Size {
			t.Fatalf("read %d bytes with sha256 %x, but metadata says size %d sha256 %s (ETag %s)", len(b), sum, got.Size, got.SHA256, got.ETag)
		}
	}
}

// Creates of the same keys racing from two stores on one folder (as two
// processes would) and from many goroutines: exactly one wins each key, and
// every object's bytes match the SHA-256 of its metadata, never another
// writer's.
func TestCreatesRaceAcrossStores(t *testing.T) {
	root := t.TempDir()
	var stores [2]*fsstore.Store
	for i := range stores {
		s, err := fsstore.New(root)
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	const keys, writers = 40, 12
	wins := make([]atomic.Int32, keys)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			s := stores[w%2]
			for k := range keys {
				body := fmt.Sprintf("writer %d key %d", w, k)
				_, err := s.Put(context.Background(), fmt.Sprintf("r/d%d/k%d", k%3, k), strings.NewReader(body), store.PutOptions{Size: int64(len(body))})
				switch {
				case err == nil:
					wins[k].Add(1)
				case !errors.Is(err, store.ErrExists):
					t.Errorf("key %d: %v", k, err)
				}
			}
		})
	}
	wg.Wait()
	for k := range keys {
		if n := wins[k].Load(); n != 1 {
			t.Errorf("key %d: %d creates won, want 1", k, n)
		}
		key := fmt.Sprintf("r/d%d/k%d", k%3, k)
		rc, info, err := stores[0].Get(context.Background(), key, store.GetOptions{})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != info.SHA256 {
			t.Errorf("%s: bytes %q do not match the metadata's SHA-256", key, b)
		}
	}
	if left := tempFiles(t, root); len(left) != 0 {
		t.Fatalf("temporary files left behind: %q", left)
	}
}

// tempFiles lists the temporary files under the store's own folder.
func tempFiles(t *testing.T, root string) []string {
	t.Helper()
	var left []string
	own := filepath.Join(root, ".logkeeper")
	err := filepath.WalkDir(own, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(own, p)
		if strings.HasSuffix(rel, ".tmp") || strings.HasPrefix(rel, "tmp"+string(filepath.Separator)) {
			left = append(left, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// List gives keys in ascending order of the whole key, although it walks
// folder by folder: "a/b" comes after "a.b" and before "a0".
func TestListOrderAcrossFolders(t *testing.T) {
	s := newStore(t)
	keys := []string{"a0", "a/b", "a.b", "a-c/x", "a/b0/c", "a/b/", "b"}
	for _, k := range keys {
		k = strings.TrimSuffix(k, "/")
		if _, err := s.Put(context.Background(), k, strings.NewReader("x"), store.PutOptions{Size: 1}); err != nil && !errors.Is(err, store.ErrExists) {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	var got []string
	if err := s.List(context.Background(), "", func(oi store.ObjectInfo) error { got = append(got, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{"a-c/x", "a.b", "a/b", "a/b0/c", "a0", "b"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list order %q, want %q", got, want)
	}
	got = nil
	if err := s.List(context.Background(), "a/b", func(oi store.ObjectInfo) error { got = append(got, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{"a/b", "a/b0/c"}) {
		t.Fatalf("list a/b: %q", got)
	}
}
