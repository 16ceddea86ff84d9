package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/logkeeper/logkeeper/internal/store"
)

// abortTimeout bounds the cleanup of a failed multipart upload, which runs
// even when the Put's context is already cancelled.
const abortTimeout = 30 * time.Second

// partJob is one part read from the source, waiting to be sent.
type partJob struct {
	num int32
	buf *buffer
	n   int
}

// sentPart is a part the server accepted.
type sentPart struct {
	num      int32
	etag     *string
	checksum string // base64 SHA-256 of the part
}

// putMultipart uploads the object as a multipart upload. first holds the
// first part (n bytes, more telling whether the source has more); it and
// every later buffer go back to the pool once sent or abandoned.
func (s *Store) putMultipart(ctx context.Context, p *putRequest, src *source, partSize int64, first *buffer, n int, more bool) (store.ObjectInfo, error) {
	var tries attempts
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:                    &s.bucket,
		Key:                       &p.fullKey,
		ChecksumAlgorithm:         types.ChecksumAlgorithmSha256,
		ChecksumType:              types.ChecksumTypeComposite,
		ContentType:               &p.contentType,
		Metadata:                  p.opts.Metadata,
		ServerSideEncryption:      p.sse.algorithm,
		SSEKMSKeyId:               p.sse.keyID,
		SSEKMSEncryptionContext:   p.sse.context,
		ObjectLockMode:            p.lockMode(),
		ObjectLockRetainUntilDate: p.lockUntil(),
	}, s.opts(tries.count)...)
	if err != nil {
		s.bufs.put(first)
		return store.ObjectInfo{}, s.classify(err, p.classifyArgs())
	}
	uploadID := aws.ToString(created.UploadId)
	if uploadID == "" {
		s.bufs.put(first)
		return store.ObjectInfo{}, errors.New("create multipart upload: server returned no upload id")
	}
	if tries.retried() {
		s.abortOtherUploads(ctx, p.fullKey, uploadID)
	}

	parts, cut, err := s.sendParts(ctx, p, src, partSize, first, n, more, uploadID)
	if err != nil {
		return store.ObjectInfo{}, s.abort(ctx, p.fullKey, uploadID, cut, err)
	}
	info, err := s.complete(ctx, p, uploadID, src.n, parts)
	if err != nil {
		// A Complete cut short may still be running on the server too.
		_, _, status := apiCode(err)
		return store.ObjectInfo{}, s.abort(ctx, p.fullKey, uploadID, status == 0, err)
	}
	if info.SSE != nil {
		// The key the server reports: Complete's answer, else Create's.
		reported := info.SSE.ServerKMSKeyID
		if reported == "" {
			reported = aws.ToString(created.SSEKMSKeyId)
		}
		if info, err = s.withServerKey(ctx, info, &reported); err != nil {
			return store.ObjectInfo{}, err
		}
	}
	info.Size = src.n
	info.SHA256 = hex.EncodeToString(src.sum())
	info.PartSize = partSize
	return info, nil
}

// sendParts reads the source part by part and has Concurrency workers
// upload the parts. It returns when every part is sent, or at the first
// failure once no part is in flight any more (so that an abort that follows
// leaves nothing behind). cut reports that a part request ended without
// the server's answer (cancelled, timed out, connection lost): the server
// may still be storing that part, so the abort must make sure it is gone.
func (s *Store) sendParts(ctx context.Context, p *putRequest, src *source, partSize int64, buf *buffer, n int, more bool, uploadID string) (_ []sentPart, cut bool, _ error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	jobs := make(chan partJob)
	var (
		mu      sync.Mutex
		sent    []sentPart
		wg      sync.WaitGroup
		someCut atomic.Bool
	)
	for range s.concurrency {
		wg.Go(func() {
			for j := range jobs {
				part, err := s.uploadPart(ctx, p.fullKey, uploadID, j.num, j.buf.data[:j.n])
				s.bufs.put(j.buf)
				if err != nil {
					if _, _, status := apiCode(err); status == 0 {
						someCut.Store(true)
					}
					cancel(err)
					continue
				}
				mu.Lock()
				sent = append(sent, part)
				mu.Unlock()
			}
		})
	}

	size := p.opts.Size
	readErr := func() error {
		for num := int32(1); ; num++ {
			// buf holds part num, n bytes; more: the source has more.
			if num > store.MaxParts {
				s.bufs.put(buf)
				return fmt.Errorf("object larger than %d parts of %d bytes", store.MaxParts, partSize)
			}
			select {
			case jobs <- partJob{num: num, buf: buf, n: n}:
			case <-ctx.Done():
				s.bufs.put(buf)
				return nil // the cause is in ctx
			}
			if !more {
				return nil
			}
			var err error
			if buf, err = s.bufs.get(ctx, partSize); err != nil {
				return nil // ctx ended
			}
			want := partSize
			if size >= 0 {
				want = min(partSize, size-src.n)
			}
			n, more, err = src.fill(buf.data[:want])
			if err == nil {
				err = checkSize(src.n, more, size, !more || src.n == size)
			}
			if err != nil {
				s.bufs.put(buf)
				return err
			}
		}
	}()
	close(jobs)
	wg.Wait()

	switch {
	case readErr != nil:
		return nil, someCut.Load(), readErr
	case ctx.Err() != nil:
		return nil, someCut.Load(), context.Cause(ctx)
	}
	slices.SortFunc(sent, func(a, b sentPart) int { return int(a.num - b.num) })
	return sent, false, nil
}

// uploadPart sends one part with the SHA-256 checksum of its bytes, which
// the server checks before accepting it.
func (s *Store) uploadPart(ctx context.Context, fullKey, uploadID string, num int32, data []byte) (sentPart, error) {
	sum := sha256.Sum256(data)
	checksum := base64.StdEncoding.EncodeToString(sum[:])
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:            &s.bucket,
		Key:               &fullKey,
		UploadId:          &uploadID,
		PartNumber:        aws.Int32(num),
		Body:              bytes.NewReader(data),
		ContentLength:     aws.Int64(int64(len(data))),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    &checksum,
	}, s.opts(withPayloadHash(sum[:]))...)
	if err != nil {
		return sentPart{}, fmt.Errorf("part %d: %w", num, s.classify(err, request{fullKey: fullKey}))
	}
	if got := aws.ToString(out.ChecksumSHA256); got != "" && got != checksum {
		return sentPart{}, fmt.Errorf("part %d: server reports checksum %s, but the bytes sent have %s", num, got, checksum)
	}
	return sentPart{num: num, etag: out.ETag, checksum: checksum}, nil
}

// complete completes the upload and checks the composite checksum the
// server reports against the one computed from the parts sent.
func (s *Store) complete(ctx context.Context, p *putRequest, uploadID string, size int64, parts []sentPart) (store.ObjectInfo, error) {
	completed := make([]types.CompletedPart, len(parts))
	sums := make([]string, len(parts))
	for i, part := range parts {
		if part.num != int32(i+1) {
			return store.ObjectInfo{}, fmt.Errorf("internal error: part %d missing", i+1)
		}
		completed[i] = types.CompletedPart{PartNumber: aws.Int32(part.num), ETag: part.etag, ChecksumSHA256: aws.String(part.checksum)}
		sums[i] = part.checksum
	}
	composite, err := store.CompositeChecksum(sums)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	var tries attempts
	out, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &s.bucket,
		Key:             &p.fullKey,
		UploadId:        &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
		IfNoneMatch:     p.ifNoneMatch(),
		IfMatch:         p.ifMatch(),
	}, s.opts(tries.count)...)
	if err != nil {
		err = fmt.Errorf("complete multipart upload: %w", s.classify(err, p.classifyArgs()))
		if !lostAnswer(&tries, p.opts, err) {
			return store.ObjectInfo{}, err
		}
		// A retried completion that may meet its own first attempt: the
		// upload is gone because it became the object.
		vid, etag, own := s.ownObject(ctx, p.fullKey, size, composite)
		if !own {
			return store.ObjectInfo{}, err
		}
		out = &s3.CompleteMultipartUploadOutput{VersionId: vid, ETag: etag, ChecksumSHA256: &composite}
	} else if tries.retried() && out.VersionId == nil {
		// Some servers (versitygw 1.8) answer a retried completion of an
		// upload that the first attempt completed with success but without
		// the version id: ask the object.
		if vid, etag, own := s.ownObject(ctx, p.fullKey, size, composite); own {
			out.VersionId, out.ETag = vid, etag
		}
	}
	info := p.info
	info.VersionID = aws.ToString(out.VersionId)
	info.ETag = aws.ToString(out.ETag)
	// Once completed the object exists: a mismatch here cannot be undone by
	// an abort, but the caller must not take the object for a good copy.
	if got := aws.ToString(out.ChecksumSHA256); got != "" && got != composite {
		return store.ObjectInfo{}, fmt.Errorf("server completed version %q with checksum %s, but the parts sent give %s", info.VersionID, got, composite)
	}
	info.Checksum = composite
	info.PartChecksums = sums
	if info.SSE != nil {
		sse := *info.SSE
		sse.ServerKMSKeyID = aws.ToString(out.SSEKMSKeyId)
		info.SSE = &sse
	}
	return info, nil
}

// abort aborts a failed upload, with a fresh deadline so that it runs even
// after ctx is cancelled, and returns cause joined with any abort error.
// settle: a request of the upload was cut short, so the server may still
// store a part after the abort and bring the upload back; see settleAborts.
func (s *Store) abort(ctx context.Context, fullKey, uploadID string, settle bool, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	u := []upload{{fullKey, uploadID}}
	err := s.abortUpload(ctx, u[0])
	if err == nil && settle {
		err = s.settleAborts(ctx, u)
	}
	if err == nil {
		return cause
	}
	return errors.Join(cause, fmt.Errorf("abort multipart upload %s (its parts may remain until a lifecycle rule removes them): %w", uploadID, err))
}

// abortUpload aborts one upload; one already gone is not an error.
func (s *Store) abortUpload(ctx context.Context, u upload) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   &s.bucket,
		Key:      &u.key,
		UploadId: &u.id,
	}, s.opts()...)
	if err != nil && !isNoSuchUpload(err) {
		return s.classify(err, request{fullKey: u.key})
	}
	return nil
}

// settleDelays is how long settleAborts waits before each new abort.
var settleDelays = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}

// settleAborts aborts the uploads again over about 1.5 s. A part request
// the client gave up on may still be running on the server: S3 says such a
// part "might succeed or fail" after the abort, and that the abort may need
// repeating. versitygw and MinIO both bring an aborted upload back when a
// late part lands (found as uploads left after a cancelled Put). An abort
// of an upload that stayed gone answers NoSuchUpload and costs nothing.
func (s *Store) settleAborts(ctx context.Context, uploads []upload) error {
	for _, d := range settleDelays {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
		for _, u := range uploads {
			if err := s.abortUpload(ctx, u); err != nil {
				return err
			}
		}
	}
	return nil
}
