package s3store

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/logkeeper/logkeeper/internal/store"
)

// attrs are the object attributes HeadObject and GetObject both return.
type attrs struct {
	size         *int64
	versionID    *string
	checksum     *string
	checksumType types.ChecksumType
	sse          types.ServerSideEncryption
	kmsKeyID     *string
	lockMode     types.ObjectLockMode
	lockUntil    *time.Time
	metadata     map[string]string
	contentType  *string
	etag         *string
	lastModified *time.Time
	md           middleware.Metadata
}

func (a attrs) info(key string) (store.ObjectInfo, error) {
	info := store.ObjectInfo{
		Key:          key,
		Size:         aws.ToInt64(a.size),
		VersionID:    normVersion(a.versionID),
		Checksum:     aws.ToString(a.checksum),
		ContentType:  aws.ToString(a.contentType),
		ETag:         aws.ToString(a.etag),
		Metadata:     a.metadata,
		LastModified: aws.ToTime(a.lastModified),
	}
	// A full-object SHA-256 checksum is the SHA-256 of the object.
	if info.Checksum != "" && !strings.Contains(info.Checksum, "-") && a.checksumType != types.ChecksumTypeComposite {
		if raw, err := base64.StdEncoding.DecodeString(info.Checksum); err == nil && len(raw) == 32 {
			info.SHA256 = hex.EncodeToString(raw)
		}
	}
	if a.lockMode != "" {
		info.Retention = &store.Retention{Mode: string(a.lockMode), Until: aws.ToTime(a.lockUntil).UTC()}
	}
	sse, err := sseOf(a.sse, a.kmsKeyID, a.md)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	info.SSE = sse
	return info, nil
}

// normVersion maps the "null" version id S3 gives objects of an unversioned
// bucket to "", as Put reports them.
func normVersion(v *string) string {
	if s := aws.ToString(v); s != "null" {
		return s
	}
	return ""
}

func versionParam(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}

// Head returns the object's attributes, with the checksum the server
// reports (checksum mode enabled) and the SSE encryption context.
func (s *Store) Head(ctx context.Context, key string, opts store.GetOptions) (store.ObjectInfo, error) {
	if err := store.ValidateKey(key); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("head: %w", err)
	}
	full := s.fullKey(key)
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket:       &s.bucket,
		Key:          &full,
		VersionId:    versionParam(opts.VersionID),
		ChecksumMode: types.ChecksumModeEnabled,
	}, s.opts(captureSSEContext)...)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("head %s: %w", key, s.classify(err, request{fullKey: full, versionID: opts.VersionID}))
	}
	info, err := attrs{
		size: out.ContentLength, versionID: out.VersionId, checksum: out.ChecksumSHA256, checksumType: out.ChecksumType,
		sse: out.ServerSideEncryption, kmsKeyID: out.SSEKMSKeyId, lockMode: out.ObjectLockMode, lockUntil: out.ObjectLockRetainUntilDate,
		metadata: out.Metadata, contentType: out.ContentType, etag: out.ETag, lastModified: out.LastModified, md: out.ResultMetadata,
	}.info(key)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("head %s: %w", key, err)
	}
	return info, nil
}

// Get opens the object. For a single-part object the SDK checks the bytes
// read against its SHA-256 checksum and fails the read at the end on a
// mismatch; the composite checksum of a multipart object cannot be checked
// that way.
func (s *Store) Get(ctx context.Context, key string, opts store.GetOptions) (io.ReadCloser, store.ObjectInfo, error) {
	if err := store.ValidateKey(key); err != nil {
		return nil, store.ObjectInfo{}, fmt.Errorf("get: %w", err)
	}
	full := s.fullKey(key)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket:       &s.bucket,
		Key:          &full,
		VersionId:    versionParam(opts.VersionID),
		ChecksumMode: types.ChecksumModeEnabled,
	}, s.opts(captureSSEContext)...)
	if err != nil {
		return nil, store.ObjectInfo{}, fmt.Errorf("get %s: %w", key, s.classify(err, request{fullKey: full, versionID: opts.VersionID}))
	}
	info, err := attrs{
		size: out.ContentLength, versionID: out.VersionId, checksum: out.ChecksumSHA256, checksumType: out.ChecksumType,
		sse: out.ServerSideEncryption, kmsKeyID: out.SSEKMSKeyId, lockMode: out.ObjectLockMode, lockUntil: out.ObjectLockRetainUntilDate,
		metadata: out.Metadata, contentType: out.ContentType, etag: out.ETag, lastModified: out.LastModified, md: out.ResultMetadata,
	}.info(key)
	if err != nil {
		out.Body.Close()
		return nil, store.ObjectInfo{}, fmt.Errorf("get %s: %w", key, err)
	}
	return out.Body, info, nil
}

// List calls fn for each object under prefix (relative to the store's
// prefix), in key order, a page of ListObjectsV2 at a time.
func (s *Store) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	full := s.fullKey(prefix)
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &full})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, s.opts()...)
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, s.classify(err, request{fullKey: full}))
		}
		for _, o := range page.Contents {
			key, ok := s.relKey(aws.ToString(o.Key))
			if !ok {
				continue
			}
			if err := fn(store.ObjectInfo{Key: key, Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag), LastModified: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Versions lists the versions and delete markers of exactly key, newest
// first. On an unversioned bucket it returns the current object (with an
// empty version id), if any.
func (s *Store) Versions(ctx context.Context, key string) ([]store.Version, error) {
	if err := store.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	full := s.fullKey(key)
	in := &s3.ListObjectVersionsInput{Bucket: &s.bucket, Prefix: &full}
	var vs []store.Version
	for {
		out, err := s.client.ListObjectVersions(ctx, in, s.opts()...)
		if err != nil {
			return nil, fmt.Errorf("versions %s: %w", key, s.classify(err, request{fullKey: full}))
		}
		past := false // the page reached keys after ours (listings are in key order)
		for _, v := range out.Versions {
			switch k := aws.ToString(v.Key); {
			case k == full:
				vs = append(vs, store.Version{
					VersionID:    normVersion(v.VersionId),
					IsLatest:     aws.ToBool(v.IsLatest),
					Size:         aws.ToInt64(v.Size),
					LastModified: aws.ToTime(v.LastModified),
				})
			case k > full:
				past = true
			}
		}
		for _, d := range out.DeleteMarkers {
			switch k := aws.ToString(d.Key); {
			case k == full:
				vs = append(vs, store.Version{
					VersionID:    normVersion(d.VersionId),
					IsLatest:     aws.ToBool(d.IsLatest),
					DeleteMarker: true,
					LastModified: aws.ToTime(d.LastModified),
				})
			case k > full:
				past = true
			}
		}
		if past || !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	// Versions and delete markers come in two lists, each newest first:
	// merge them by time, the latest first. A stable sort keeps the
	// server's order where times are equal.
	slices.SortStableFunc(vs, func(a, b store.Version) int {
		if a.IsLatest != b.IsLatest {
			if a.IsLatest {
				return -1
			}
			return 1
		}
		return b.LastModified.Compare(a.LastModified)
	})
	return vs, nil
}

// Delete removes key (on a versioned bucket: adds a delete marker). It is
// for tests; logkeeper never deletes archived data.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := store.ValidateKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	full := s.fullKey(key)
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &full}, s.opts()...); err != nil {
		return fmt.Errorf("delete %s: %w", key, s.classify(err, request{fullKey: full}))
	}
	return nil
}

// ServerChecksums reports that Head returns checksums the server computed
// at upload and keeps with the object, so a fast verify may trust them
// (see store.ChecksumAuthority).
func (s *Store) ServerChecksums() bool { return true }
