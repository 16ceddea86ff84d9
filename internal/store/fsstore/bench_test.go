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
	"time"

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

// BenchmarkSideBySide measures Put and the durable copy in alternating
// rounds of 1,000 files (16 at once each), so that both see the same
// machine: on a shared machine the rate changes from one minute to the
// next, and only a ratio measured side by side means anything. Each
// iteration is one round of each. "deferred" puts as the export does
// (PutOptions.Deferred, and a Sync at the end of the round, which the
// export does before each manifest, every few thousand files); "durable"
// makes each Put durable on return.
func BenchmarkSideBySide(b *testing.B) {
	for _, deferred := range []bool{true, false} {
		name := map[bool]string{true: "deferred", false: "durable"}[deferred]
		b.Run(name, func(b *testing.B) {
			st, err := fsstore.New(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			peer := b.TempDir()
			data := bytes.Repeat([]byte("x"), 512)
			const round = 1000
			var next atomic.Int64
			var tPut, tCopy time.Duration
			put := func() {
				start := time.Now()
				parallel(round, func() {
					i := next.Add(1)
					key := fmt.Sprintf("s/objects/run/d%05d/f%07d.log", i/100, i)
					if _, err := st.Put(context.Background(), key, bytes.NewReader(data), store.PutOptions{Size: int64(len(data)), IfNotExists: true, Deferred: deferred}); err != nil {
						b.Error(err)
					}
				})
				if err := st.Sync(context.Background()); err != nil {
					b.Error(err)
				}
				tPut += time.Since(start)
			}
			cp := func() {
				start := time.Now()
				parallel(round, func() {
					i := next.Add(1)
					if err := durableCopy(peer, i, data); err != nil {
						b.Error(err)
					}
				})
				tCopy += time.Since(start)
			}
			b.ResetTimer()
			for i := range b.N {
				if i%2 == 0 {
					put()
					cp()
				} else {
					cp()
					put()
				}
			}
			b.StopTimer()
			n := float64(b.N * round)
			b.ReportMetric(n/tPut.Seconds(), "put/s")
			b.ReportMetric(n/tCopy.Seconds(), "copy/s")
			b.ReportMetric(tCopy.Seconds()/tPut.Seconds(), "ratio")
		})
	}
}

// durableCopy writes data as file i under root the way a careful copy
// program does: temporary file in the target folder, write, fsync, rename.
func durableCopy(root string, i int64, data []byte) error {
	p := filepath.Join(root, fmt.Sprintf("d%05d", i/100), fmt.Sprintf("f%07d.log", i))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".copy-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}
