package custody_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/memstore"
	"github.com/logkeeper/logkeeper/manifest"
)

// t0 is the start of the first window of a fixture chain.
var t0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// fixture is a chain of manifests, each with objsPer objects, in a memstore.
type fixture struct {
	st     *memstore.Store
	signer signing.Signer
	ms     []*manifest.Manifest
}

func fixedKey(t testing.TB, seed byte) signing.Signer {
	t.Helper()
	s, err := signing.NewKeySigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newFixture appends n manifests of objsPer objects each (hourly windows).
func newFixture(t testing.TB, n, objsPer int) *fixture {
	t.Helper()
	f := &fixture{st: memstore.New(memstore.Options{Name: "archive"}), signer: fixedKey(t, 7)}
	for i := range n {
		f.appendRun(t, fmt.Sprintf("run-%d", i+1), objsPer, f.signer)
	}
	return f
}

// appendRun stores objsPer objects under run's folder and appends a
// manifest listing them, signed by s.
func (f *fixture) appendRun(t testing.TB, run string, objsPer int, s signing.Signer) *manifest.Manifest {
	t.Helper()
	ctx := context.Background()
	c, err := custody.Load(ctx, f.st, "s", f.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	i := len(f.ms)
	start := t0.Add(time.Duration(i) * time.Hour)
	m := &manifest.Manifest{
		Schema: manifest.SchemaV1, RunID: run,
		Window:    manifest.Window{Start: start, End: start.Add(time.Hour)},
		StartedAt: start, FinishedAt: start,
		Exporter: manifest.Exporter{Name: "t", Version: "t", Host: "t"},
		Store:    f.st.Describe(), Source: manifest.Source{Type: "dir", Location: "/x"},
		Objects: []manifest.Object{},
	}
	for j := range objsPer {
		data := []byte(fmt.Sprintf("run %s file %d\n", run, j))
		key := manifest.ObjectsPrefix("s", run) + fmt.Sprintf("f%d.log", j)
		info, err := f.st.Put(ctx, key, bytes.NewReader(data), store.PutOptions{Size: int64(len(data))})
		if err != nil {
			t.Fatal(err)
		}
		m.Objects = append(m.Objects, manifest.Object{
			Key: key, Size: info.Size, SHA256: info.SHA256,
			Checksum: manifest.Checksum{Algorithm: "SHA256", Type: manifest.ChecksumFullObject, Value: info.Checksum},
			Source:   manifest.Provenance{ID: key, Path: key, Size: info.Size, Modified: start},
		})
	}
	if _, err := c.Append(ctx, f.st, s, m, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	f.ms = append(f.ms, m)
	return m
}

func mkey(n uint64) string { return manifest.Key("s", n) }
func (f *fixture) sigKey(n uint64) string {
	return manifest.SignatureKey(mkey(n), f.ms[n-1].RunID)
}

func kindsOf(rep *custody.Report) []string {
	var ks []string
	for _, p := range rep.Problems {
		ks = append(ks, p.Kind)
	}
	slices.Sort(ks)
	return ks
}

// counts are a report's exact numbers.
type counts struct{ mc, mv, oc, ov int }

func countsOf(rep *custody.Report) counts {
	return counts{rep.ManifestsChecked, rep.ManifestsValid, rep.ObjectsChecked, rep.ObjectsValid}
}

func endless(byte) func(int) io.Reader {
	return func(int) io.Reader { return zeroes{} }
}

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// Every case: a chain of 3 manifests with 2 objects each, changed by
// tamper, verified with opts; the exact problem kinds (sorted), the exact
// counts, the orphans and whether a checkpoint is offered are asserted.
func TestVerifyAdversarial(t *testing.T) {
	later := func(d time.Duration) func() time.Time { return func() time.Time { return t0.Add(3*time.Hour + d) } }
	tests := []struct {
		name       string
		tamper     func(t *testing.T, f *fixture)
		opts       custody.VerifyOptions
		kinds      []string
		counts     counts
		orphans    int
		checkpoint bool
	}{
		{name: "untouched", counts: counts{3, 3, 6, 6}, checkpoint: true},
		// Accounting.
		{name: "middle manifest deleted", tamper: func(t *testing.T, f *fixture) { f.st.Delete(context.Background(), mkey(2)) },
			kinds: []string{custody.KindManifestMissing}, counts: counts{3, 1, 4, 4}, orphans: 3},
		{name: "manifest before --from deleted", opts: custody.VerifyOptions{From: 2},
			tamper: func(t *testing.T, f *fixture) { f.st.Delete(context.Background(), mkey(1)) },
			kinds:  []string{custody.KindManifestMissing}, counts: counts{2, 1, 4, 4}, checkpoint: false},
		{name: "manifest before --from is garbage", opts: custody.VerifyOptions{From: 3},
			tamper: func(t *testing.T, f *fixture) { f.st.PutRaw(mkey(2), []byte("garbage")) },
			kinds:  []string{custody.KindManifestInvalid}, counts: counts{1, 0, 2, 2}},
		{name: "manifest before --from replaced by another signed one", opts: custody.VerifyOptions{From: 3},
			tamper: func(t *testing.T, f *fixture) {
				b := f.st.Bytes(mkey(2))
				f.st.PutRaw(mkey(2), bytes.Replace(b, []byte(`"host": "t"`), []byte(`"host": "u"`), 1))
			},
			kinds: []string{custody.KindChainBroken}, counts: counts{1, 0, 2, 2}},
		{name: "range without the head", opts: custody.VerifyOptions{From: 1, To: 2}, counts: counts{2, 2, 4, 4}},
		{name: "signature fails: no checkpoint", tamper: func(t *testing.T, f *fixture) {
			b := f.st.Bytes(f.sigKey(3))
			f.st.PutRaw(f.sigKey(3), bytes.Replace(b, []byte(`"signature": "`), []byte(`"signature": "AAAA`), 1))
		}, kinds: []string{custody.KindSignatureInvalid}, counts: counts{3, 2, 6, 6}},
		{name: "manifests gap past the head, within MaxGap", tamper: func(t *testing.T, f *fixture) { f.st.PutRaw(mkey(6), []byte("{}")) },
			kinds: []string{custody.KindManifestInvalid, custody.KindManifestMissing, custody.KindManifestMissing}, counts: counts{6, 3, 6, 6}},
		{name: "checkpoint says the head was rewritten", opts: custody.VerifyOptions{Checkpoint: &custody.Checkpoint{Sequence: 3, SHA256: strings.Repeat("ab", 32)}},
			kinds: []string{custody.KindChainRewritten}, counts: counts{3, 2, 6, 6}},
		// Resource exhaustion: nothing is walked, nothing read whole.
		{name: "manifest named with the largest sequence", tamper: func(t *testing.T, f *fixture) { f.st.PutRaw(mkey(18446744073709551615), []byte("{}")) },
			kinds: []string{custody.KindManifestUnexpected}, counts: counts{3, 3, 6, 6}},
		{name: "manifest one past MaxGap", tamper: func(t *testing.T, f *fixture) { f.st.PutRaw(mkey(3+custody.MaxGap+1), []byte("{}")) },
			kinds: []string{custody.KindManifestUnexpected}, counts: counts{3, 3, 6, 6}},
		{name: "odd names among the manifests", tamper: func(t *testing.T, f *fixture) {
			for _, k := range []string{"s/manifests/1.json", "s/manifests/00000000000000000000.json", "s/manifests/00000000000000000001.json.bak", "s/manifests/x/00000000000000000001.json", "s/manifests/00000000000000000001..sig"} {
				f.st.PutRaw(k, []byte("{}"))
			}
		}, kinds: slices.Repeat([]string{custody.KindManifestUnexpected}, 5), counts: counts{3, 3, 6, 6}},
		{name: "endless signature", tamper: func(t *testing.T, f *fixture) {
			f.st.SetFault(f.sigKey(2), memstore.Fault{Size: 100, Body: endless(0)})
		}, kinds: []string{custody.KindSignatureInvalid}, counts: counts{3, 2, 6, 6}},
		{name: "endless manifest", tamper: func(t *testing.T, f *fixture) {
			f.st.SetFault(mkey(2), memstore.Fault{Size: 100, Body: endless(0)})
		}, kinds: []string{custody.KindManifestInvalid}, counts: counts{3, 1, 4, 4}, orphans: 3},
		{name: "endless object", tamper: func(t *testing.T, f *fixture) {
			f.st.SetFault(f.ms[0].Objects[1].Key, memstore.Fault{Size: f.ms[0].Objects[1].Size, Body: endless(0)})
		}, kinds: []string{custody.KindObjectHash}, counts: counts{3, 3, 6, 5}},
		{name: "object that is not a plain file", tamper: func(t *testing.T, f *fixture) {
			f.st.SetFault(f.ms[1].Objects[0].Key, memstore.Fault{Err: fmt.Errorf("a FIFO: %w", store.ErrUnreadable)})
		}, kinds: []string{custody.KindObjectUnreadable}, counts: counts{3, 3, 6, 5}},
		{name: "two objects unreadable, a manifest unreadable", tamper: func(t *testing.T, f *fixture) {
			f.st.SetFault(f.ms[0].Objects[0].Key, memstore.Fault{Err: store.ErrUnreadable})
			f.st.SetFault(f.ms[2].Objects[1].Key, memstore.Fault{Err: store.ErrUnreadable})
			f.st.SetFault(mkey(2), memstore.Fault{Err: store.ErrUnreadable})
		}, kinds: []string{custody.KindManifestInvalid, custody.KindObjectUnreadable, custody.KindObjectUnreadable}, counts: counts{3, 1, 4, 2}, orphans: 3},
		// Provenance.
		{name: "object slipped into a run's folder", tamper: func(t *testing.T, f *fixture) {
			f.st.PutRaw(manifest.ObjectsPrefix("s", "run-2")+"extra.log", []byte("planted"))
		}, kinds: []string{custody.KindObjectUnclaimed}, counts: counts{3, 3, 6, 6}},
		{name: "object slipped into a subfolder of a run's folder", tamper: func(t *testing.T, f *fixture) {
			f.st.PutRaw(manifest.ObjectsPrefix("s", "run-1")+"deep/er/x", []byte("planted"))
		}, kinds: []string{custody.KindObjectUnclaimed}, counts: counts{3, 3, 6, 6}},
		{name: "keys outside any run's folder", tamper: func(t *testing.T, f *fixture) {
			f.st.PutRaw("s/objects/loose.log", []byte("x"))
			f.st.PutRaw("s/other/x", []byte("x"))
		}, kinds: []string{custody.KindObjectUnclaimed, custody.KindObjectUnclaimed}, counts: counts{3, 3, 6, 6}},
		{name: "objects of a crashed run are orphans", tamper: func(t *testing.T, f *fixture) {
			f.st.PutRaw(manifest.ObjectsPrefix("s", "crashed")+"a.log", []byte("x"))
			f.st.PutRaw(manifest.ObjectsPrefix("s", "crashed")+"b.log", []byte("x"))
			f.st.PutRaw(manifest.SignatureKey(mkey(4), "crashed"), []byte("{}"))
		}, counts: counts{3, 3, 6, 6}, orphans: 3, checkpoint: true},
		{name: "origin named for a copy", opts: custody.VerifyOptions{Origin: "s3://elsewhere/p"},
			kinds: slices.Repeat([]string{custody.KindStoreMismatch}, 3), counts: counts{3, 0, 6, 6}},
		// Silent stops.
		{name: "head fresh enough", opts: custody.VerifyOptions{MaxAge: time.Hour, Now: later(59 * time.Minute)}, counts: counts{3, 3, 6, 6}, checkpoint: true},
		{name: "head stale", opts: custody.VerifyOptions{MaxAge: time.Hour, Now: later(61 * time.Minute)},
			kinds: []string{custody.KindChainStale}, counts: counts{3, 3, 6, 6}},
		{name: "head stale, range before it", opts: custody.VerifyOptions{To: 1, MaxAge: time.Hour, Now: later(2 * time.Hour)},
			kinds: []string{custody.KindChainStale}, counts: counts{1, 1, 2, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 3, 2)
			if tc.tamper != nil {
				tc.tamper(t, f)
			}
			tc.opts.PublicKey = f.signer.Public()
			// A bound on hanging (endless bodies), not a speed test: reading
			// a manifest's 64 MiB limit of an endless body takes seconds
			// under -race on a loaded machine.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, err := custody.Verify(ctx, f.st, "s", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := kindsOf(rep); !slices.Equal(got, tc.kinds) {
				t.Fatalf("kinds %v, want %v; problems %v", got, tc.kinds, rep.Problems)
			}
			if got := countsOf(rep); got != tc.counts {
				t.Fatalf("counts (manifests checked, valid, objects checked, valid) %v, want %v; problems %v", got, tc.counts, rep.Problems)
			}
			if rep.Orphans != tc.orphans || len(rep.OrphanKeys) != tc.orphans {
				t.Fatalf("orphans %d %v, want %d", rep.Orphans, rep.OrphanKeys, tc.orphans)
			}
			if (rep.HeadSHA256 != "") != tc.checkpoint || (rep.NoCheckpoint == "") != tc.checkpoint {
				t.Fatalf("checkpoint %q (none because %q), want one: %v", rep.HeadSHA256, rep.NoCheckpoint, tc.checkpoint)
			}
			for _, p := range rep.Problems {
				if p.Key == "" || p.Detail == "" {
					t.Fatalf("problem without key or detail: %+v", p)
				}
			}
		})
	}
}

// An empty selection is a usage error, not a clean verify of nothing.
func TestVerifyEmptySelection(t *testing.T) {
	f := newFixture(t, 3, 1)
	for _, o := range []custody.VerifyOptions{{From: 5}, {From: 4}, {From: 3, To: 2}, {From: 2, To: 1}} {
		o.PublicKey = f.signer.Public()
		if rep, err := custody.Verify(context.Background(), f.st, "s", o); !errors.Is(err, custody.ErrRange) {
			t.Errorf("from %d to %d: want ErrRange, got %v %+v", o.From, o.To, err, rep)
		}
	}
	o := custody.VerifyOptions{PublicKey: f.signer.Public(), From: 3, To: 3}
	if rep, err := custody.Verify(context.Background(), f.st, "s", o); err != nil || rep.ManifestsChecked != 1 || rep.ManifestsValid != 1 {
		t.Fatalf("from 3 to 3: %+v %v", rep, err)
	}
}

// A stream copied from another store verifies only when named as a copy.
func TestVerifyCopiedStream(t *testing.T) {
	f := newFixture(t, 2, 1)
	copyTo := memstore.New(memstore.Options{Name: "replica"})
	ctx := context.Background()
	f.st.List(ctx, "", func(oi store.ObjectInfo) error {
		copyTo.PutRaw(oi.Key, f.st.Bytes(oi.Key))
		return nil
	})
	opts := custody.VerifyOptions{PublicKey: f.signer.Public()}
	rep, err := custody.Verify(ctx, copyTo, "s", opts)
	if err != nil || !slices.Equal(kindsOf(rep), []string{custody.KindStoreMismatch, custody.KindStoreMismatch}) || rep.ManifestsValid != 0 {
		t.Fatalf("copy verified as if written there: %v %v", kindsOf(rep), err)
	}
	opts.Origin = f.st.Describe()
	rep, err = custody.Verify(ctx, copyTo, "s", opts)
	if err != nil || len(rep.Problems) != 0 || rep.ManifestsValid != 2 || rep.ObjectsValid != 2 {
		t.Fatalf("copy verified with its origin: %+v %v", rep, err)
	}
}

// Cancellation ends a verify stuck on content that never comes, at once.
func TestVerifyCancelledOnBlockingContent(t *testing.T) {
	for _, key := range []func(f *fixture) string{
		func(f *fixture) string { return f.ms[0].Objects[0].Key },
		func(f *fixture) string { return mkey(2) },
		func(f *fixture) string { return f.sigKey(3) },
	} {
		f := newFixture(t, 3, 1)
		k := key(f)
		f.st.SetFault(k, memstore.Fault{Block: true})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		_, err := custody.Verify(ctx, f.st, "s", custody.VerifyOptions{PublicKey: f.signer.Public()})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s blocks: verify returned %v", k, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("%s blocks: verify took %v after cancellation", k, d)
		}
	}
}
