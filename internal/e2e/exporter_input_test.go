package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/export/dirsource"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
)

// secret stands for the signing key file: every attack on the source
// folder tries to get its bytes into the archive.
const secret = "-----BEGIN PRIVATE KEY----- 0123"

// inputEnv is a source folder an intruder can write to, the key file
// beside it, and a store.
type inputEnv struct {
	t      *testing.T
	root   string
	key    string
	st     store.Store
	signer signing.Signer
	// afterList, when set, runs between the listing and the uploads.
	afterList func()
	opts      dirsource.Options
}

func newInputEnv(t *testing.T, st store.Store) *inputEnv {
	t.Helper()
	base := t.TempDir()
	e := &inputEnv{t: t, root: filepath.Join(base, "logs"), key: filepath.Join(base, "key.pem"), st: st, signer: fixedSigner(t, 9)}
	writeFile(t, base, "key.pem", []byte(secret))
	must(t, os.MkdirAll(e.root, 0o755))
	return e
}

func (e *inputEnv) path(rel string) string { return filepath.Join(e.root, filepath.FromSlash(rel)) }

func (e *inputEnv) write(rel, data string) { writeFile(e.t, e.root, rel, []byte(data)) }

// hooked runs a function between a source's listing and its opens.
type hooked struct {
	export.Source
	after func()
}

func (h hooked) List(ctx context.Context, w manifest.Window) ([]export.File, error) {
	files, err := h.Source.List(ctx, w)
	if h.after != nil {
		h.after()
	}
	return files, err
}

// run exports the folder once; it must end within ten seconds.
func (e *inputEnv) run() (*export.Result, error) {
	e.t.Helper()
	src, err := dirsource.NewWithOptions(e.root, e.opts)
	must(e.t, err)
	job := &export.Job{Stream: "app", Store: e.st, Signer: e.signer, Source: hooked{Source: src, after: e.afterList}, Workers: 2,
		Exporter: manifest.Exporter{Name: "logkeeper", Version: "test", Host: "test"}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := job.Run(ctx, time.Time{}, "test")
	if ctx.Err() != nil {
		e.t.Fatalf("the run did not end within 10s: %v", err)
	}
	return res, err
}

// verify checks the whole chain, reading every object, and returns the
// kinds of problem found.
func (e *inputEnv) verify() []string {
	e.t.Helper()
	rep, err := custody.Verify(context.Background(), e.st, "app", custody.VerifyOptions{PublicKey: e.signer.Public(), Deep: true})
	if err != nil {
		e.t.Fatalf("verify: %v", err)
	}
	return kinds(rep)
}

// objectsHold reports whether any stored object contains s.
func (e *inputEnv) objectsHold(s string) bool {
	e.t.Helper()
	found := false
	err := e.st.List(context.Background(), "app/objects/", func(oi store.ObjectInfo) error {
		rc, _, err := e.st.Get(context.Background(), oi.Key, store.GetOptions{})
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if bytes.Contains(b, []byte(s)) {
			found = true
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return found
}

type outcome struct {
	files, notCollected, failed int
	failedIDs                   []string
	skipped                     []manifest.Skip
}

func outcomeOf(res *export.Result) outcome {
	o := outcome{files: res.Files, notCollected: res.NotCollected, failed: res.Failed, skipped: res.Manifest.Skipped}
	for _, f := range res.Manifest.Failures {
		o.failedIDs = append(o.failedIDs, f.ID)
	}
	return o
}

func (o outcome) equal(p outcome) bool {
	return o.files == p.files && o.notCollected == p.notCollected && o.failed == p.failed &&
		slices.Equal(o.failedIDs, p.failedIDs) && slices.Equal(o.skipped, p.skipped)
}

// TestExporterArchivesWhatItListed: the examples and more of the
// same class. Each run must end with the manifest saying exactly what
// happened, the key's bytes nowhere in the archive, and verify clean.
func TestExporterArchivesWhatItListed(t *testing.T) {
	same := strings.Repeat("x", len(secret)) // a log of the key's size
	for _, tc := range []struct {
		name  string
		setup func(e *inputEnv)
		swap  func(e *inputEnv) // between the listing and the uploads
		want  outcome
		// errIn is in the failure's error, when one is expected.
		errIn string
		// then checks more, on a run without failures.
		then func(t *testing.T, e *inputEnv, res *export.Result)
	}{
		{name: "symlink to the key swapped in after listing",
			setup: func(e *inputEnv) { e.write("a.log", same) },
			swap: func(e *inputEnv) {
				must(t, os.Remove(e.path("a.log")))
				must(t, os.Symlink(e.key, e.path("a.log")))
			},
			want:  outcome{failed: 1, failedIDs: []string{"a.log"}},
			errIn: "it is a symbolic link now"},
		{name: "FIFO swapped in after listing",
			setup: func(e *inputEnv) { e.write("a.log", same); e.write("b.log", "b") },
			swap: func(e *inputEnv) {
				must(t, os.Remove(e.path("a.log")))
				must(t, unix.Mkfifo(e.path("a.log"), 0o644))
			},
			want:  outcome{files: 1, failed: 1, failedIDs: []string{"a.log"}},
			errIn: "it is a named pipe (FIFO) now"},
		{name: "folder swapped for a symlink mid-walk",
			setup: func(e *inputEnv) { e.write("sub/a.log", same) },
			swap: func(e *inputEnv) {
				other := filepath.Join(filepath.Dir(e.root), "other")
				must(t, os.MkdirAll(other, 0o755))
				must(t, os.Link(e.key, filepath.Join(other, "a.log")))
				must(t, os.RemoveAll(e.path("sub")))
				must(t, os.Symlink(other, e.path("sub")))
			},
			want:  outcome{failed: 1, failedIDs: []string{"sub/a.log"}},
			errIn: "it is a symbolic link now"},
		{name: "file replaced by another of the same size",
			setup: func(e *inputEnv) { e.write("a.log", same) },
			swap: func(e *inputEnv) {
				fi, err := os.Stat(e.path("a.log"))
				must(t, err)
				e.write("a.new", secret)
				must(t, os.Chtimes(e.path("a.new"), fi.ModTime(), fi.ModTime()))
				must(t, os.Rename(e.path("a.new"), e.path("a.log")))
			},
			want:  outcome{failed: 1, failedIDs: []string{"a.log"}},
			errIn: "it is another file now"},
		{name: "file growing after listing",
			setup: func(e *inputEnv) { e.write("a.log", "line 1\n") },
			swap: func(e *inputEnv) {
				fh, err := os.OpenFile(e.path("a.log"), os.O_APPEND|os.O_WRONLY, 0)
				must(t, err)
				_, err = fh.WriteString(secret)
				must(t, err)
				must(t, fh.Close())
			},
			want:  outcome{failed: 1, failedIDs: []string{"a.log"}},
			errIn: "its size is"},
		{name: "symlinks, FIFOs and devices at listing",
			setup: func(e *inputEnv) {
				e.write("a.log", "a")
				must(t, os.Symlink(e.key, e.path("key-link")))
				must(t, os.Symlink("a.log", e.path("current")))
				must(t, unix.Mkfifo(e.path("pipe"), 0o644))
				if err := unix.Mknod(e.path("zero"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5))); err != nil {
					t.Skipf("mknod refused (%v): devices are covered in dirsource's tests where allowed", err)
				}
			},
			want: outcome{files: 1, notCollected: 4, skipped: []manifest.Skip{
				{ID: "current", Path: "current", Reason: "symbolic link"},
				{ID: "key-link", Path: "key-link", Reason: "symbolic link"},
				{ID: "pipe", Path: "pipe", Reason: "named pipe (FIFO)"},
				{ID: "zero", Path: "zero", Reason: "character device"},
			}}},
		{name: "hard link to the key file at listing",
			setup: func(e *inputEnv) {
				e.opts.Exclude = []string{e.key}
				e.write("a.log", "a")
				must(t, os.Link(e.key, e.path("app.log.1")))
			},
			want: outcome{files: 1, notCollected: 1, skipped: []manifest.Skip{
				{ID: "app.log.1", Path: "app.log.1", Reason: dirsource.ReasonExcluded}}}},
		{name: "a path too long for a key",
			setup: func(e *inputEnv) {
				deep := strings.Repeat(strings.Repeat("d", 180)+"/", 6) // 1086 bytes of folders
				e.write(deep+"x.log", "x")
				e.write(deep+"y.log", "y")
				e.write(strings.Repeat("n", 250), "a 250-byte name")
			},
			want: outcome{files: 3},
			then: func(t *testing.T, e *inputEnv, res *export.Result) {
				keys := map[string]bool{}
				for _, o := range res.Manifest.Objects {
					if len(o.Key) > store.MaxKeyLen {
						t.Fatalf("key of %d bytes", len(o.Key))
					}
					keys[o.Key] = true
				}
				if len(keys) != 3 {
					t.Fatalf("keys %v are not distinct", keys)
				}
			}},
		{name: "two invalid UTF-8 names",
			setup: func(e *inputEnv) {
				e.write("caf\xe9.log", "e acute")
				e.write("caf\xe8.log", "e grave")
			},
			want: outcome{files: 2},
			then: func(t *testing.T, e *inputEnv, res *export.Result) {
				var ids []string
				for _, o := range res.Manifest.Objects {
					ids = append(ids, o.Source.ID)
				}
				if want := []string{"./caf%E8.log", "./caf%E9.log"}; !slices.Equal(ids, want) {
					t.Fatalf("ids %q, want %q", ids, want)
				}
			}},
	} {
		for storeName, newStore := range inputStores() {
			t.Run(storeName+"/"+tc.name, func(t *testing.T) {
				e := newInputEnv(t, newStore(t))
				tc.setup(e)
				if tc.swap != nil {
					e.afterList = func() { tc.swap(e) }
				}
				res, err := e.run()
				if res == nil {
					t.Fatalf("no manifest written: %v", err)
				}
				if (tc.want.failed > 0) != errors.Is(err, export.ErrFilesFailed) {
					t.Fatalf("run error %v with %d failures", err, tc.want.failed)
				}
				if got := outcomeOf(res); !got.equal(tc.want) {
					t.Fatalf("outcome:\n got %+v\nwant %+v", got, tc.want)
				}
				if tc.errIn != "" && !strings.Contains(res.Manifest.Failures[0].Error, tc.errIn) {
					t.Fatalf("failure %q does not say %q", res.Manifest.Failures[0].Error, tc.errIn)
				}
				if e.objectsHold("PRIVATE KEY") {
					t.Fatal("the key's bytes are in the archive")
				}
				if kinds := e.verify(); len(kinds) != 0 {
					t.Fatalf("verify found %v", kinds)
				}
				if tc.then == nil {
					return
				}
				tc.then(t, e, res)
				// Archived once: the next run finds every file archived.
				again, err := e.run()
				if err != nil || again.Files != 0 || again.Skipped != tc.want.files {
					t.Fatalf("second run: files %d skipped %d, %v; want 0 and %d", again.Files, again.Skipped, err, tc.want.files)
				}
			})
		}
	}
}

// inputStores are the stores the exporter's input is tried against.
func inputStores() map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"fs": func(t *testing.T) store.Store { return newFS(t) },
		"versitygw": func(t *testing.T) store.Store {
			env := testenv.S3(t)
			return newS3(t, env, env.NewBucket(t, false))
		},
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
