package memstore_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/memstore"
	"github.com/logkeeper/logkeeper/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memstore.New(memstore.Options{}) }, storetest.Options{PartSize: 1 << 20})
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(memstore.Options{})
	if _, err := s.Put(ctx, "a/b", strings.NewReader("one"), store.PutOptions{Size: 3}); err != nil {
		t.Fatal(err)
	}
	s.SetFault("a/b", memstore.Fault{Size: 3, Body: func(n int) io.Reader {
		return strings.NewReader([]string{"one", "two"}[n%2])
	}})
	for i, want := range []string{"one", "two", "one"} {
		rc, info, err := s.Get(ctx, "a/b", store.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		if string(b) != want || info.Size != 3 {
			t.Fatalf("get %d = %q (size %d), want %q", i, b, info.Size, want)
		}
	}
	if n := s.Gets("a/b"); n != 3 {
		t.Fatalf("gets = %d, want 3", n)
	}
	boom := errors.New("boom")
	s.SetFault("x/y", memstore.Fault{Err: boom})
	if _, err := s.Head(ctx, "x/y", store.GetOptions{}); !errors.Is(err, boom) {
		t.Fatalf("head of a faulty key: %v", err)
	}
	s.SetFault("x/fifo", memstore.Fault{Block: true})
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	rc, _, err := s.Get(cctx, "x/fifo", store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read of a blocking key: %v", err)
	}
	s.PutRaw("odd//key", []byte("z"))
	var keys []string
	s.List(ctx, "", func(oi store.ObjectInfo) error { keys = append(keys, oi.Key); return nil })
	if strings.Join(keys, ",") != "a/b,odd//key,x/fifo,x/y" {
		t.Fatalf("listed %v", keys)
	}
}
