package fsstore_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
)

// hostileRoot returns a store with one good object, "s/objects/r/good",
// and its root, for tests that then plant something odd beside it.
func hostileRoot(t *testing.T) (*fsstore.Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), "s/objects/r/good", strings.NewReader("good"), store.PutOptions{Size: 4}); err != nil {
		t.Fatal(err)
	}
	return s, root
}

// Every kind of non-regular file at a key is refused on the opened
// descriptor, without following or blocking, as ErrUnreadable of that key
// only; List still lists it (so a verifier reports it) and every other key.
func TestOnlyRegularFilesAreRead(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("private key"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		plant func(t *testing.T, path string)
	}{
		{"symlink to a file outside", func(t *testing.T, p string) { must(t, os.Symlink(secret, p)) }},
		{"symlink to /dev/zero", func(t *testing.T, p string) { must(t, os.Symlink("/dev/zero", p)) }},
		{"dangling symlink", func(t *testing.T, p string) { must(t, os.Symlink("/nonexistent/x", p)) }},
		{"FIFO", func(t *testing.T, p string) { must(t, syscall.Mkfifo(p, 0o600)) }},
		{"unix socket", func(t *testing.T, p string) {
			fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
			must(t, err)
			t.Cleanup(func() { syscall.Close(fd) })
			must(t, syscall.Bind(fd, &syscall.SockaddrUnix{Name: p}))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, root := hostileRoot(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			must(t, os.MkdirAll(filepath.Join(root, "s/objects/r"), 0o750))
			tc.plant(t, filepath.Join(root, "s/objects/r/odd"))
			if _, _, err := s.Get(ctx, "s/objects/r/odd", store.GetOptions{}); !errors.Is(err, store.ErrUnreadable) {
				t.Fatalf("get: want ErrUnreadable, got %v", err)
			}
			if _, err := s.Head(ctx, "s/objects/r/odd", store.GetOptions{}); !errors.Is(err, store.ErrUnreadable) {
				t.Fatalf("head: want ErrUnreadable, got %v", err)
			}
			var keys []string
			must(t, s.List(ctx, "s/", func(oi store.ObjectInfo) error { keys = append(keys, oi.Key); return nil }))
			if strings.Join(keys, ",") != "s/objects/r/good,s/objects/r/odd" {
				t.Fatalf("listed %v", keys)
			}
			if ctx.Err() != nil {
				t.Fatal("blocked")
			}
		})
	}
}

// A folder inside the store replaced by a symbolic link is never written
// through, nor read through.
func TestNeverThroughSymlinkedFolder(t *testing.T) {
	s, root := hostileRoot(t)
	ctx := context.Background()
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "planted"), []byte("x"), 0o600))
	must(t, os.Rename(filepath.Join(root, "s/objects"), filepath.Join(root, "s/objects.moved")))
	must(t, os.Symlink(outside, filepath.Join(root, "s/objects")))
	_, err := s.Put(ctx, "s/objects/r2/new", strings.NewReader("data"), store.PutOptions{Size: 4})
	if !errors.Is(err, store.ErrUnreadable) {
		t.Fatalf("put through a symlinked folder: want ErrUnreadable, got %v", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Fatalf("the folder outside the store was written to: %v", ents)
	}
	if _, _, err := s.Get(ctx, "s/objects/planted", store.GetOptions{}); !errors.Is(err, store.ErrUnreadable) {
		t.Fatalf("get through a symlinked folder: want ErrUnreadable, got %v", err)
	}
	// The metadata folder too: a create that writes there (a side file,
	// or a named temporary file beside it) refuses; one that writes
	// nothing there (the metadata in an attribute of an anonymous file in
	// the key's folder) does not go through it at all.
	meta := filepath.Join(root, ".logkeeper/meta/t")
	must(t, os.Symlink(outside, meta))
	anon := fsstore.UsesTmpfile(s)
	for i, mode := range []string{"anonymous", "named", "side"} {
		switch mode {
		case "named":
			fsstore.UseNamedTemps(s)
		case "side":
			fsstore.UseSideFiles(s)
		}
		key := fmt.Sprintf("t/x%d", i)
		_, err := s.Put(ctx, key, strings.NewReader("data"), store.PutOptions{Size: 4})
		switch {
		case mode == "anonymous" && !anon:
			t.Log("no anonymous temporary files on this filesystem")
		case mode == "anonymous" && err != nil:
			t.Fatalf("put of %s (%s) with a symlinked metadata folder: %v", key, mode, err)
		case mode != "anonymous" && !errors.Is(err, store.ErrUnreadable):
			t.Fatalf("put of %s (%s) with a symlinked metadata folder: want ErrUnreadable, got %v", key, mode, err)
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 1 {
			t.Fatalf("the folder outside the store was written to (%s): %v", mode, ents)
		}
	}
}

// Corrupt metadata is a problem of its object only.
func TestCorruptMetadataIsPerObject(t *testing.T) {
	for name, data := range map[string]string{"garbage": "{not json", "huge": strings.Repeat(" ", 2<<20)} {
		t.Run(name, func(t *testing.T) {
			s, root := hostileRoot(t)
			fsstore.UseSideFiles(s) // the layout of old archives; xattr_test.go has the attribute's
			ctx := context.Background()
			if _, err := s.Put(ctx, "s/objects/r/bad", strings.NewReader("bad"), store.PutOptions{Size: 3}); err != nil {
				t.Fatal(err)
			}
			must(t, os.WriteFile(filepath.Join(root, ".logkeeper/meta/s/objects/r/bad.json"), []byte(data), 0o600))
			if _, err := s.Head(ctx, "s/objects/r/bad", store.GetOptions{}); !errors.Is(err, store.ErrUnreadable) {
				t.Fatalf("head: want ErrUnreadable, got %v", err)
			}
			if _, err := s.Head(ctx, "s/objects/r/good", store.GetOptions{}); err != nil {
				t.Fatalf("head of the good object: %v", err)
			}
			var keys []string
			must(t, s.List(ctx, "s/", func(oi store.ObjectInfo) error { keys = append(keys, oi.Key); return nil }))
			if len(keys) != 2 {
				t.Fatalf("listed %v", keys)
			}
		})
	}
}

// A lock file replaced by a FIFO, and a lock held by another process, never
// block a reader beyond its context.
func TestLockNeverBlocksPastContext(t *testing.T) {
	s, root := hostileRoot(t)
	lock := filepath.Join(root, ".logkeeper/lock")
	f, err := os.OpenFile(lock, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := s.Head(ctx, "s/objects/r/good", store.GetOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("head while another process holds the lock: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("waited %v", d)
	}
	must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_UN))
	must(t, os.Remove(lock))
	must(t, syscall.Mkfifo(lock, 0o600))
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	if _, err := s.Head(ctx2, "s/objects/r/good", store.GetOptions{}); !errors.Is(err, store.ErrUnreadable) {
		t.Fatalf("head with a FIFO lock file: %v", err)
	}
}

// OpenReadOnly creates nothing, fails on a missing root naming it, and
// refuses writes.
func TestOpenReadOnly(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-store")
	_, err := fsstore.OpenReadOnly(missing)
	if !errors.Is(err, store.ErrNoStore) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("open of a missing root: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("open created the missing root")
	}
	empty := t.TempDir()
	s, err := fsstore.OpenReadOnly(empty)
	must(t, err)
	ctx := context.Background()
	if _, err := s.Head(ctx, "a/b", store.GetOptions{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("head: %v", err)
	}
	must(t, s.List(ctx, "a/", func(store.ObjectInfo) error { return nil }))
	if _, err := s.Put(ctx, "a/b", strings.NewReader("x"), store.PutOptions{Size: 1}); !errors.Is(err, fsstore.ErrReadOnly) {
		t.Fatalf("put on a read-only store: %v", err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Fatalf("read-only open created %v", ents)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
