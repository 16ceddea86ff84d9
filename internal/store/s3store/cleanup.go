package s3store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// maxBucketUploadPages bounds the bucket-wide listing of AbortStale's
// fallback (1,000 uploads a page).
const maxBucketUploadPages = 10

// AbortStale aborts the multipart uploads under prefix (relative to the
// store's prefix) that were initiated more than olderThan ago, by the
// server's clock as the listing reports it compared with this machine's;
// olderThan <= 0 aborts all of them. See store.UploadCleaner.
//
// Some servers list multipart uploads only for an exact object key, not
// for a prefix (MinIO, by design: it answers a prefix with no uploads, and
// no prefix with the uploads it holds in memory). So when the listing
// under the prefix finds nothing, the bucket's uploads are listed without
// a prefix (at most maxBucketUploadPages pages) and those under the prefix
// kept. What neither finds is left to the server's own expiry of stale
// uploads (MinIO: 24 h by default).
func (s *Store) AbortStale(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	full := s.fullKey(prefix)
	cutoff := time.Now().Add(-olderThan)
	stale, seen, err := s.listUploads(ctx, full, full, 0, olderThan, cutoff)
	if err == nil && seen == 0 {
		stale, _, err = s.listUploads(ctx, "", full, maxBucketUploadPages, olderThan, cutoff)
	}
	if err != nil {
		return 0, fmt.Errorf("list multipart uploads under %s: %w", prefix, err)
	}
	n := 0
	var aborted []upload
	for _, u := range stale {
		_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &u.key, UploadId: &u.id}, s.opts()...)
		if code, _, _ := apiCode(err); err != nil && code != "NoSuchUpload" {
			return n, fmt.Errorf("abort multipart upload %s of %s: %w", u.id, u.key, s.classify(err, request{fullKey: u.key}))
		}
		if err == nil {
			n++
			aborted = append(aborted, u)
		}
	}
	// The process that left these uploads may have died with a part in
	// flight, which the server can still store after the abort.
	if len(aborted) > 0 {
		if err := s.settleAborts(ctx, aborted); err != nil {
			return n, fmt.Errorf("abort multipart uploads under %s again: %w", prefix, err)
		}
	}
	return n, nil
}

type upload struct{ key, id string }

// listUploads lists the bucket's multipart uploads with listPrefix (at
// most maxPages pages; 0: all) and returns those whose key starts with
// under and that are older than the cutoff (all when olderThan <= 0), and
// how many uploads under it were seen at all.
func (s *Store) listUploads(ctx context.Context, listPrefix, under string, maxPages int, olderThan time.Duration, cutoff time.Time) (stale []upload, seen int, err error) {
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket}
	if listPrefix != "" {
		in.Prefix = &listPrefix
	}
	for page := 1; ; page++ {
		out, err := s.client.ListMultipartUploads(ctx, in, s.opts()...)
		if err != nil {
			return nil, 0, s.classify(err, request{fullKey: under})
		}
		for _, u := range out.Uploads {
			key := aws.ToString(u.Key)
			if !strings.HasPrefix(key, under) {
				continue
			}
			seen++
			if olderThan > 0 && u.Initiated != nil && u.Initiated.After(cutoff) {
				continue
			}
			stale = append(stale, upload{key, aws.ToString(u.UploadId)})
		}
		if !aws.ToBool(out.IsTruncated) || (aws.ToString(out.NextKeyMarker) == "" && aws.ToString(out.NextUploadIdMarker) == "") || page == maxPages {
			return stale, seen, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}
