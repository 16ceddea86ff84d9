package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logkeeper/logkeeper/internal/faults"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

// lostAnswers returns a store whose requests go through a proxy that lets
// the server carry out the first attempt of every request that match
// accepts and then resets the connection: the client never learns the
// outcome, and the SDK retries.
func lostAnswers(t *testing.T, env testenv.S3Env, bucket string, match func(r *http.Request) bool) (*s3store.Store, *faults.Proxy) {
	t.Helper()
	p, err := faults.Start(faults.Config{Target: env.Endpoint, Plan: func(r *http.Request, n uint64) faults.Kind {
		if n == 0 && match(r) {
			return faults.ResetAfter
		}
		return faults.Pass
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	faulty := env
	faulty.Endpoint = p.URL
	st, err := s3store.New(context.Background(), s3store.Options{
		Bucket: bucket, PathStyle: true, PartSize: testPartSize, Concurrency: 2, Client: faulty.Client(), MaxAttempts: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, p
}

func isCreate(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploads")
}
func isComplete(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
}
func isConditionalPut(r *http.Request) bool {
	return r.Method == http.MethodPut && r.Header.Get("If-None-Match") == "*" && !r.URL.Query().Has("partNumber")
}

// A request carried out by the server whose answer is lost is retried by
// the SDK; the retry must not turn the success into a failure, nor leave a
// second multipart upload behind.
func TestLostAnswers(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	ctx := context.Background()
	small := randBytes(1000, 1)
	big := randBytes(2*testPartSize+77, 2)
	tests := []struct {
		name  string
		match func(*http.Request) bool
		data  []byte
		opts  store.PutOptions
	}{
		{"conditional create", isConditionalPut, small, store.PutOptions{Size: int64(len(small)), IfNotExists: true}},
		{"create multipart upload", isCreate, big, store.PutOptions{Size: int64(len(big))}},
		{"complete multipart upload", isComplete, big, store.PutOptions{Size: int64(len(big))}},
		{"conditional complete", isComplete, big, store.PutOptions{Size: int64(len(big)), IfNotExists: true}},
	}
	for _, versioned := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if versioned {
				name += " versioned"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				bucket := env.NewBucket(t, false)
				if versioned {
					env.EnableVersioning(t, bucket)
				}
				st, p := lostAnswers(t, env, bucket, tt.match)
				info, err := st.Put(ctx, "objects/run/key", bytes.NewReader(tt.data), tt.opts)
				if err != nil {
					t.Fatalf("Put whose answer was lost once: %v", err)
				}
				if p.Counts()[faults.ResetAfter] != 1 {
					t.Fatalf("the proxy did not lose an answer: %v", p.Counts())
				}
				if versioned && info.VersionID == "" {
					t.Fatal("no version id reported")
				}
				rc, got, err := st.Get(ctx, "objects/run/key", store.GetOptions{VersionID: info.VersionID})
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				if !bytes.Equal(b, tt.data) || got.Checksum != info.Checksum {
					t.Fatalf("stored %d bytes with checksum %s, Put reported %s", len(b), got.Checksum, info.Checksum)
				}
				if ups := openUploads(t, env, bucket); len(ups) != 0 {
					t.Fatalf("multipart uploads left behind: %v", ups)
				}
			})
		}
	}
}

// A conditional create that really meets another object still fails with
// ErrExists, even when its first attempt's answer was lost.
func TestLostAnswerRealConflict(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	ctx := context.Background()
	bucket := env.NewBucket(t, false)
	if _, err := env.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: bytes.NewReader([]byte("other"))}); err != nil {
		t.Fatal(err)
	}
	st, _ := lostAnswers(t, env, bucket, isConditionalPut)
	_, err := st.Put(ctx, "k", bytes.NewReader([]byte("mine!")), store.PutOptions{Size: 5, IfNotExists: true})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("Put over another writer's object: %v, want ErrExists", err)
	}
}
