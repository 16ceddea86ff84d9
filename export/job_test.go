package export_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/export/dirsource"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/manifest"
)

// env is a source folder and a file store.
type env struct {
	t      *testing.T
	root   string
	st     store.Store
	signer signing.Signer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	base := t.TempDir()
	e := &env{t: t, root: filepath.Join(base, "logs")}
	if err := os.MkdirAll(e.root, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := fsstore.New(filepath.Join(base, "store"))
	if err != nil {
		t.Fatal(err)
	}
	e.st = st
	e.signer, err = signing.NewKeySigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *env) path(rel string) string { return filepath.Join(e.root, filepath.FromSlash(rel)) }

func (e *env) job(src export.Source) *export.Job {
	return &export.Job{Stream: "app", Store: e.st, Signer: e.signer, Source: src, Workers: 2,
		Exporter: manifest.Exporter{Name: "logkeeper", Version: "test", Host: "test"}}
}

// run exports the folder once, within ten seconds.
func (e *env) run() (*export.Result, error) {
	e.t.Helper()
	src, err := dirsource.New(e.root)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := e.job(src).Run(ctx, time.Time{}, "test")
	if ctx.Err() != nil {
		e.t.Fatalf("the run did not end within 10s: %v", err)
	}
	return res, err
}

// verify checks the whole chain, reading every object, and returns the
// kinds of problem found.
func (e *env) verify() []string {
	e.t.Helper()
	rep, err := custody.Verify(context.Background(), e.st, "app", custody.VerifyOptions{PublicKey: e.signer.Public(), Deep: true})
	if err != nil {
		e.t.Fatalf("verify: %v", err)
	}
	var kinds []string
	for _, p := range rep.Problems {
		kinds = append(kinds, p.Kind)
	}
	return kinds
}

// refusingStore refuses keys containing "refused" as too long, the way a
// store with a smaller key limit would.
type refusingStore struct{ store.Store }

func (r refusingStore) Put(ctx context.Context, key string, rd io.Reader, opts store.PutOptions) (store.ObjectInfo, error) {
	if strings.Contains(key, "refused") {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w: too long for this store", key, store.ErrInvalidKey)
	}
	return r.Store.Put(ctx, key, rd, opts)
}

// TestKeyRefusedFailsThatFileOnly: a key the store refuses is a failure
// of that file; the run writes its manifest and the stream goes on.
func TestKeyRefusedFailsThatFileOnly(t *testing.T) {
	e := newEnv(t)
	e.st = refusingStore{e.st}
	writeFile(t, e.path("a.log"), "a")
	writeFile(t, e.path("refused.log"), "r")
	res, err := e.run()
	if !errors.Is(err, export.ErrFilesFailed) || res == nil || res.Files != 1 || res.Failed != 1 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	if f := res.Manifest.Failures[0]; f.ID != "refused.log" || !strings.Contains(f.Error, "invalid object key") {
		t.Fatalf("failure %+v", f)
	}
	if kinds := e.verify(); len(kinds) != 0 {
		t.Fatalf("verify found %v", kinds)
	}
}

// lossySource offers what dirsource offered before names were escaped:
// the name with U+FFFD in place of each bad byte, as JSON recorded it (the
// first file only: the second would collide with it).
type lossySource struct {
	export.Source
	orig map[string]export.File
}

func (l *lossySource) List(ctx context.Context, w manifest.Window) ([]export.File, error) {
	files, err := l.Source.List(ctx, w)
	if err != nil {
		return nil, err
	}
	l.orig = map[string]export.File{}
	raw, _ := export.UnescapeName(files[0].ID)
	f := files[0]
	f.ID = strings.ToValidUTF8(raw, "\uFFFD")
	f.Path = f.ID
	l.orig[f.ID] = files[0]
	return []export.File{f}, nil
}

func (l *lossySource) Open(ctx context.Context, f export.File) (io.ReadCloser, error) {
	return l.Source.Open(ctx, l.orig[f.ID])
}

// TestChainWithLossyIDs: a chain written before names were escaped (one of
// two colliding names archived under a U+FFFD id) still loads and
// verifies; the next run archives both files under their escaped ids once,
// and the run after that nothing.
func TestChainWithLossyIDs(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.path("caf\xe9.log"), "e acute")
	writeFile(t, e.path("caf\xe8.log"), "e grave")
	old, err := dirsource.New(e.root)
	must(t, err)
	res, err := e.job(&lossySource{Source: old}).Run(context.Background(), time.Time{}, "old build")
	if err != nil || res.Files != 1 || res.Manifest.Objects[0].Source.ID != "caf\uFFFD.log" {
		t.Fatalf("old-style run: %+v, %v", res, err)
	}
	res, err = e.run()
	if err != nil || res.Files != 2 {
		t.Fatalf("first run after the change: %+v, %v", res, err)
	}
	res, err = e.run()
	if err != nil || res.Files != 0 || res.Skipped != 2 {
		t.Fatalf("second run after the change: %+v, %v", res, err)
	}
	if kinds := e.verify(); len(kinds) != 0 {
		t.Fatalf("verify found %v", kinds)
	}
}

// TestUnreadableSubfolderFailsAlone: covered in dirsource as a non-root
// user; here the run's accounting of a listing failure.
func TestListingFailureIsRecorded(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.path("a.log"), "a")
	src, err := dirsource.New(e.root)
	must(t, err)
	failing := failingItem{src}
	res, err := e.job(failing).Run(context.Background(), time.Time{}, "test")
	if !errors.Is(err, export.ErrFilesFailed) || res == nil || res.Files != 1 || res.Failed != 1 || res.Manifest.Failures[0].ID != "locked" {
		t.Fatalf("run: %+v, %v", res, err)
	}
	if !strings.Contains(err.Error(), "1 of 2 files failed") {
		t.Fatalf("error %q", err)
	}
}

type failingItem struct{ export.Source }

func (f failingItem) List(ctx context.Context, w manifest.Window) ([]export.File, error) {
	files, err := f.Source.List(ctx, w)
	return append(files, export.File{ID: "locked", Path: "locked", Size: -1, Err: os.ErrPermission}), err
}

func TestRunRecordsItsReason(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.path("a.log"), "a")
	src, err := dirsource.New(e.root)
	must(t, err)
	for _, reason := range []string{"first", "second"} {
		res, err := e.job(src).Run(context.Background(), time.Time{}, reason)
		if err != nil || res.Manifest.Reason != reason {
			t.Fatalf("run %q: reason %q, %v", reason, res.Manifest.Reason, err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestPathPastPATHMAXInTheFileStore: a file store whose root is deep
// enough that root and key together pass PATH_MAX still archives the file
// (it walks the key by descriptor) and the run writes its manifest. Were a
// store to refuse such a key (ErrInvalidKey, ENAMETOOLONG), only that file
// would fail (TestKeyRefusedFailsThatFileOnly). The file store's List
// still opens folders by full path and fails past PATH_MAX, so verify is
// not asserted here (reported for the file store's read side).
func TestPathPastPATHMAXInTheFileStore(t *testing.T) {
	e := newEnv(t)
	deepRoot := filepath.Join(t.TempDir(), strings.Repeat(strings.Repeat("r", 250)+"/", 13)) // 3263 bytes more
	st, err := fsstore.New(deepRoot)
	if err != nil {
		t.Fatal(err)
	}
	e.st = st
	writeFile(t, e.path("a.log"), "a")
	long := strings.Repeat(strings.Repeat("d", 190)+"/", 5) + "x.log" // 955 bytes
	writeFile(t, e.path(long), "x")
	if len(deepRoot)+len(long) < 4096 {
		t.Fatalf("root and key are %d bytes, not past PATH_MAX", len(deepRoot)+len(long))
	}
	res, err := e.run()
	if err != nil || res.Files != 2 || res.Failed != 0 {
		t.Fatalf("run: %+v, %v", res, err)
	}
}
