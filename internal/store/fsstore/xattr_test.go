package fsstore_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/internal/store/storetest"
)

// The side-file layout (old archives, filesystems without user attributes)
// keeps every promise of a store.
func TestConformanceSideFiles(t *testing.T) { conformanceWith(t, fsstore.UseSideFiles) }

// conformanceWith runs the store conformance suite on stores laid out by
// layout (one of the layouts older stores, or other filesystems, have).
func conformanceWith(t *testing.T, layout func(*fsstore.Store)) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := fsstore.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		layout(s)
		return s
	}, storetest.Options{PartSize: 1 << 20})
}

// xattrStore is a store that keeps metadata in attributes; the test is
// skipped where the filesystem has none.
func xattrStore(t *testing.T, root string) *fsstore.Store {
	t.Helper()
	s, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if !fsstore.UsesXattr(s) {
		t.Skip("no user extended attributes on this filesystem")
	}
	return s
}

func getXattr(p string) ([]byte, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Lgetxattr(p, fsstore.MetaXattr, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// An archive written with side files reads the same through a store that
// writes attributes, and its objects can be replaced conditionally.
func TestSideFileArchiveKeepsReading(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	old, err := fsstore.New(root)
	must(t, err)
	fsstore.UseSideFiles(old)
	md := map[string]string{"logkeeper-run": "r1"}
	put, err := old.Put(ctx, "s/objects/r1/a.log", strings.NewReader("old bytes"), store.PutOptions{Size: 9, Metadata: md})
	must(t, err)
	lease, err := old.Put(ctx, "s/lease", strings.NewReader("v1"), store.PutOptions{Size: 2})
	must(t, err)

	s := xattrStore(t, root)
	h, err := s.Head(ctx, "s/objects/r1/a.log", store.GetOptions{})
	must(t, err)
	if h.SHA256 != put.SHA256 || h.ETag != put.ETag || h.Metadata["logkeeper-run"] != "r1" {
		t.Fatalf("head of an old object: %+v, written %+v", h, put)
	}
	var keys []string
	must(t, s.List(ctx, "s/", func(oi store.ObjectInfo) error {
		if oi.SHA256 == "" {
			t.Errorf("listed %s without its metadata", oi.Key)
		}
		keys = append(keys, oi.Key)
		return nil
	}))
	if len(keys) != 2 {
		t.Fatalf("listed %v", keys)
	}
	if _, err := s.Put(ctx, "s/lease", strings.NewReader("v2"), store.PutOptions{Size: 2, IfMatch: "1-wrong"}); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("replace with a wrong ETag: %v", err)
	}
	rep, err := s.Put(ctx, "s/lease", strings.NewReader("v2"), store.PutOptions{Size: 2, IfMatch: lease.ETag})
	must(t, err)
	if !strings.HasPrefix(rep.ETag, "2-") {
		t.Fatalf("replace of an old object: ETag %s", rep.ETag)
	}
	h, err = s.Head(ctx, "s/lease", store.GetOptions{})
	if err != nil || h.ETag != rep.ETag || string(readAll(t, s, "s/lease")) != "v2" {
		t.Fatalf("after replace: %+v, %v", h, err)
	}
	if _, err := getXattr(filepath.Join(root, "s", "lease")); err != nil {
		t.Fatalf("the replaced object has no attribute: %v", err)
	}
	// The old side file, now stale, is ignored.
	if _, err := s.Put(ctx, "s/lease", strings.NewReader("v3"), store.PutOptions{Size: 2, IfMatch: lease.ETag}); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("replace with the ETag of the stale side file: %v", err)
	}
}

// A side file beside an object that has the attribute is not read.
func TestStaleSideFileIgnored(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := xattrStore(t, root)
	put, err := s.Put(ctx, "s/objects/r/x", strings.NewReader("x"), store.PutOptions{Size: 1})
	must(t, err)
	side := filepath.Join(root, ".logkeeper/meta/s/objects/r/x.json")
	must(t, os.MkdirAll(filepath.Dir(side), 0o750))
	must(t, os.WriteFile(side, []byte(`{"size":1,"sha256":"00"}`), 0o600))
	h, err := s.Head(ctx, "s/objects/r/x", store.GetOptions{})
	if err != nil || h.SHA256 != put.SHA256 {
		t.Fatalf("head: %+v, %v", h, err)
	}
}

// A corrupt or oversized attribute is a problem of its object only.
func TestCorruptXattrIsPerObject(t *testing.T) {
	defer fsstore.SetMaxMetaXattr(1024)()
	compact := func(tail ...byte) string {
		b := append([]byte{0x01}, make([]byte, 32)...)
		b = binary.AppendUvarint(b, 4)
		b = binary.AppendVarint(b, 1)
		return string(append(b, tail...))
	}
	for name, data := range map[string]string{
		"garbage": "{not json", "oversized": strings.Repeat(" ", 2000), "empty": "",
		"compact, cut short":     compact()[:20],
		"compact, no generation": compact(),
		"compact, generation 0":  compact(0),
		"compact, bytes after":   compact(1, 0),
		"compact, bad varint":    compact(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		"unknown form":           "\x02" + compact()[1:],
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			root := t.TempDir()
			s := xattrStore(t, root)
			for _, k := range []string{"s/objects/r/good", "s/objects/r/bad"} {
				_, err := s.Put(ctx, k, strings.NewReader("data"), store.PutOptions{Size: 4})
				must(t, err)
			}
			must(t, unix.Lsetxattr(filepath.Join(root, "s/objects/r/bad"), fsstore.MetaXattr, []byte(data), 0))
			if _, err := s.Head(ctx, "s/objects/r/bad", store.GetOptions{}); !errors.Is(err, store.ErrUnreadable) || !strings.Contains(err.Error(), "s/objects/r/bad") {
				t.Fatalf("head: want ErrUnreadable naming the key, got %v", err)
			}
			if _, _, err := s.Get(ctx, "s/objects/r/bad", store.GetOptions{}); !errors.Is(err, store.ErrUnreadable) {
				t.Fatalf("get: want ErrUnreadable, got %v", err)
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

// Metadata too large for an attribute (over the cap, or over what the
// filesystem takes: ext4 keeps one block of attributes) goes to a side
// file, for creates and replaces, and reads back whole.
func TestLargeMetadataGoesToSideFile(t *testing.T) {
	big := map[string]string{"big": strings.Repeat("m", 6000)}
	for name, max := range map[string]int{"over the cap": 256, "over the filesystem's limit": 0} {
		t.Run(name, func(t *testing.T) {
			if max > 0 {
				defer fsstore.SetMaxMetaXattr(max)()
			}
			ctx := context.Background()
			root := t.TempDir()
			s := xattrStore(t, root)
			md := map[string]string{"k": strings.Repeat("v", 300)}
			if max == 0 {
				md = big
			}
			put, err := s.Put(ctx, "s/x", strings.NewReader("x"), store.PutOptions{Size: 1, Metadata: md})
			must(t, err)
			h, err := s.Head(ctx, "s/x", store.GetOptions{})
			if err != nil || h.ETag != put.ETag || len(h.Metadata["k"]+h.Metadata["big"]) < 300 {
				t.Fatalf("head: %v, %v", h.ETag, err)
			}
			if _, err := os.Stat(filepath.Join(root, ".logkeeper/meta/s/x.json")); err != nil && max > 0 {
				t.Fatalf("no side file: %v", err)
			}
			// A replace with small metadata moves it into the attribute; one
			// with large metadata back to the side file.
			rep, err := s.Put(ctx, "s/x", strings.NewReader("y"), store.PutOptions{Size: 1, IfMatch: put.ETag})
			must(t, err)
			if h, err := s.Head(ctx, "s/x", store.GetOptions{}); err != nil || h.ETag != rep.ETag || len(h.Metadata) != 0 {
				t.Fatalf("after a small replace: %+v, %v", h, err)
			}
			rep2, err := s.Put(ctx, "s/x", strings.NewReader("z"), store.PutOptions{Size: 1, IfMatch: rep.ETag, Metadata: md})
			must(t, err)
			if h, err := s.Head(ctx, "s/x", store.GetOptions{}); err != nil || h.ETag != rep2.ETag || len(h.Metadata) != 1 {
				t.Fatalf("after a large replace: %+v, %v", h, err)
			}
			if _, err := getXattr(filepath.Join(root, "s/x")); !errors.Is(err, unix.ENODATA) && max > 0 {
				t.Fatalf("attribute of an object whose metadata is in a side file: %v", err)
			}
		})
	}
}

// A file placed behind the store's back (no attribute, no side file) is
// reported with what the disk says, as before.
func TestForeignFileWithoutMetadata(t *testing.T) {
	root := t.TempDir()
	s := xattrStore(t, root)
	must(t, os.MkdirAll(filepath.Join(root, "f"), 0o750))
	must(t, os.WriteFile(filepath.Join(root, "f/x"), []byte("abc"), 0o600))
	h, err := s.Head(context.Background(), "f/x", store.GetOptions{})
	if err != nil || h.Size != 3 || h.SHA256 != "" {
		t.Fatalf("head: %+v, %v", h, err)
	}
	if _, err := os.Stat(filepath.Join(root, ".logkeeper/meta/f/x.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
}

// An attribute larger than the first read buffer, under the cap, is read
// whole.
func TestXattrLargerThanFirstRead(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := xattrStore(t, root)
	md := map[string]string{"k": strings.Repeat("v", 3000)}
	put, err := s.Put(ctx, "s/x", strings.NewReader("x"), store.PutOptions{Size: 1, Metadata: md})
	must(t, err)
	if b, err := getXattr(filepath.Join(root, "s/x")); err != nil || len(b) < 3000 {
		t.Fatalf("attribute: %d bytes, %v", len(b), err)
	}
	h, err := s.Head(ctx, "s/x", store.GetOptions{})
	if err != nil || h.ETag != put.ETag || h.Metadata["k"] != md["k"] {
		t.Fatalf("head: %v, %v", h.ETag, err)
	}
}

// A create with only the store's own metadata keeps it in the compact
// form, small enough to stay inside an ext4 inode (no attribute block of
// its own), and reads back as written; other metadata stays JSON.
func TestCompactMetaAttr(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := xattrStore(t, root)
	put, err := s.Put(ctx, "s/objects/r/a.log", strings.NewReader("hello\n"), store.PutOptions{Size: 6})
	must(t, err)
	attr, err := getXattr(filepath.Join(root, "s/objects/r/a.log"))
	must(t, err)
	if len(attr) > 56 || attr[0] != 0x01 {
		t.Fatalf("attribute of a plain create: %d bytes starting %q, want the compact form of at most 56", len(attr), attr[:1])
	}
	reopened := xattrStore(t, root)
	h, err := reopened.Head(ctx, "s/objects/r/a.log", store.GetOptions{})
	must(t, err)
	if h.SHA256 != put.SHA256 || h.Checksum != put.Checksum || h.ETag != put.ETag || h.Size != 6 ||
		!h.LastModified.Equal(put.LastModified) || h.LastModified.Location() != put.LastModified.Location() {
		t.Fatalf("head %+v, written %+v", h, put)
	}
	rep, err := reopened.Put(ctx, "s/objects/r/a.log", strings.NewReader("v2"), store.PutOptions{Size: 2, IfMatch: put.ETag})
	must(t, err)
	if h, err := reopened.Head(ctx, "s/objects/r/a.log", store.GetOptions{}); err != nil || h.ETag != rep.ETag || !strings.HasPrefix(h.ETag, "2-") {
		t.Fatalf("after replace: %+v, %v (written %+v)", h, err, rep)
	}
	typed, err := s.Put(ctx, "s/m.json", strings.NewReader("{}"), store.PutOptions{Size: 2, ContentType: "application/json"})
	must(t, err)
	attr, err = getXattr(filepath.Join(root, "s/m.json"))
	must(t, err)
	if attr[0] != '{' {
		t.Fatalf("attribute with a content type: %q, want JSON", attr)
	}
	if h, err := s.Head(ctx, "s/m.json", store.GetOptions{}); err != nil || h.ContentType != "application/json" || h.ETag != typed.ETag {
		t.Fatalf("head of a typed object: %+v, %v", h, err)
	}
}
