package s3store

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/logkeeper/logkeeper/internal/store"
)

// A request whose answer was lost (a connection reset or timeout after the
// server carried it out) is retried by the SDK, and the retry meets the
// effect of the first attempt. This file recognises the three cases where
// that would turn a success into a failure or leave debris:
//
//   - a conditional create (If-None-Match: *) whose first attempt stored the
//     object: the retry gets 412, and Put would report store.ErrExists for
//     its own object;
//   - CompleteMultipartUpload whose first attempt completed the upload: the
//     retry gets NoSuchUpload (AWS), or success without the version id
//     (versitygw);
//   - CreateMultipartUpload whose first attempt created an upload: the
//     retry creates a second one, and the first is never aborted.
//
// In each case the store checks, only when the request took more than one
// attempt, what is on the server: an object at the key with exactly the
// checksum of the bytes sent is the Put's own.

// attempts counts the attempts (first try and retries) of one request.
type attempts struct{ n atomic.Int32 }

func (a *attempts) retried() bool { return a.n.Load() > 1 }

// count is a per-request option that counts its attempts: the middleware
// runs in the finalize step after the SDK's retry loop, once per attempt.
func (a *attempts) count(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("logkeeperCountAttempts",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
				middleware.FinalizeOutput, middleware.Metadata, error,
			) {
				a.n.Add(1)
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
}

// ownObject reports whether the object now at fullKey is the one this Put
// sent: same size and the same checksum (base64 SHA-256 for a single part,
// the composite "base64-N" for a multipart upload). It returns the object's
// version id and ETag.
func (s *Store) ownObject(ctx context.Context, fullKey string, size int64, checksum string) (versionID, etag *string, ok bool) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: &s.bucket, Key: &fullKey, ChecksumMode: types.ChecksumModeEnabled,
	}, s.opts()...)
	if err != nil || aws.ToInt64(out.ContentLength) != size || aws.ToString(out.ChecksumSHA256) != checksum {
		return nil, nil, false
	}
	if aws.ToString(out.VersionId) == "null" {
		out.VersionId = nil
	}
	return out.VersionId, out.ETag, true
}

// lostAnswer reports whether err, the classified error of a conditional
// request that took more than one attempt, may be the retry meeting its own
// first attempt: the key taken (create), the ETag changed (replace), the
// upload gone (complete).
func lostAnswer(tries *attempts, opts store.PutOptions, err error) bool {
	if !tries.retried() {
		return false
	}
	return isNoSuchUpload(err) ||
		opts.IfNotExists && errors.Is(err, store.ErrExists) ||
		opts.IfMatch != "" && errors.Is(err, store.ErrPreconditionFailed)
}

// abortOtherUploads aborts the uploads of exactly fullKey other than
// uploadID: left by a CreateMultipartUpload whose answer was lost and that
// the SDK retried. Object keys are unique to a run, so another upload of
// the same key is this Put's own. Best effort: what it misses, the next
// run's store.UploadCleaner removes.
func (s *Store) abortOtherUploads(ctx context.Context, fullKey, uploadID string) {
	out, err := s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: &fullKey}, s.opts()...)
	if err != nil {
		return
	}
	for _, u := range out.Uploads {
		if aws.ToString(u.Key) != fullKey || aws.ToString(u.UploadId) == uploadID {
			continue
		}
		_, _ = s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: u.Key, UploadId: u.UploadId}, s.opts()...)
	}
}

// isNoSuchUpload reports whether err is S3's NoSuchUpload.
func isNoSuchUpload(err error) bool {
	code, _, _ := apiCode(err)
	return code == "NoSuchUpload"
}
