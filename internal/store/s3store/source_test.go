package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"maps"
	"testing"
	"testing/iotest"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
)

func TestSourceFill(t *testing.T) {
	data := []byte("0123456789abcdef")
	errRead := errors.New("read failed")
	tests := []struct {
		name     string
		r        io.Reader
		bufs     []int // successive fill sizes
		wantN    []int
		wantMore []bool
		wantErr  error // on the last fill
	}{
		{"exact fit", bytes.NewReader(data), []int{16}, []int{16}, []bool{false}, nil},
		{"parts", bytes.NewReader(data), []int{5, 5, 5, 5}, []int{5, 5, 5, 1}, []bool{true, true, true, false}, nil},
		{"parts ending on a boundary", bytes.NewReader(data), []int{8, 8}, []int{8, 8}, []bool{true, false}, nil},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(data)), []int{10, 10}, []int{10, 6}, []bool{true, false}, nil},
		{"data with EOF", iotest.DataErrReader(bytes.NewReader(data)), []int{16}, []int{16}, []bool{false}, nil},
		{"empty", bytes.NewReader(nil), []int{4}, []int{0}, []bool{false}, nil},
		{"zero-length fill sees more", bytes.NewReader(data), []int{0}, []int{0}, []bool{true}, nil},
		{"error mid-part", io.MultiReader(bytes.NewReader(data[:3]), iotest.ErrReader(errRead)), []int{8}, []int{3}, []bool{false}, errRead},
		{"error at the peek", io.MultiReader(bytes.NewReader(data[:8]), iotest.ErrReader(errRead)), []int{8}, []int{8}, []bool{false}, errRead},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSource(tc.r)
			var got []byte
			for i, size := range tc.bufs {
				p := make([]byte, size)
				n, more, err := s.fill(p)
				got = append(got, p[:n]...)
				if n != tc.wantN[i] || more != tc.wantMore[i] {
					t.Fatalf("fill %d: n=%d more=%v, want n=%d more=%v", i, n, more, tc.wantN[i], tc.wantMore[i])
				}
				if i == len(tc.bufs)-1 && !errors.Is(err, tc.wantErr) || i < len(tc.bufs)-1 && err != nil {
					t.Fatalf("fill %d: err %v, want %v", i, err, tc.wantErr)
				}
			}
			if sum := sha256.Sum256(got); !bytes.Equal(s.sum(), sum[:]) || s.n != int64(len(got)) {
				t.Fatalf("hashed %d bytes, handed out %d: the hash is not of the bytes handed out", s.n, len(got))
			}
		})
	}
}

func TestCheckSize(t *testing.T) {
	tests := []struct {
		read  int64
		more  bool
		size  int64
		final bool
		ok    bool
	}{
		{10, false, -1, true, true},
		{10, true, -1, false, true},
		{10, false, 10, true, true},
		{10, true, 10, true, false},  // longer than declared
		{9, false, 10, true, false},  // shorter
		{5, true, 10, false, true},   // so far so good
		{5, false, 10, false, false}, // ended early
		{11, false, 10, true, false},
	}
	for _, tc := range tests {
		err := checkSize(tc.read, tc.more, tc.size, tc.final)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, store.ErrSizeMismatch) {
			t.Errorf("checkSize(read %d, more %v, size %d, final %v) = %v, want ok %v", tc.read, tc.more, tc.size, tc.final, err, tc.ok)
		}
	}
}

func TestSSEContextRoundTrip(t *testing.T) {
	c := map[string]string{"b": "2", "a": "1", "ünï": "côdé"}
	h, err := encodeSSEContext(c)
	if err != nil {
		t.Fatal(err)
	}
	// Keys sorted: the header is the same for the same context.
	if h != "eyJhIjoiMSIsImIiOiIyIiwiw7xuw68iOiJjw7Rkw6kifQ==" {
		t.Fatalf("header %s", h)
	}
	got, err := decodeSSEContext(h)
	if err != nil || !maps.Equal(got, c) {
		t.Fatalf("decode = %v, %v", got, err)
	}
	for _, bad := range []string{"not base64!", "bnVsbA==" /* null */, "WzFd" /* [1] */, "eyJhIjoxfQ==" /* {"a":1} */} {
		if c, err := decodeSSEContext(bad); err == nil && c != nil {
			t.Errorf("decode %q = %v, want an error", bad, c)
		}
	}
}

func FuzzDecodeSSEContext(f *testing.F) {
	f.Add("eyJhIjoiMSJ9")
	f.Add("")
	f.Add("bnVsbA==")
	f.Add("e30=")
	f.Fuzz(func(t *testing.T, h string) {
		c, err := decodeSSEContext(h)
		if err != nil || c == nil {
			return
		}
		h2, err := encodeSSEContext(c)
		if err != nil {
			t.Fatalf("re-encode %v: %v", c, err)
		}
		c2, err := decodeSSEContext(h2)
		if err != nil || !maps.Equal(c, c2) {
			t.Fatalf("round trip of %v gave %v, %v", c, c2, err)
		}
	})
}

func TestBufferPoolBudget(t *testing.T) {
	p := newBufferPool(4, 12)
	ctx := t.Context()
	a, _ := p.get(ctx, 4)
	b, _ := p.get(ctx, 4)
	c, _ := p.get(ctx, 4)
	if held := p.held.Load(); held != 12 {
		t.Fatalf("held %d, want 12", held)
	}
	got := make(chan *buffer)
	go func() {
		d, _ := p.get(ctx, 4)
		got <- d
	}()
	select {
	case <-got:
		t.Fatal("a fourth buffer was handed out over the budget")
	default:
	}
	p.put(a)
	d := <-got
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	big, err := p.get(short, 100) // larger than the budget: waits for all of it
	if err == nil {
		t.Fatalf("got a %d-byte buffer while the budget was in use", len(big.data))
	}
	for _, x := range []*buffer{b, c, d} {
		p.put(x)
	}
	big, err = p.get(ctx, 100)
	if err != nil || len(big.data) != 100 || p.held.Load() != 12 {
		t.Fatalf("buffer larger than the budget: %v, held %d", err, p.held.Load())
	}
	p.put(big)
	if p.held.Load() != 0 || p.peak.Load() != 12 {
		t.Fatalf("held %d peak %d, want 0 and 12", p.held.Load(), p.peak.Load())
	}
}
