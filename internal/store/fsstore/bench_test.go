package fsstore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
)

// benchWorkers is the number of files an export puts at once.
var benchWorkers = 16

// BenchmarkPutSmall puts 512-byte objects from 16 goroutines, 100 to a
// folder, as an export of many small files does.
func BenchmarkPutSmall(b *testing.B) {
	st, err := fsstore.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 512)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	parallel(b.N, func() {
		i := next.Add(1)
		key := fmt.Sprintf("s/objects/run/d%04d/f%07d.log", i/100, i)
		if _, err := st.Put(context.Background(), key, bytes.NewReader(data), store.PutOptions{Size: int64(len(data)), IfNotExists: true}); err != nil {
			b.Error(err)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkDurableCopyPeer is the peer of BenchmarkPutSmall: write a
// temporary file, fsync it, rename it into place, 16 at once.
func BenchmarkDurableCopyPeer(b *testing.B) {
	root := b.TempDir()
	data := bytes.Repeat([]byte("x"), 512)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	parallel(b.N, func() {
		i := next.Add(1)
		p := filepath.Join(root, fmt.Sprintf("d%04d", i/100), fmt.Sprintf("f%07d.log", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			b.Error(err)
			return
		}
		f, err := os.CreateTemp(filepath.Dir(p), ".copy-*")
		if err != nil {
			b.Error(err)
			return
		}
		defer os.Remove(f.Name())
		if _, err := f.Write(data); err != nil {
			b.Error(err)
		}
		if err := f.Sync(); err != nil {
			b.Error(err)
		}
		f.Close()
		if err := os.Rename(f.Name(), p); err != nil {
			b.Error(err)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}

// parallel runs fn n times, benchWorkers at once.
func parallel(n int, fn func()) {
	var wg sync.WaitGroup
	work := make(chan struct{})
	for range benchWorkers {
		wg.Go(func() {
			for range work {
				fn()
			}
		})
	}
	for range n {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
}

func init() {
	if n, err := strconv.Atoi(os.Getenv("FSSTORE_BENCH_WORKERS")); err == nil && n > 0 {
		benchWorkers = n
	}
}
