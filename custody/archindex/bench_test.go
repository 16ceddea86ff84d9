package archindex_test

import (
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody/archindex"
	"github.com/logkeeper/logkeeper/manifest"
)

// manifests of per objects each, n objects in all, ids as a folder source
// gives them.
func benchManifests(n, per int) []*manifest.Manifest {
	ids := sortedIDs(n)
	mod := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var ms []*manifest.Manifest
	for i := 0; i < n; i += per {
		m := &manifest.Manifest{Sequence: uint64(len(ms) + 1)}
		for _, id := range ids[i:min(i+per, n)] {
			m.Objects = append(m.Objects, manifest.Object{Source: manifest.Provenance{ID: id, Path: id, Size: 512, Modified: mod}})
		}
		ms = append(ms, m)
	}
	return ms
}

// BenchmarkBuild builds the index of 200,000 archived files (in manifests
// of 10,000) and reports the heap the builder holds before it writes (the
// records in memory, at most DefaultMemRecords).
func BenchmarkBuild(b *testing.B) {
	const n = 200_000
	ms := benchManifests(n, 10_000)
	dir := b.TempDir()
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		bd := archindex.NewBuilder("s1", dir, nil)
		for _, m := range ms {
			if err := bd.Add(m); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if after.HeapAlloc > before.HeapAlloc {
			peak = max(peak, after.HeapAlloc-before.HeapAlloc)
		}
		ix, err := bd.Write(filepath.Join(dir, "ix"), archindex.Head{Sequence: uint64(len(ms))})
		if err != nil {
			b.Fatal(err)
		}
		ix.Close()
		bd.Close()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
	b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
}

// BenchmarkLookup looks ids up in an index of 200,000 files, in the order
// a folder source lists them.
func BenchmarkLookup(b *testing.B) {
	const n = 200_000
	dir := b.TempDir()
	bd := archindex.NewBuilder("s1", dir, nil)
	for _, m := range benchManifests(n, 10_000) {
		if err := bd.Add(m); err != nil {
			b.Fatal(err)
		}
	}
	ix, err := bd.Write(filepath.Join(dir, "ix"), archindex.Head{Sequence: 20})
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	bd.Close()
	ids := sortedIDs(n)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e, ok, err := ix.Lookup(ids[i%n])
		if err != nil || !ok || !e.Archived {
			b.Fatalf("%s: %v %v %v", ids[i%n], e, ok, err)
		}
		i++
	}
}
