package export_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/export/dirsource"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
)

// chainReads counts the requests that read the chain or its state: under
// the stream's manifests and its checkpoints.
type chainReads struct {
	store.Store
	mu    sync.Mutex
	reads map[string]int
}

func (c *chainReads) note(kind, key string) {
	if !strings.HasPrefix(key, manifest.ManifestsPrefix("app")) && !strings.HasPrefix(key, custody.CheckpointsPrefix("app")) {
		return
	}
	c.mu.Lock()
	c.reads[kind]++
	c.mu.Unlock()
}

func (c *chainReads) Get(ctx context.Context, key string, o store.GetOptions) (io.ReadCloser, store.ObjectInfo, error) {
	c.note("GET", key)
	return c.Store.Get(ctx, key, o)
}

func (c *chainReads) Head(ctx context.Context, key string, o store.GetOptions) (store.ObjectInfo, error) {
	c.note("HEAD", key)
	return c.Store.Head(ctx, key, o)
}

func (c *chainReads) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	c.note("LIST", prefix)
	return c.Store.List(ctx, prefix, fn)
}

func (c *chainReads) total() (n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.reads {
		n += v
	}
	return n
}

func startupStores() map[string]func(*testing.T, *env) store.Store {
	return map[string]func(*testing.T, *env) store.Store{
		"fs": func(_ *testing.T, e *env) store.Store { return e.st },
		"s3": func(t *testing.T, _ *env) store.Store {
			s3 := testenv.S3(t)
			st, err := s3store.New(context.Background(), s3store.Options{
				Bucket: s3.NewBucket(t, false), Prefix: "archive", PathStyle: true,
				PartSize: s3store.MinPartSize, Concurrency: 2, Client: s3.Client(),
			})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	}
}

// A run reads the same few keys of the chain at start-up whether the chain
// holds 3 manifests or 12, held in memory or through the archived-file
// index, and never lists it; verify still reads everything and passes. A
// state overwritten with garbage costs one full read, with a warning, and
// nothing else: the run archives what it must and writes a good state.
func TestStartupReadsDoNotGrowWithTheChain(t *testing.T) {
	for name, open := range startupStores() {
		for _, indexed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/indexed=%v", name, indexed), func(t *testing.T) {
				e := newEnv(t)
				st := &chainReads{Store: open(t, e), reads: map[string]int{}}
				e.st = st
				stateDir := ""
				if indexed {
					stateDir = t.TempDir()
				}
				var logBuf bytes.Buffer
				run := func(i int) (*export.Result, map[string]int, int) {
					t.Helper()
					writeFile(t, e.path(fmt.Sprintf("d/f%03d.log", i)), fmt.Sprintf("line %d\n", i))
					src, err := dirsource.New(e.root)
					if err != nil {
						t.Fatal(err)
					}
					j := e.job(src)
					j.StateDir = stateDir
					j.Logger = slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelWarn}))
					st.mu.Lock()
					st.reads = map[string]int{}
					st.mu.Unlock()
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					res, err := j.Run(ctx, time.Time{}, "test")
					if err != nil {
						t.Fatalf("run %d: %v", i, err)
					}
					if res.Files != 1 {
						t.Fatalf("run %d archived %d files, want 1 (the new one)", i, res.Files)
					}
					st.mu.Lock()
					defer st.mu.Unlock()
					reads := map[string]int{}
					for k, v := range st.reads {
						reads[k] = v
					}
					n := 0
					for _, v := range reads {
						n += v
					}
					return res, reads, n
				}
				var small, large int
				for i := 1; i <= 13; i++ {
					_, reads, n := run(i)
					if i == 1 {
						continue // no state yet
					}
					if reads["LIST"] != 0 {
						t.Fatalf("run %d listed the chain: %v", i, reads)
					}
					switch i {
					case 4:
						small = n
					case 13:
						large = n
					}
				}
				if small == 0 || small != large {
					t.Fatalf("chain reads at 3 manifests: %d, at 12: %d", small, large)
				}
				if logBuf.Len() != 0 {
					t.Fatalf("warnings: %s", logBuf.String())
				}
				if kinds := e.verify(); len(kinds) != 0 {
					t.Fatalf("verify: %v", kinds)
				}

				// A state damaged behind logkeeper's back.
				ctx := context.Background()
				key := custody.StateKey("app")
				info, err := st.Head(ctx, key, store.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				junk := []byte(`{"state":"e30=","algorithm":"ed25519","key_id":"x","signature":""}`)
				if _, err := st.Store.Put(ctx, key, bytes.NewReader(junk), store.PutOptions{IfMatch: info.ETag, Size: int64(len(junk))}); err != nil {
					t.Fatal(err)
				}
				_, reads, _ := run(14)
				if reads["LIST"] == 0 || !strings.Contains(logBuf.String(), "start-up state not used") {
					t.Fatalf("damaged state: reads %v, log %q", reads, logBuf.String())
				}
				logBuf.Reset()
				_, reads, n := run(15)
				if reads["LIST"] != 0 || n != small || logBuf.Len() != 0 {
					t.Fatalf("after the state was rewritten: %v reads (%d), log %q", reads, n, logBuf.String())
				}
				if kinds := e.verify(); len(kinds) != 0 {
					t.Fatalf("verify: %v", kinds)
				}
			})
		}
	}
}
