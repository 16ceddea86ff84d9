package s3store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/logkeeper/logkeeper/internal/store"
)

const defaultContentType = "application/octet-stream"

// putRequest is a Put's options, checked and in the form S3 requests take.
type putRequest struct {
	key, fullKey string
	opts         store.PutOptions
	contentType  string
	sse          sseRequest
	info         store.ObjectInfo // the fields known before sending
}

func (s *Store) newPutRequest(key string, opts store.PutOptions) (*putRequest, error) {
	p := &putRequest{key: key, fullKey: s.fullKey(key), opts: opts, contentType: opts.ContentType}
	if p.contentType == "" {
		p.contentType = defaultContentType
	}
	sseReq, sse, err := encodeSSE(opts.SSE)
	if err != nil {
		return nil, err
	}
	p.sse = sseReq
	var ret *store.Retention
	if r := opts.Retention; r != nil {
		if r.Mode != string(types.ObjectLockModeCompliance) && r.Mode != string(types.ObjectLockModeGovernance) {
			return nil, fmt.Errorf("retention mode %q: want %s or %s", r.Mode, types.ObjectLockModeCompliance, types.ObjectLockModeGovernance)
		}
		if r.Until.IsZero() {
			return nil, fmt.Errorf("retention %s: no retain-until date", r.Mode)
		}
		ret = &store.Retention{Mode: r.Mode, Until: r.Until.UTC()}
	}
	p.info = store.ObjectInfo{
		Key:         key,
		SSE:         sse,
		Retention:   ret,
		ContentType: p.contentType,
		Metadata:    maps.Clone(opts.Metadata),
	}
	return p, nil
}

func (p *putRequest) ifNoneMatch() *string {
	if p.opts.IfNotExists {
		return aws.String("*")
	}
	return nil
}

func (p *putRequest) ifMatch() *string {
	if p.opts.IfMatch != "" {
		return aws.String(p.opts.IfMatch)
	}
	return nil
}

func (p *putRequest) lockMode() types.ObjectLockMode {
	if p.info.Retention == nil {
		return ""
	}
	return types.ObjectLockMode(p.info.Retention.Mode)
}

func (p *putRequest) lockUntil() *time.Time {
	if p.info.Retention == nil {
		return nil
	}
	return aws.Time(p.info.Retention.Until)
}

func (p *putRequest) classifyArgs() request {
	return request{fullKey: p.fullKey, conditional: p.opts.IfNotExists, ifMatch: p.opts.IfMatch, retention: p.info.Retention != nil}
}

// Put stores the bytes of r under key; see the package documentation.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts store.PutOptions) (store.ObjectInfo, error) {
	if err := s.checkKey(key); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("put: %w", err)
	}
	if err := opts.CheckConditions(); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	p, err := s.newPutRequest(key, opts)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	if p.info.Retention != nil {
		if err := s.checkObjectLock(ctx, p.fullKey); err != nil {
			return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
		}
	}
	info, err := s.put(ctx, p, newSource(r))
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	return info, nil
}

func (s *Store) put(ctx context.Context, p *putRequest, src *source) (store.ObjectInfo, error) {
	size := p.opts.Size
	if size < 0 {
		size = -1
	}
	if size >= 0 && size <= s.partSize {
		buf, err := s.bufs.get(ctx, size)
		if err != nil {
			return store.ObjectInfo{}, err
		}
		defer s.bufs.put(buf)
		n, more, err := src.fill(buf.data[:size])
		if err != nil {
			return store.ObjectInfo{}, err
		}
		if err := checkSize(src.n, more, size, true); err != nil {
			return store.ObjectInfo{}, err
		}
		return s.putSingle(ctx, p, buf.data[:n], src.sum())
	}

	partSize := store.PartSizeFor(size, s.partSize)
	first, err := s.bufs.get(ctx, partSize)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	n, more, err := src.fill(first.data[:partSize])
	if err != nil {
		s.bufs.put(first)
		return store.ObjectInfo{}, err
	}
	if size < 0 && !more {
		defer s.bufs.put(first)
		return s.putSingle(ctx, p, first.data[:n], src.sum())
	}
	if err := checkSize(src.n, more, size, false); err != nil {
		s.bufs.put(first)
		return store.ObjectInfo{}, err
	}
	return s.putMultipart(ctx, p, src, partSize, first, n, more)
}

// checkSize compares what the source has yielded (read bytes, more to come)
// with the size the caller declared (-1: unknown). At the end of the source
// (or of the declared size, when final) the two must agree.
func checkSize(read int64, more bool, size int64, final bool) error {
	switch {
	case size < 0:
		return nil
	case read > size || read == size && more:
		return fmt.Errorf("%w: more than the declared %d bytes; nothing stored", store.ErrSizeMismatch, size)
	case read < size && !more, final && read != size:
		return fmt.Errorf("%w: %d bytes, declared %d; nothing stored", store.ErrSizeMismatch, read, size)
	}
	return nil
}

// withPayloadHash gives the SigV4 signer the SHA-256 of the body, which Put
// has already computed, so the SDK does not read the body again to sign it.
func withPayloadHash(sum []byte) func(*s3.Options) {
	h := hex.EncodeToString(sum)
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("logkeeperPayloadHash",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
					middleware.InitializeOutput, middleware.Metadata, error,
				) {
					return next.HandleInitialize(v4.SetPayloadHash(ctx, h), in)
				}), middleware.After)
		})
	}
}

// putSingle stores data with one PutObject; sum is its SHA-256.
func (s *Store) putSingle(ctx context.Context, p *putRequest, data []byte, sum []byte) (store.ObjectInfo, error) {
	checksum := base64.StdEncoding.EncodeToString(sum)
	var tries attempts
	out, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:                    &s.bucket,
		Key:                       &p.fullKey,
		Body:                      bytes.NewReader(data),
		ContentLength:             aws.Int64(int64(len(data))),
		ChecksumAlgorithm:         types.ChecksumAlgorithmSha256,
		ChecksumSHA256:            &checksum,
		ContentType:               &p.contentType,
		Metadata:                  p.opts.Metadata,
		IfNoneMatch:               p.ifNoneMatch(),
		IfMatch:                   p.ifMatch(),
		ServerSideEncryption:      p.sse.algorithm,
		SSEKMSKeyId:               p.sse.keyID,
		SSEKMSEncryptionContext:   p.sse.context,
		ObjectLockMode:            p.lockMode(),
		ObjectLockRetainUntilDate: p.lockUntil(),
	}, s.opts(withPayloadHash(sum), tries.count)...)
	info := p.info
	if err != nil {
		err = s.classify(err, p.classifyArgs())
		if !lostAnswer(&tries, p.opts, err) {
			return store.ObjectInfo{}, err
		}
		// A retried conditional Put that may meet its own first attempt.
		vid, etag, own := s.ownObject(ctx, p.fullKey, int64(len(data)), checksum)
		if !own {
			return store.ObjectInfo{}, err
		}
		out = &s3.PutObjectOutput{VersionId: vid, ETag: etag}
	}
	info.VersionID = aws.ToString(out.VersionId)
	info.ETag = aws.ToString(out.ETag)
	if got := aws.ToString(out.ChecksumSHA256); got != "" && got != checksum {
		return store.ObjectInfo{}, fmt.Errorf("server stored version %q with checksum %s, but the bytes sent have %s", info.VersionID, got, checksum)
	}
	info.Size = int64(len(data))
	info.SHA256 = hex.EncodeToString(sum)
	info.Checksum = checksum
	return s.withServerKey(ctx, info, out.SSEKMSKeyId)
}

// checkObjectLock makes sure, before the first Put with a retention, that
// the bucket has Object Lock: some servers (versitygw 1.8) store the object
// and only then refuse its retention, which would leave an unprotected
// object behind a failed Put. A bucket seen with Object Lock keeps it (it
// cannot be turned off), so the answer is remembered. When the check itself
// is not allowed, the Put goes ahead and the server decides.
func (s *Store) checkObjectLock(ctx context.Context, fullKey string) error {
	if s.objectLock.Load() {
		return nil
	}
	out, err := s.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &s.bucket}, s.opts()...)
	if err == nil && out.ObjectLockConfiguration != nil && out.ObjectLockConfiguration.ObjectLockEnabled == types.ObjectLockEnabledEnabled {
		s.objectLock.Store(true)
		return nil
	}
	code, msg, _ := apiCode(err)
	switch {
	case err == nil:
		return &s3Error{msg: fmt.Sprintf(noObjectLock, s.bucket, "s3://"+s.bucket+"/"+fullKey, "Object Lock configuration not enabled")}
	case code == "ObjectLockConfigurationNotFoundError":
		return &s3Error{msg: fmt.Sprintf(noObjectLock, s.bucket, "s3://"+s.bucket+"/"+fullKey, code+": "+msg), errs: []error{err}}
	case ctx.Err() != nil:
		return err
	}
	return nil
}
