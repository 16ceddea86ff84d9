package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/export/dirsource"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/manifest"
	"github.com/logkeeper/logkeeper/policies"
)

// fixedSigner returns a deterministic Ed25519 signer.
func fixedSigner(t testing.TB, seed byte) signing.Signer {
	t.Helper()
	s, err := signing.NewKeySigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t testing.TB, dir, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func randData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// sampleTree writes the folder the issue asks for: a zero-byte file, a file
// over the part size, nested folders and odd names.
func sampleTree(t testing.TB, dir string, big int) map[string][]byte {
	files := map[string][]byte{
		"empty.log":                    {},
		"edge-1/2026/11/26/sip.log":    []byte("INVITE sip:1000@edge\n"),
		"edge-1/2026/11/26/media.log":  randData(4096, 1),
		"with space/ünïcødé 日志.log":    []byte("utf-8 name\n"),
		"odd/100%/~tilde/back\\slash":  []byte("odd\n"),
		"odd/ctl\x01char.log":          []byte("control\n"),
		"big/capture.pcap":             randData(big, 2),
		"deep/a/b/c/d/e/f/g/h/i/j.log": []byte("deep\n"),
		"..dots/..../x.log":            []byte("dots\n"),
	}
	for rel, data := range files {
		writeFile(t, dir, rel, data)
	}
	return files
}

type harness struct {
	t      testing.TB
	st     store.Store
	signer signing.Signer
	src    string
	stream string
	enc    *policies.Encryption
	ret    *policies.Retention
}

func (h *harness) job() *export.Job {
	src, err := dirsource.New(h.src)
	if err != nil {
		h.t.Fatal(err)
	}
	return &export.Job{
		Stream: h.stream, Store: h.st, Signer: h.signer, Source: src,
		Encryption: h.enc, Retention: h.ret,
		Exporter: manifest.Exporter{Name: "logkeeper", Version: "test", Host: "test"},
		Workers:  4,
	}
}

func (h *harness) export() *export.Result {
	h.t.Helper()
	res, err := h.job().Run(context.Background(), time.Time{}, "test")
	if err != nil {
		h.t.Fatalf("export: %v", err)
	}
	return res
}

func (h *harness) verify(deep bool) *custody.Report {
	h.t.Helper()
	rep, err := custody.Verify(context.Background(), h.st, h.stream, custody.VerifyOptions{PublicKey: h.signer.Public(), Deep: deep})
	if err != nil {
		h.t.Fatalf("verify: %v", err)
	}
	return rep
}

func kinds(rep *custody.Report) []string {
	var ks []string
	for _, p := range rep.Problems {
		ks = append(ks, p.Kind)
	}
	return ks
}

func newFS(t testing.TB) store.Store {
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestExportVerifyFS(t *testing.T) { testExportVerify(t, newFS(t), 3<<20) }

func testExportVerify(t *testing.T, st store.Store, big int) {
	h := &harness{t: t, st: st, signer: fixedSigner(t, 1), src: t.TempDir(), stream: "edge-logs"}
	files := sampleTree(t, h.src, big)

	res := h.export()
	if res.Sequence != 1 || res.Files != len(files) || res.Failed != 0 {
		t.Fatalf("first run: %+v, want sequence 1 with %d files", res, len(files))
	}
	var total int64
	for _, d := range files {
		total += int64(len(d))
	}
	if res.Bytes != total {
		t.Fatalf("first run archived %d bytes, want %d", res.Bytes, total)
	}
	// Every object holds exactly its source file's bytes.
	for _, o := range res.Manifest.Objects {
		rc, _, err := st.Get(context.Background(), o.Key, store.GetOptions{VersionID: o.VersionID})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if want, ok := files[o.Source.Path]; !ok || !bytes.Equal(got, want) {
			t.Fatalf("object %s (from %q) does not hold the source bytes", o.Key, o.Source.Path)
		}
		if strings.Contains(o.Key, "..") && strings.Contains(o.Key, "/../") {
			t.Fatalf("key %q has a .. segment", o.Key)
		}
	}
	for _, deep := range []bool{false, true} {
		if rep := h.verify(deep); len(rep.Problems) != 0 || rep.ObjectsChecked != len(files) || rep.ManifestsChecked != 1 {
			t.Fatalf("verify (deep %v) of a good archive: %+v", deep, rep)
		}
	}

	// Nothing new: the run still writes a manifest, attesting absence.
	res2 := h.export()
	if res2.Sequence != 2 || res2.Files != 0 || res2.Skipped != len(files) {
		t.Fatalf("second run: %+v, want sequence 2 with no files", res2)
	}
	if res2.Manifest.Window.Start != res.Manifest.Window.End {
		t.Fatalf("second window starts %v, first ended %v", res2.Manifest.Window.Start, res.Manifest.Window.End)
	}
	// A changed and a new file are archived, and only they.
	writeFile(t, h.src, "edge-1/2026/11/26/sip.log", []byte("INVITE sip:1000@edge\nBYE\n"))
	writeFile(t, h.src, "new.log", []byte("new\n"))
	res3 := h.export()
	var got []string
	for _, o := range res3.Manifest.Objects {
		got = append(got, o.Source.Path)
	}
	slices.Sort(got)
	if want := []string{"edge-1/2026/11/26/sip.log", "new.log"}; !slices.Equal(got, want) {
		t.Fatalf("third run archived %v, want %v", got, want)
	}
	if rep := h.verify(false); len(rep.Problems) != 0 || rep.ManifestsChecked != 3 || rep.ManifestsValid != 3 {
		t.Fatalf("verify after three runs: %+v", rep)
	}
}

func TestUnreadableFileRecordedAndRetried(t *testing.T) {
	h := &harness{t: t, st: newFS(t), signer: fixedSigner(t, 1), src: t.TempDir(), stream: "s"}
	writeFile(t, h.src, "ok.log", []byte("ok"))
	writeFile(t, h.src, "bad.log", []byte("bad"))
	job := h.job()
	job.Source = &failingSource{Source: job.Source, fail: "bad.log"}
	res, err := job.Run(context.Background(), time.Time{}, "test")
	if !errors.Is(err, export.ErrFilesFailed) || res == nil {
		t.Fatalf("run with an unreadable file: res %+v err %v", res, err)
	}
	if res.Files != 1 || len(res.Manifest.Failures) != 1 || res.Manifest.Failures[0].Path != "bad.log" {
		t.Fatalf("manifest: %d objects, failures %+v", res.Files, res.Manifest.Failures)
	}
	for _, o := range res.Manifest.Objects {
		if o.Source.Path == "bad.log" {
			t.Fatal("manifest claims the file that failed")
		}
	}
	res2 := h.export()
	if res2.Files != 1 || res2.Manifest.Objects[0].Source.Path != "bad.log" {
		t.Fatalf("next run: %+v, want only bad.log archived", res2)
	}
	if rep := h.verify(true); len(rep.Problems) != 0 {
		t.Fatalf("verify: %v", rep.Problems)
	}
}

type failingSource struct {
	export.Source
	fail string
}

func (f *failingSource) Open(ctx context.Context, file export.File) (io.ReadCloser, error) {
	if file.Path == f.fail {
		return nil, fmt.Errorf("open %s: permission denied", file.Path)
	}
	return f.Source.Open(ctx, file)
}

// A store failure aborts the run: no manifest, and the next run archives
// everything.
func TestStoreFailureWritesNoManifest(t *testing.T) {
	h := &harness{t: t, st: newFS(t), signer: fixedSigner(t, 1), src: t.TempDir(), stream: "s"}
	for i := range 20 {
		writeFile(t, h.src, fmt.Sprintf("f%02d.log", i), []byte(strings.Repeat("x", i)))
	}
	job := h.job()
	job.Store = &flakyStore{Store: h.st, failAfter: 5}
	_, err := job.Run(context.Background(), time.Time{}, "test")
	var re *export.RunError
	if !errors.As(err, &re) || re.RunID == "" || re.Sequence != 1 || re.Stream != "s" {
		t.Fatalf("run with a failing store: want a RunError naming the run, got %v", err)
	}
	if err := h.st.List(context.Background(), manifest.ManifestsPrefix("s"), func(oi store.ObjectInfo) error {
		return fmt.Errorf("manifest written by a failed run: %s", oi.Key)
	}); err != nil {
		t.Fatal(err)
	}
	res := h.export()
	if res.Sequence != 1 || res.Files != 20 {
		t.Fatalf("run after the failure: %+v, want sequence 1 with 20 files", res)
	}
}

type flakyStore struct {
	store.Store
	n         atomic.Int32
	failAfter int32
}

func (f *flakyStore) Put(ctx context.Context, key string, r io.Reader, o store.PutOptions) (store.ObjectInfo, error) {
	if f.n.Add(1) > f.failAfter {
		return store.ObjectInfo{}, fmt.Errorf("put %s: injected: 503 SlowDown", key)
	}
	return f.Store.Put(ctx, key, r, o)
}

// Cancelling a run writes no manifest.
func TestCancelledRunWritesNoManifest(t *testing.T) {
	h := &harness{t: t, st: newFS(t), signer: fixedSigner(t, 1), src: t.TempDir(), stream: "s"}
	writeFile(t, h.src, "a.log", randData(1<<20, 3))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.job().Run(ctx, time.Time{}, "test"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	if rep := h.verify(false); !slices.Equal(kinds(rep), []string{custody.KindChainEmpty}) {
		t.Fatalf("after a cancelled first run: %v", kinds(rep))
	}
}

func newFSAt(t testing.TB, root string) store.Store {
	s, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
