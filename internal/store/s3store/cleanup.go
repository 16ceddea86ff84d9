package s3store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logkeeper/logkeeper/internal/store"
)

var _ store.UploadCleaner = (*Store)(nil)

// AbortStale aborts the multipart uploads under prefix (relative to the
// store's prefix) that were initiated more than olderThan ago, by the
// server's clock as the listing reports it compared with this machine's;
// olderThan <= 0 aborts all of them. See store.UploadCleaner.
func (s *Store) AbortStale(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	full := s.fullKey(prefix)
	cutoff := time.Now().Add(-olderThan)
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: &full}
	type upload struct{ key, id string }
	var stale []upload
	for {
		out, err := s.client.ListMultipartUploads(ctx, in, s.opts()...)
		if err != nil {
			return 0, fmt.Errorf("list multipart uploads under %s: %w", prefix, s.classify(err, request{fullKey: full}))
		}
		for _, u := range out.Uploads {
			if olderThan > 0 && u.Initiated != nil && u.Initiated.After(cutoff) {
				continue
			}
			stale = append(stale, upload{aws.ToString(u.Key), aws.ToString(u.UploadId)})
		}
		if !aws.ToBool(out.IsTruncated) || (aws.ToString(out.NextKeyMarker) == "" && aws.ToString(out.NextUploadIdMarker) == "") {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	n := 0
	for _, u := range stale {
		_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &u.key, UploadId: &u.id}, s.opts()...)
		if code, _, _ := apiCode(err); err != nil && code != "NoSuchUpload" {
			return n, fmt.Errorf("abort multipart upload %s of %s: %w", u.id, u.key, s.classify(err, request{fullKey: u.key}))
		}
		if err == nil {
			n++
		}
	}
	return n, nil
}
