package s3store_test

import (
	"context"
	"slices"
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
		keys = append(keys, u[:len(u)-37])
	}
	slices.Sort(keys)
	if want := []string{"archive/s/manifests/x", "archive/t/objects/run3/c", "other/s/objects/d"}; !slices.Equal(keys, want) {
		t.Fatalf("uploads left: %v, want %v", keys, want)
	}
	if n, err := st.AbortStale(ctx, "s/objects/", 0); err != nil || n != 0 {
		t.Fatalf("AbortStale with nothing left = %d, %v", n, err)
	}
}
