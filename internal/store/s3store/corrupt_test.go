package s3store_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

// Servers spell "the bytes do not match their checksum" differently; Put
// reports every spelling as store.ErrCorrupted and never retries it, even
// when a server answers it with a 5xx status (which the SDK would otherwise
// retry). Other 5xx answers are still retried.
func TestCorruptRefusalIsOneClass(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	tests := []struct {
		code   string
		status int
		class  bool // store.ErrCorrupted, tried once
	}{
		{"BadDigest", http.StatusBadRequest, true},                   // AWS, versitygw
		{"XAmzContentChecksumMismatch", http.StatusBadRequest, true}, // MinIO
		{"InvalidDigest", http.StatusBadRequest, true},               // AWS: malformed digest
		{"XAmzContentSHA256Mismatch", http.StatusBadRequest, true},   // AWS: signed payload hash
		{"BadDigest", http.StatusInternalServerError, true},          // not retried though 5xx
		{"XAmzContentChecksumMismatch", http.StatusServiceUnavailable, true},
		{"InternalError", http.StatusInternalServerError, false}, // transient: retried
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s-%d", tt.code, tt.status), func(t *testing.T) {
			t.Parallel()
			ctx := within(t, 2*time.Minute)
			p := newProxy(t, env)
			// PUT requests per part (or per PutObject).
			var mu sync.Mutex
			puts := map[string]int{}
			maxTries := func() int {
				mu.Lock()
				defer mu.Unlock()
				m := 0
				for _, n := range puts {
					m = max(m, n)
				}
				return m
			}
			p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPut {
					return false
				}
				mu.Lock()
				puts[r.URL.Path+"?"+r.URL.Query().Get("uploadId")+"#"+r.URL.Query().Get("partNumber")]++
				mu.Unlock()
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(tt.status)
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+tt.code+`</Code><Message>refused</Message></Error>`)
				return true
			}
			s := newStore(t, env, env.NewBucket(t, false), "", p.client(env))
			for name, data := range map[string][]byte{"single": []byte("hello"), "multipart": randBytes(testPartSize+1, 5)} {
				mu.Lock()
				clear(puts)
				mu.Unlock()
				_, err := s.Put(ctx, name, bytes.NewReader(data), store.PutOptions{Size: int64(len(data))})
				n := maxTries()
				if err == nil {
					t.Fatalf("%s: Put succeeded", name)
				}
				if got := errors.Is(err, store.ErrCorrupted); got != tt.class {
					t.Fatalf("%s: errors.Is(err, ErrCorrupted) = %v, want %v: %v", name, got, tt.class, err)
				}
				if tt.class && (n != 1 || !strings.Contains(err.Error(), tt.code)) {
					t.Fatalf("%s: a refused request was sent %d times (want 1, never retried), error %v (want the code named)", name, n, err)
				}
				if !tt.class && n < 2 {
					t.Fatalf("%s: a transient %d was tried %d times: the retry wrapper swallowed retries", name, tt.status, n)
				}
				if tt.class != s3store.IsCorruptCode(tt.code) {
					t.Fatalf("IsCorruptCode(%s) = %v", tt.code, !tt.class)
				}
			}
		})
	}
}
