// Package store defines the object storage that logkeeper archives into.
//
// Every implementation (the local filesystem store, S3) gives the same
// guarantees, which the archive's chain of custody depends on:
//
//   - Atomic put: an object becomes visible whole, with all its bytes and
//     metadata, or not at all. A failed or cancelled Put leaves nothing
//     visible and nothing half-written behind (S3 multipart uploads are
//     aborted).
//   - Integrity on the wire: Put hashes the bytes in the same pass that sends
//     them and returns the SHA-256 of exactly what was stored; where the
//     backend supports it, the backend itself checks a SHA-256 checksum of
//     each part and rejects corrupted data.
//   - Conditional create: a Put with IfNotExists fails with ErrExists when the
//     key already exists, and of several racing creators exactly one wins.
//   - Conditional replace: a Put with IfMatch replaces the object only if its
//     current ETag equals IfMatch; otherwise (another writer replaced it, or
//     it does not exist) it fails with ErrPreconditionFailed and changes
//     nothing. Of several racing replacers holding the same ETag exactly one
//     wins. This is compare-and-swap on one key, which leases are built on;
//     archived data never uses it.
//   - Read-after-write: once Put returns, Head, Get and List see the object.
//   - Durable on return: once Put returns, the object survives a crash of
//     the machine, with one exception a caller asks for: a Put with
//     PutOptions.Deferred on a store that implements Syncer is durable at
//     the next Sync (see Syncer). A store that is durable on return (S3)
//     ignores Deferred.
//
// All methods are safe for concurrent use. Errors wrap the sentinels below
// where they apply; any other error may be transient (the S3 client retries
// throttling and 5xx answers itself before returning one).
package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors. Implementations wrap them so callers use errors.Is.
var (
	// ErrNotFound: the key (or the requested version of it) does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrExists: a conditional create found the key already present.
	ErrExists = errors.New("object already exists")
	// ErrInvalidKey: the key is empty, absolute, or has a ".." or "." segment.
	ErrInvalidKey = errors.New("invalid object key")
	// ErrSizeMismatch: the reader yielded more or fewer bytes than
	// PutOptions.Size announced (the source changed while being read).
	ErrSizeMismatch = errors.New("source size changed while reading")
	// ErrPreconditionFailed: a conditional replace (PutOptions.IfMatch)
	// found another ETag, or no object at all (then the error also wraps
	// ErrNotFound). It is distinct from ErrExists, which only a conditional
	// create returns, so a caller can tell "someone created it" from
	// "someone changed it". Not retriable as is: read the object again.
	ErrPreconditionFailed = errors.New("object changed: precondition failed")
	// ErrCorrupted: the server refused the bytes it received because they do
	// not match the checksum sent with them (S3 BadDigest, InvalidDigest,
	// XAmzContentSHA256Mismatch, MinIO XAmzContentChecksumMismatch, ...):
	// they were damaged on the way. Nothing was stored. It is never retried
	// as if transient: the caller decides whether to send the data again.
	ErrCorrupted = errors.New("the server refused the bytes as corrupted: checksum mismatch")
	// ErrUnreadable: something is stored at the key, but not as the store
	// writes objects: a symbolic link, FIFO or device where a file should
	// be, or metadata that is corrupt or too large. It concerns that key
	// only; other keys are unaffected. Not retriable.
	ErrUnreadable = errors.New("stored object is unreadable")
	// ErrNoStore: the store itself (a filesystem store's root folder) does
	// not exist. A reader never creates it.
	ErrNoStore = errors.New("store does not exist")
)

// Store is an object store. See the package documentation for the
// guarantees every implementation gives.
type Store interface {
	// Put stores the bytes read from r under key. opts.Size is the number of
	// bytes r will yield, or -1 if unknown; when it is known and r yields a
	// different number of bytes, Put fails and stores nothing.
	Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (ObjectInfo, error)
	// Get opens the object (the given version, or the latest).
	Get(ctx context.Context, key string, opts GetOptions) (io.ReadCloser, ObjectInfo, error)
	// Head returns the object's attributes, with the checksums the backend
	// reports (the S3 store asks for them with checksum mode enabled).
	Head(ctx context.Context, key string, opts GetOptions) (ObjectInfo, error)
	// List calls fn for every object whose key starts with prefix, in
	// ascending key order, until fn returns an error (which List returns).
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// Versions lists every version and delete marker of key, newest first.
	// A store without versioning returns the one current object, if any.
	Versions(ctx context.Context, key string) ([]Version, error)
	// Describe says where the store is, for logs and manifests, e.g.
	// "s3://bucket/prefix" or "file:///var/lib/logkeeper". No secrets.
	Describe() string
}

// Deleter is implemented by stores that can remove objects. logkeeper never
// deletes archived data; tests use it to tamper with an archive.
type Deleter interface {
	Delete(ctx context.Context, key string) error
}

// ChecksumAuthority is implemented by stores whose Head reports checksums
// computed and kept by the server (S3), so a fast verify may trust them
// instead of reading every object back. A store that computes nothing
// itself (the file store) does not implement it, or returns false.
type ChecksumAuthority interface {
	ServerChecksums() bool
}

// Syncer is implemented by stores that can defer part of a create's
// durability to a barrier, so that many small objects cost one durability
// point between them instead of one each (the file store: fsyncs of the
// folders their names were linked into).
//
// A Put with PutOptions.Deferred on such a store returns with the object
// visible, its bytes and its metadata durable (nothing is visible before
// its bytes are durable, and an object is never visible without its
// metadata, before or after a crash), but its name may be lost by a crash
// of the machine (not of the process) until Sync returns: after such a
// crash the key is simply absent, never present with other bytes. Sync
// makes every Deferred Put that returned before it was called durable, and
// returns an error if any of them could not be made so. A caller that
// writes anything claiming an object (the manifest that lists it) calls
// Sync first: the export calls it before sealing each manifest.
type Syncer interface {
	Sync(ctx context.Context) error
}

// Sync is the durability barrier for st's Deferred Puts: st's Sync, or
// nothing for a store whose Puts are durable on return.
func Sync(ctx context.Context, st Store) error {
	if s, ok := st.(Syncer); ok {
		return s.Sync(ctx)
	}
	return nil
}

// KeyLimiter is implemented by stores that accept keys shorter than
// MaxKeyLen: an S3 store under a prefix (S3's 1024-byte limit counts the
// whole key, prefix included).
type KeyLimiter interface {
	// MaxKeyLen is the longest key, in bytes, Put accepts.
	MaxKeyLen() int
}

// KeyLimit returns the longest key st accepts: its KeyLimiter's answer, or
// MaxKeyLen.
func KeyLimit(st Store) int {
	if kl, ok := st.(KeyLimiter); ok {
		return kl.MaxKeyLen()
	}
	return MaxKeyLen
}

// PutOptions says how an object is to be stored.
type PutOptions struct {
	// Size is the exact number of bytes the reader yields, or -1.
	Size int64
	// IfNotExists makes the Put a conditional create (If-None-Match: *).
	IfNotExists bool
	// IfMatch, when not empty, makes the Put a conditional replace
	// (If-Match): it succeeds only if the object exists and its ETag is
	// IfMatch, as returned in ObjectInfo.ETag; otherwise it fails with
	// ErrPreconditionFailed. It cannot be combined with IfNotExists. The
	// filesystem store, which is otherwise write-once, replaces an object
	// only through IfMatch.
	IfMatch string
	// ContentType of the object; empty means application/octet-stream.
	ContentType string
	// Metadata is user metadata (x-amz-meta-*). Keys are lower case.
	Metadata map[string]string
	// SSE, when not nil, asks for SSE-KMS encryption with this key and
	// encryption context.
	SSE *SSE
	// Retention, when not nil, sets an Object Lock mode and retain-until date.
	Retention *Retention
	// Deferred lets a store that implements Syncer return from a create
	// before the object's name is durable: it is durable at the next Sync
	// (see Syncer). Other stores ignore it. Only for objects that a later
	// write claims after a Sync (the export's objects, which the manifest
	// lists); never for manifests, leases or anything read as a head.
	Deferred bool
}

// CheckConditions rejects a Put that asks for both a conditional create and
// a conditional replace.
func (o PutOptions) CheckConditions() error {
	if o.IfNotExists && o.IfMatch != "" {
		return errors.New("IfNotExists and IfMatch cannot be combined")
	}
	return nil
}

// GetOptions selects a version; an empty VersionID means the latest.
type GetOptions struct {
	VersionID string
}

// SSE describes server-side encryption with a KMS key.
type SSE struct {
	// Algorithm is "aws:kms".
	Algorithm string `json:"algorithm"`
	// KMSKeyID is the key id, alias or ARN: as requested (Put) or as the
	// server reports it (Head).
	KMSKeyID string `json:"kms_key_id,omitempty"`
	// ServerKMSKeyID, set by Put, is the key as the server reported it in
	// its answer to the upload (AWS S3: the key's full ARN, whatever form
	// the request named it in; MinIO: arn:aws:kms:NAME), or, where the
	// server's answer names none, the key's ARN as KMS resolves KMSKeyID.
	// It is the form Head reports later. Empty when neither is known.
	ServerKMSKeyID string `json:"server_kms_key_id,omitempty"`
	// Context is the KMS encryption context bound to the object.
	Context map[string]string `json:"context,omitempty"`
}

// Retention is an S3 Object Lock retention.
type Retention struct {
	// Mode is GOVERNANCE or COMPLIANCE.
	Mode string `json:"mode"`
	// Until is the retain-until date (UTC).
	Until time.Time `json:"retain_until"`
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key       string
	VersionID string
	Size      int64
	// ETag identifies the object's current content and changes whenever
	// it is replaced. It is opaque (S3 gives it in double quotes): pass it
	// back unchanged as PutOptions.IfMatch. Put, Head, Get and List set it.
	ETag string
	// SHA256 is the lower-case hex SHA-256 of the whole object. Put always
	// sets it; Head and List set it only where the backend knows it.
	SHA256 string
	// Checksum is the backend's SHA-256 checksum as S3 reports it: base64 of
	// the digest for a single-part object, or the composite "base64-N" of a
	// multipart upload. Empty where the backend reports none.
	Checksum string
	// PartSize and PartChecksums (base64 SHA-256 of each part, in order) are
	// set by Put for multipart uploads.
	PartSize      int64
	PartChecksums []string
	// SSE as stored (Put) or as the backend reports it (Head); nil if none.
	SSE *SSE
	// Retention as stored or reported; nil if none.
	Retention *Retention
	// ContentType and Metadata as stored.
	ContentType string
	Metadata    map[string]string
	// LastModified as the backend reports it.
	LastModified time.Time
}

// Version is one entry of a key's version history.
type Version struct {
	VersionID    string
	IsLatest     bool
	DeleteMarker bool
	Size         int64
	LastModified time.Time
}

// ContextReader returns a reader that reads r until ctx ends: each Read
// first checks ctx, so a copy loop over a slow or endless reader stops
// with ctx's error at the next call (a Read already blocked in r is not
// interrupted; a reader that can block forever needs its own deadline).
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
