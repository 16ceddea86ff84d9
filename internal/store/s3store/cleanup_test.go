package s3store_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logkeeper/logkeeper/internal/testenv"
)

// AbortStale aborts the uploads under its prefix that are old enough, and
// leaves younger ones and those outside the prefix alone.
func TestAbortStale(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	ctx := context.Background()
	bucket := env.NewBucket(t, false)
	st := newStore(t, env, bucket, "archive", nil)
	for _, k := range []string{"archive/s/objects/run1/a", "archive/s/objects/run2/b", "archive/s/manifests/x", "archive/t/objects/run3/c", "other/s/objects/d"} {
		if _, err := env.Client().CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	// Younger than an hour: left alone.
	if n, err := st.AbortStale(ctx, "s/objects/", time.Hour); err != nil || n != 0 {
		t.Fatalf("AbortStale(1h) = %d, %v; want 0 aborted", n, err)
	}
	if got := openUploads(t, env, bucket); len(got) != 5 {
		t.Fatalf("after AbortStale(1h): %v", got)
	}
	time.Sleep(1100 * time.Millisecond)
	n, err := st.AbortStale(ctx, "s/objects/", time.Second)
	if err != nil || n != 2 {
		t.Fatalf("AbortStale(1s) = %d, %v; want 2 aborted", n, err)
	}
	var keys []string
	for _, u := range openUploads(t, env, bucket) {
		key, _, _ := strings.Cut(u, " ") // upload ids differ in form by server
		keys = append(keys, key)
	}
	slices.Sort(keys)
	if want := []string{"archive/s/manifests/x", "archive/t/objects/run3/c", "other/s/objects/d"}; !slices.Equal(keys, want) {
		t.Fatalf("uploads left: %v, want %v", keys, want)
	}
	if n, err := st.AbortStale(ctx, "s/objects/", 0); err != nil || n != 0 {
		t.Fatalf("AbortStale with nothing left = %d, %v", n, err)
	}
}

// A server that lists multipart uploads only for an exact key (MinIO
// answers any other prefix with none): AbortStale finds the stale uploads
// under its prefix in the bucket-wide listing instead. A proxy answers the
// prefix listings as MinIO does.
func TestAbortStaleExactKeyListing(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	ctx := within(t, time.Minute)
	bucket := env.NewBucket(t, false)
	p := newProxy(t, env)
	var prefixed atomic.Int32
	p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		q := r.URL.Query()
		if r.Method != http.MethodGet || !q.Has("uploads") || q.Get("prefix") == "" {
			return false
		}
		prefixed.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>`+bucket+`</Bucket><Prefix>`+q.Get("prefix")+`</Prefix><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>`)
		return true
	}
	st := newStore(t, env, bucket, "archive", p.client(env))
	for _, k := range []string{"archive/s/objects/run1/a", "archive/s/objects/run2/b", "archive/t/objects/run3/c"} {
		if _, err := env.Client().CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	n, err := st.AbortStale(ctx, "s/objects/", time.Second)
	if err != nil || n != 2 || prefixed.Load() != 1 {
		t.Fatalf("AbortStale(1s) = %d, %v after %d prefix listings; want 2 aborted after 1", n, err, prefixed.Load())
	}
	if left := openUploads(t, env, bucket); len(left) != 1 || !strings.HasPrefix(left[0], "archive/t/objects/run3/c") {
		t.Fatalf("uploads left: %v, want only the one outside the prefix", left)
	}
}

// TestAbortStaleLatePart: a process killed with a part in flight leaves an
// upload, and the server may store that part after the next run's
// AbortStale aborted it, which brings the upload back. AbortStale must
// still leave nothing.
func TestAbortStaleLatePart(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	ctx := within(t, time.Minute)
	bucket := env.NewBucket(t, false)
	p := newProxy(t, env)
	_, swallowed := revivedUpload(t, p, "")
	key := "archive/s/objects/run1/a"
	if _, err := env.Client().CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key}); err != nil {
		t.Fatal(err)
	}
	st := newStore(t, env, bucket, "archive", p.client(env))
	n, err := st.AbortStale(ctx, "s/", 0)
	if err != nil || n != 1 {
		t.Fatalf("AbortStale = %d, %v; want 1 upload aborted", n, err)
	}
	select {
	case <-swallowed:
	default:
		t.Fatal("no abort was sent")
	}
	if ids := openUploads(t, env, bucket); len(ids) > 0 {
		t.Fatalf("uploads left after an abort the upload survived: %v", ids)
	}
}
