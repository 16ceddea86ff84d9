package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
)

// S3's 1024-byte key limit counts the store's prefix: a store under a
// prefix accepts shorter keys, says so (store.KeyLimit), and refuses a
// longer key as ErrInvalidKey before sending anything; a server's own
// KeyTooLongError (MinIO) is ErrInvalidKey too, never a failed run.
func TestKeyLimitCountsThePrefix(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>KeyTooLongError</Code><Message>Your key is too long</Message></Error>`))
	}))
	defer srv.Close()
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1,
	})
	ctx := context.Background()
	for _, tc := range []struct {
		prefix string
		limit  int
	}{
		{"", store.MaxKeyLen},
		{"archive", store.MaxKeyLen - len("archive/")},
		{"a/b/c", store.MaxKeyLen - len("a/b/c/")},
	} {
		st, err := s3store.New(ctx, s3store.Options{Bucket: "b", Prefix: tc.prefix, PathStyle: true, Client: client})
		if err != nil {
			t.Fatal(err)
		}
		if got := store.KeyLimit(st); got != tc.limit {
			t.Errorf("prefix %q: KeyLimit = %d, want %d", tc.prefix, got, tc.limit)
		}
		before := requests.Load()
		long := strings.Repeat("k", tc.limit+1)
		_, err = st.Put(ctx, long, bytes.NewReader([]byte("x")), store.PutOptions{Size: 1})
		if !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("prefix %q: put of a %d-byte key: want ErrInvalidKey, got %v", tc.prefix, len(long), err)
		}
		if requests.Load() != before {
			t.Errorf("prefix %q: a key over the limit was sent to the server", tc.prefix)
		}
		// A key within the limit goes out; the server's KeyTooLongError
		// is the key's fault: ErrInvalidKey.
		_, err = st.Put(ctx, strings.Repeat("k", tc.limit), bytes.NewReader([]byte("x")), store.PutOptions{Size: 1})
		if !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("prefix %q: server KeyTooLongError: want ErrInvalidKey, got %v", tc.prefix, err)
		}
		if requests.Load() == before {
			t.Errorf("prefix %q: a key within the limit was not sent", tc.prefix)
		}
	}
}
