package archindex_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody/archindex"
	"github.com/logkeeper/logkeeper/manifest"
)

// model is what custody.Chain keeps in memory: the reference the index
// must agree with.
type model struct {
	archived map[string]manifest.Provenance
	failed   map[string]manifest.Failure
}

func (m *model) record(man *manifest.Manifest) {
	for _, o := range man.Objects {
		m.archived[o.Source.ID] = o.Source
		delete(m.failed, o.Source.ID)
	}
	for _, f := range man.Failures {
		if f.ID != "" {
			m.failed[f.ID] = f
		}
	}
}

// chain makes n manifests over ids drawn from a pool of pool, with
// repeats, failures, zero and far times.
func chain(seed uint64, n, perManifest, pool int) []*manifest.Manifest {
	rng := rand.New(rand.NewPCG(seed, 1))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ms []*manifest.Manifest
	for i := range n {
		m := &manifest.Manifest{Sequence: uint64(i + 1)}
		for range perManifest {
			id := fmt.Sprintf("edge-%d/logs/file-%06d.log", rng.IntN(7), rng.IntN(pool))
			switch rng.IntN(10) {
			case 0:
				m.Failures = append(m.Failures, manifest.Failure{ID: id, Path: id, Error: fmt.Sprintf("read: error %d \"quoted\"\n", i)})
			case 1:
				m.Failures = append(m.Failures, manifest.Failure{Path: "no id " + id, Error: "listing"})
			default:
				mod := base.Add(time.Duration(rng.Int64N(1e15)))
				switch rng.IntN(20) {
				case 0:
					mod = time.Time{}
				case 1:
					mod = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
				case 2:
					mod = time.Date(1601, 1, 1, 0, 0, 0, 1, time.UTC)
				}
				m.Objects = append(m.Objects, manifest.Object{Source: manifest.Provenance{ID: id, Size: rng.Int64N(1 << 40), Modified: mod}})
			}
		}
		ms = append(ms, m)
	}
	return ms
}

func build(t testing.TB, dir string, ms []*manifest.Manifest, base *archindex.Index, memRecords int, name string) *archindex.Index {
	t.Helper()
	b := archindex.NewBuilder("s1", dir, base)
	b.MemRecords = memRecords
	defer b.Close()
	for _, m := range ms {
		if err := b.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	head := archindex.Head{}
	if len(ms) > 0 {
		head = archindex.Head{Sequence: ms[len(ms)-1].Sequence, SHA256: fmt.Sprintf("%064x", ms[len(ms)-1].Sequence)}
	}
	ix, err := b.Write(filepath.Join(dir, name), head)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func check(t *testing.T, ix *archindex.Index, ref *model, pool int) {
	t.Helper()
	for e := range 7 {
		for i := range pool {
			id := fmt.Sprintf("edge-%d/logs/file-%06d.log", e, i)
			got, ok, err := ix.Lookup(id)
			if err != nil {
				t.Fatal(err)
			}
			p, archived := ref.archived[id]
			_, failed := ref.failed[id]
			if ok != (archived || failed) || got.Archived != archived || got.Failed != failed {
				t.Fatalf("%s: got %+v (found %v), want archived %v failed %v", id, got, ok, archived, failed)
			}
			if archived && (got.Size != p.Size || !got.Modified.Equal(p.Modified) || got.Modified.IsZero() != p.Modified.IsZero()) {
				t.Fatalf("%s: size %d modified %s, want %d %s", id, got.Size, got.Modified, p.Size, p.Modified)
			}
			if archived && (got.NeedsArchiving(p.Size, p.Modified) || !got.NeedsArchiving(p.Size+1, p.Modified) || !got.NeedsArchiving(p.Size, p.Modified.Add(time.Nanosecond))) {
				t.Fatalf("%s: NeedsArchiving wrong", id)
			}
		}
	}
	var fails []manifest.Failure
	if err := ix.Failures(func(f manifest.Failure) error { fails = append(fails, f); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(fails) != len(ref.failed) || int64(len(fails)) != ix.FailureCount() {
		t.Fatalf("%d failures (count %d), want %d", len(fails), ix.FailureCount(), len(ref.failed))
	}
	for _, f := range fails {
		if ref.failed[f.ID] != f {
			t.Fatalf("failure %+v, want %+v", f, ref.failed[f.ID])
		}
	}
	if ix.Len() != int64(len(unionKeys(ref))) {
		t.Fatalf("%d records, want %d", ix.Len(), len(unionKeys(ref)))
	}
}

func unionKeys(ref *model) map[string]bool {
	u := map[string]bool{}
	for k := range ref.archived {
		u[k] = true
	}
	for k := range ref.failed {
		u[k] = true
	}
	return u
}

// The index agrees with the in-memory chain on every id, whether built in
// memory or through many sorted runs on disk, all at once or in steps on
// top of an earlier index, and its bytes are the same every way.
func TestIndexAgreesWithChain(t *testing.T) {
	const pool = 300
	ms := chain(7, 40, 60, pool)
	ref := &model{archived: map[string]manifest.Provenance{}, failed: map[string]manifest.Failure{}}
	for _, m := range ms {
		ref.record(m)
	}
	dir := t.TempDir()
	cases := []struct {
		name       string
		memRecords int
		split      int // manifests in the first index (0: one build)
	}{
		{"in memory", 0, 0},
		{"runs of 7", 7, 0},
		{"runs of 1", 1, 0},
		{"base then rest", 0, 25},
		{"base in runs then rest in runs", 5, 13},
		{"empty base", 3, -1},
	}
	var first []byte
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ix *archindex.Index
			switch {
			case c.split == 0:
				ix = build(t, dir, ms, nil, c.memRecords, c.name)
			case c.split < 0:
				base := build(t, dir, nil, nil, c.memRecords, c.name+"-base")
				ix = build(t, dir, ms, base, c.memRecords, c.name)
			default:
				base := build(t, dir, ms[:c.split], nil, c.memRecords, c.name+"-base")
				ix = build(t, dir, ms[c.split:], base, c.memRecords, c.name)
			}
			check(t, ix, ref, pool)
			b, err := os.ReadFile(filepath.Join(dir, c.name))
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = b
			} else if !bytes.Equal(b, first) {
				t.Fatalf("index bytes differ from the first build's")
			}
			if h := ix.Head(); h.Sequence != 40 {
				t.Fatalf("head %+v", h)
			}
		})
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".archindex-*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left: %q", left)
	}
}

// A changed, cut or padded index file, or one of another stream, is
// refused with ErrCorrupt, never read as true.
func TestOpenRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	ms := chain(3, 5, 40, 100)
	build(t, dir, ms, nil, 0, "good")
	good, err := os.ReadFile(filepath.Join(dir, "good"))
	if err != nil {
		t.Fatal(err)
	}
	hdrEnd := bytes.IndexByte(good, '\n') + 1
	mutate := map[string]func([]byte) []byte{
		"record byte flipped":  func(b []byte) []byte { b[hdrEnd+40] ^= 1; return b },
		"failure byte flipped": func(b []byte) []byte { b[len(b)-5] ^= 1; return b },
		"cut":                  func(b []byte) []byte { return b[:len(b)-1] },
		"padded":               func(b []byte) []byte { return append(b, 0) },
		"header changed":       func(b []byte) []byte { return bytes.Replace(b, []byte(`"records":`), []byte(`"records": `), 1) },
		"no header":            func(b []byte) []byte { return b[hdrEnd:] },
		"empty":                func([]byte) []byte { return nil },
		"long header":          func([]byte) []byte { return bytes.Repeat([]byte("x"), 10000) },
	}
	for name, f := range mutate {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, "bad")
			if err := os.WriteFile(p, f(bytes.Clone(good)), 0o600); err != nil {
				t.Fatal(err)
			}
			ix, err := archindex.Open(p, "s1")
			if !errors.Is(err, archindex.ErrCorrupt) {
				if ix != nil {
					ix.Close()
				}
				t.Fatalf("want ErrCorrupt, got %v", err)
			}
		})
	}
	if _, err := archindex.Open(filepath.Join(dir, "good"), "s2"); !errors.Is(err, archindex.ErrCorrupt) {
		t.Fatalf("other stream: want ErrCorrupt, got %v", err)
	}
	if _, err := archindex.Open(filepath.Join(dir, "missing"), "s1"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: want ErrNotExist, got %v", err)
	}
}

func TestEmptyIndex(t *testing.T) {
	ix := build(t, t.TempDir(), nil, nil, 0, "empty")
	if _, ok, err := ix.Lookup("x"); ok || err != nil {
		t.Fatalf("lookup in an empty index: %v %v", ok, err)
	}
	if ix.Len() != 0 || ix.Head() != (archindex.Head{}) {
		t.Fatalf("len %d head %+v", ix.Len(), ix.Head())
	}
}

// sortedIDs is a helper for benchmarks: n ids in the order a folder
// source lists them.
func sortedIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("d%04d/f%07d.log", i/100, i)
	}
	sort.Strings(ids)
	return ids
}
