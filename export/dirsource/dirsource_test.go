package dirsource_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/export/dirsource"
	"github.com/logkeeper/logkeeper/manifest"
)

// secret stands for the signing key: every attack below tries to get its
// bytes archived in place of a listed file of the same size.
const secret = "-----BEGIN PRIVATE KEY----- 0123"

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixture is a source folder and, outside it, a key file.
type fixture struct {
	t    *testing.T
	root string
	key  string
	src  *dirsource.Source
}

func newFixture(t *testing.T, opts dirsource.Options) *fixture {
	t.Helper()
	base := t.TempDir()
	f := &fixture{t: t, root: filepath.Join(base, "logs"), key: filepath.Join(base, "key.pem")}
	write(t, f.key, secret)
	if err := os.MkdirAll(f.root, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := dirsource.NewWithOptions(f.root, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.src = src
	return f
}

func (f *fixture) path(rel string) string { return filepath.Join(f.root, filepath.FromSlash(rel)) }

func (f *fixture) list() []export.File {
	f.t.Helper()
	files, err := f.src.List(context.Background(), manifest.Window{})
	if err != nil {
		f.t.Fatalf("list: %v", err)
	}
	return files
}

func (f *fixture) file(files []export.File, id string) export.File {
	f.t.Helper()
	for _, x := range files {
		if x.ID == id {
			return x
		}
	}
	f.t.Fatalf("%q not listed in %v", id, files)
	return export.File{}
}

// read opens and reads a listed file within five seconds.
func (f *fixture) read(file export.File) (string, error) {
	f.t.Helper()
	type result struct {
		data string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		rc, err := f.src.Open(context.Background(), file)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		done <- result{string(b), err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-time.After(5 * time.Second):
		f.t.Fatalf("open/read of %s hangs", file.ID)
		return "", nil
	}
}

// listing is what a test expects of one listed item.
type listing struct {
	id, skip string
	failed   bool
}

func summary(files []export.File) []listing {
	out := make([]listing, len(files))
	for i, f := range files {
		out[i] = listing{id: f.ID, skip: f.Skip, failed: f.Err != nil}
	}
	return out
}

func equal(a, b []listing) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestListRecordsLinksAndSpecialFiles(t *testing.T) {
	f := newFixture(t, dirsource.Options{})
	write(t, f.path("a.log"), "aaa")
	write(t, f.path("sub/b.log"), "bbb")
	if err := os.Symlink(f.key, f.path("key-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.log", f.path("sub/rel-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(f.path("sub"), f.path("dir-link")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(f.path("pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", f.path("sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := []listing{
		{id: "a.log"},
		{id: "dir-link", skip: "symbolic link"},
		{id: "key-link", skip: "symbolic link"},
		{id: "pipe", skip: "named pipe (FIFO)"},
		{id: "sock", skip: "socket"},
		{id: "sub/b.log"},
		{id: "sub/rel-link", skip: "symbolic link"},
	}
	// Devices need CAP_MKNOD; a container may refuse it.
	if err := unix.Mknod(f.path("null"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))); err == nil {
		want = append(want[:3], append([]listing{{id: "null", skip: "character device"}}, want[3:]...)...)
	} else {
		t.Logf("no character device in the test (mknod: %v)", err)
	}
	if got := summary(f.list()); !equal(got, want) {
		t.Fatalf("listing:\n got %v\nwant %v", got, want)
	}
}

// TestOpenChecksWhatWasListed swaps something in for a listed file between
// the listing and the open (or during the read): the open or the read
// fails with ErrChanged and no byte of anything else is ever returned.
func TestOpenChecksWhatWasListed(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string // listed, same size as the key
		swap func(f *fixture)
		want string // in the error
	}{
		{"symlink to the key", "a.log", func(f *fixture) {
			os.Remove(f.path("a.log"))
			must(t, os.Symlink(f.key, f.path("a.log")))
		}, "it is a symbolic link now"},
		{"fifo", "a.log", func(f *fixture) {
			os.Remove(f.path("a.log"))
			must(t, unix.Mkfifo(f.path("a.log"), 0o644))
		}, "it is a named pipe (FIFO) now"},
		{"folder swapped for a symlink", "sub/a.log", func(f *fixture) {
			elsewhere := filepath.Join(filepath.Dir(f.root), "elsewhere")
			write(t, filepath.Join(elsewhere, "a.log"), secret)
			must(t, os.RemoveAll(f.path("sub")))
			must(t, os.Symlink(elsewhere, f.path("sub")))
		}, "it is a symbolic link now"},
		{"folder swapped for a file", "sub/a.log", func(f *fixture) {
			must(t, os.RemoveAll(f.path("sub")))
			write(t, f.path("sub"), secret)
		}, "it is not a folder now"},
		{"hard link to the key", "a.log", func(f *fixture) {
			os.Remove(f.path("a.log"))
			must(t, os.Link(f.key, f.path("a.log")))
		}, "it is another file now"},
		{"replaced by a file of the same size and time", "a.log", func(f *fixture) {
			fi, err := os.Stat(f.path("a.log"))
			must(t, err)
			tmp := f.path("a.log.tmp")
			write(t, tmp, secret)
			must(t, os.Chtimes(tmp, fi.ModTime(), fi.ModTime()))
			must(t, os.Rename(tmp, f.path("a.log")))
		}, "it is another file now"},
		{"rewritten in place", "a.log", func(f *fixture) {
			fi, err := os.Stat(f.path("a.log"))
			must(t, err)
			must(t, os.WriteFile(f.path("a.log"), []byte(secret), 0o644))
			must(t, os.Chtimes(f.path("a.log"), fi.ModTime(), fi.ModTime().Add(time.Second)))
		}, "modified at"},
		{"grown", "a.log", func(f *fixture) {
			appendTo(t, f.path("a.log"), "more")
		}, "its size is 36 bytes now, listed as 32"},
		{"deleted", "a.log", func(f *fixture) {
			must(t, os.Remove(f.path("a.log")))
		}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, dirsource.Options{})
			write(t, f.path(tc.file), strings.Repeat("x", len(secret)))
			file := f.file(f.list(), tc.file)
			tc.swap(f)
			data, err := f.read(file)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("read after the swap: %q, %v; want an error with %q", data, err, tc.want)
			}
			if tc.name != "deleted" && !errors.Is(err, dirsource.ErrChanged) {
				t.Fatalf("error %v does not wrap ErrChanged", err)
			}
			if strings.Contains(data, "PRIVATE") {
				t.Fatal("the key's bytes were returned")
			}
		})
	}
}

func TestReadFailsWhenTheFileChangesWhileRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(path string)
		want   string
	}{
		{"grows", func(p string) { appendTo(t, p, "late line\n") }, "its size is"},
		{"shrinks", func(p string) { must(t, os.Truncate(p, 10)) }, "shrank while it was read"},
		{"rewritten, same size", func(p string) {
			fi, err := os.Stat(p)
			must(t, err)
			fh, err := os.OpenFile(p, os.O_WRONLY, 0)
			must(t, err)
			_, err = fh.WriteAt([]byte("Z"), 70000)
			must(t, err)
			must(t, fh.Close())
			must(t, os.Chtimes(p, fi.ModTime(), fi.ModTime().Add(time.Second)))
		}, "modified at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, dirsource.Options{})
			write(t, f.path("big.log"), strings.Repeat("l", 100000))
			file := f.file(f.list(), "big.log")
			rc, err := f.src.Open(context.Background(), file)
			must(t, err)
			defer rc.Close()
			if _, err := io.ReadFull(rc, make([]byte, 50000)); err != nil {
				t.Fatal(err)
			}
			tc.change(f.path("big.log"))
			n, err := io.Copy(io.Discard, rc)
			if err == nil || !errors.Is(err, dirsource.ErrChanged) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("read of a file that %s: %d more bytes, %v", tc.name, n, err)
			}
			if 50000+n > 100000 {
				t.Fatalf("read %d bytes of a file listed with 100000", 50000+n)
			}
		})
	}
}

func TestExcludedFileNeverOffered(t *testing.T) {
	f := newFixture(t, dirsource.Options{})
	src, err := dirsource.NewWithOptions(f.root, dirsource.Options{Exclude: []string{f.key}})
	must(t, err)
	f.src = src
	write(t, f.path("a.log"), "a")
	must(t, os.Link(f.key, f.path("innocent.log")))
	want := []listing{{id: "a.log"}, {id: "innocent.log", skip: dirsource.ReasonExcluded}}
	if got := summary(f.list()); !equal(got, want) {
		t.Fatalf("listing:\n got %v\nwant %v", got, want)
	}
}

func TestFollowSymlinksStaysInside(t *testing.T) {
	f := newFixture(t, dirsource.Options{FollowSymlinks: true})
	write(t, f.path("real/a.log"), "inside")
	must(t, os.Symlink("real/a.log", f.path("current.log")))
	must(t, os.Symlink(f.key, f.path("key.log")))
	must(t, os.Symlink("../../key.pem", f.path("real/up.log")))
	must(t, os.Symlink("real", f.path("folder")))
	must(t, os.Symlink("missing", f.path("broken")))
	must(t, unix.Mkfifo(f.path("real/pipe"), 0o644))
	must(t, os.Symlink("real/pipe", f.path("pipe-link")))
	files := f.list()
	want := []listing{
		{id: "broken", skip: dirsource.ReasonLinkBroken},
		{id: "current.log"},
		{id: "folder", skip: dirsource.ReasonLinkNotRegular},
		{id: "key.log", skip: dirsource.ReasonLinkOutside},
		{id: "pipe-link", skip: dirsource.ReasonLinkNotRegular},
		{id: "real/a.log"},
		{id: "real/pipe", skip: "named pipe (FIFO)"},
		{id: "real/up.log", skip: dirsource.ReasonLinkOutside},
	}
	if got := summary(files); !equal(got, want) {
		t.Fatalf("listing:\n got %v\nwant %v", got, want)
	}
	if data, err := f.read(f.file(files, "current.log")); err != nil || data != "inside" {
		t.Fatalf("followed link: %q, %v", data, err)
	}
	// Retargeted to the key after the listing: the target is checked.
	must(t, os.Remove(f.path("real/a.log")))
	must(t, os.Symlink(f.key, f.path("real/a.log")))
	if data, err := f.read(f.file(files, "current.log")); !errors.Is(err, dirsource.ErrChanged) {
		t.Fatalf("retargeted link: %q, %v", data, err)
	}
}

func TestInvalidUTF8NamesStayDistinct(t *testing.T) {
	f := newFixture(t, dirsource.Options{})
	write(t, f.path("caf\xe9.log"), "latin-1 e")
	write(t, f.path("caf\xe8.log"), "latin-1 e grave")
	write(t, f.path("d\xff/x%41.log"), "in a folder")
	write(t, f.path("caf\uFFFD.log"), "a real U+FFFD")
	files := f.list()
	want := []listing{
		{id: "./caf%E8.log"}, {id: "./caf%E9.log"}, {id: "./d%FF/x%41.log"}, {id: "caf\uFFFD.log"},
	}
	if got := summary(files); !equal(got, want) {
		t.Fatalf("listing:\n got %v\nwant %v", got, want)
	}
	for id, content := range map[string]string{"./caf%E9.log": "latin-1 e", "./caf%E8.log": "latin-1 e grave", "./d%FF/x%41.log": "in a folder", "caf\uFFFD.log": "a real U+FFFD"} {
		if data, err := f.read(f.file(files, id)); err != nil || data != content {
			t.Errorf("%s: %q, %v", id, data, err)
		}
	}
}

func TestOpenRefusesWhatWasNotListed(t *testing.T) {
	f := newFixture(t, dirsource.Options{})
	write(t, f.path("a.log"), "a")
	f.list()
	for _, id := range []string{"b.log", "../key.pem", "/etc/passwd"} {
		if _, err := f.src.Open(context.Background(), export.File{ID: id, Path: id}); err == nil || !strings.Contains(err.Error(), "was not listed") {
			t.Errorf("open %q: %v", id, err)
		}
	}
}

func TestListHonoursCancellation(t *testing.T) {
	f := newFixture(t, dirsource.Options{})
	write(t, f.path("a/b.log"), "b")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.src.List(ctx, manifest.Window{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("list with a cancelled context: %v", err)
	}
}

func appendTo(t *testing.T, path, data string) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = fh.WriteString(data)
	must(t, err)
	must(t, fh.Close())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkListAndOpen lists a folder of 1000 files in 10 subfolders and
// opens (with the identity checks) and reads each.
func BenchmarkListAndOpen(b *testing.B) {
	root := b.TempDir()
	for i := range 1000 {
		p := filepath.Join(root, fmt.Sprintf("d%d", i%10), fmt.Sprintf("f%04d.log", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("a log line\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	src, err := dirsource.New(root)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		files, err := src.List(ctx, manifest.Window{})
		if err != nil || len(files) != 1000 {
			b.Fatalf("list: %d files, %v", len(files), err)
		}
		for _, f := range files {
			rc, err := src.Open(ctx, f)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				b.Fatal(err)
			}
			rc.Close()
		}
	}
}

// Where openat2(2) is missing, Open finds the same changes.
func TestOpenChecksWhatWasListedWithoutOpenat2(t *testing.T) {
	defer dirsource.WithoutOpenat2()()
	TestOpenChecksWhatWasListed(t)
}
