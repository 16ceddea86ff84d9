package report

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/export/dirsource"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// t0 is the start of the fixture's first hourly window.
var t0 = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// hostile is a string from outside (here a run's reason) that must be
// shown as text: markup, a terminal escape, a bidi override.
const hostile = `<script>alert(1)</script><img src=x onerror="alert(2)">&amp;` + "\x1b[2K\u202e"

func testSigner(t testing.TB) signing.Signer {
	t.Helper()
	s, err := signing.NewKeySigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixture is a stream "edge" archived hourly from t0 to t0+6h (six runs;
// run 5 finds nothing new), then the exporter went down; the manifest of
// run 4 (window t0+3h to t0+4h) and its signature were deleted, so that
// window has no run: a gap.
type fixture struct {
	st     store.Store
	signer signing.Signer
	now    time.Time
}

const stream = "edge"

func newFixture(t testing.TB, st store.Store, opts ...func(*export.Job)) *fixture {
	t.Helper()
	f := &fixture{st: st, signer: testSigner(t), now: t0.Add(8*time.Hour + 10*time.Minute)}
	src := t.TempDir()
	ctx := context.Background()
	for i := 1; i <= 6; i++ {
		if i != 5 {
			name := filepath.Join(src, fmt.Sprintf("edge-%d.log", i))
			if err := os.WriteFile(name, bytes.Repeat([]byte{byte('a' + i)}, 100*i), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ds, err := dirsource.New(src)
		if err != nil {
			t.Fatal(err)
		}
		end := t0.Add(time.Duration(i) * time.Hour)
		reason := "scheduled"
		if i == 2 {
			reason = hostile
		}
		job := &export.Job{Stream: stream, Store: st, Signer: f.signer, Source: ds, Workers: 2,
			Exporter: manifest.Exporter{Name: "logkeeper", Version: "test", Host: "test"},
			Now:      func() time.Time { return end.Add(time.Minute) }}
		for _, o := range opts {
			o(job)
		}
		if _, err := job.Run(ctx, end, reason); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	return f
}

// deleteRun removes a run's manifest and its signature (an attack, or a
// lost object).
func (f *fixture) deleteRun(t testing.TB, seq uint64) {
	t.Helper()
	ctx := context.Background()
	key := manifest.Key(stream, seq)
	rc, _, err := f.st.Get(ctx, key, store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(rc)
	rc.Close()
	m, err := manifest.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	d := f.st.(store.Deleter)
	for _, k := range []string{key, manifest.SignatureKey(key, m.RunID)} {
		if err := d.Delete(ctx, k); err != nil {
			t.Fatalf("delete %s: %v", k, err)
		}
	}
}

// input is the report's input for the fixture: an hourly scheduled stream.
func (f *fixture) input() Input {
	return Input{Store: f.st, Stream: stream, PublicKey: f.signer.Public(), Window: time.Hour, Scheduled: true,
		Now: func() time.Time { return f.now }}
}

// wantGaps are the fixture's gaps once run 4 is deleted: its window, and
// the windows after the last run up to the last complete one.
var wantGaps = []Gap{
	{Start: t0.Add(3 * time.Hour), End: t0.Add(4 * time.Hour), Windows: 1},
	{Start: t0.Add(6 * time.Hour), End: t0.Add(8 * time.Hour), Windows: 2},
}
