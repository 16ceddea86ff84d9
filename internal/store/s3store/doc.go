// Package s3store is the S3 implementation of store.Store, built directly on
// the aws-sdk-go-v2 S3 client (no transfer manager).
//
// # Uploads
//
// Put sends an object that fits in one part as a single PutObject with its
// SHA-256 checksum (x-amz-checksum-sha256), which the server verifies before
// storing anything. Larger objects, and objects of unknown size that do not
// end within the first part, go up as a multipart upload: the source is read
// once, sequentially, hashing the whole object as it is read, while up to
// Options.Concurrency parts are in flight, each sent with the SHA-256 of its
// bytes so the server rejects a corrupted part. The returned ObjectInfo
// carries the whole-object SHA-256, the part checksums and the composite
// checksum ("base64-N") S3 reports for the object.
//
// Any failure of a multipart upload — a reader error, a part refused, a
// cancelled context, a size that does not match PutOptions.Size — aborts the
// upload before Put returns (with a fresh 30-second deadline, so an
// abandoned upload is cleaned up even after cancellation): nothing becomes
// visible and no parts are left behind.
//
// Memory: part buffers come from a pool shared by all Puts on one Store, and
// the bytes held in buffers are bounded by (Concurrency+1) x PartSize for the
// whole Store, however large the objects and however many Puts run at once.
// (An object so large that its part size must grow past that bound to fit in
// 10,000 parts is uploaded with one part in memory at a time.)
//
// # Signing
//
// The SHA-256 that Put computes for the checksum is also handed to the SigV4
// signer as the payload hash, so the SDK does not read each body a second
// time to sign it.
//
// # Encryption and retention
//
// PutOptions.SSE sends SSE-KMS headers, with the encryption context as
// base64 JSON; Head and Get read the context back from the raw
// x-amz-server-side-encryption-context header, for which the SDK has no
// field. PutOptions.Retention sends Object Lock headers. Before the first
// such Put a Store checks that the bucket has Object Lock (one
// GetObjectLockConfiguration, remembered once positive): on a bucket without
// it the Put fails with an error that says so, and sends no data.
//
// # Endpoints
//
// New refuses a plain-http endpoint unless it is on loopback or
// Options.AllowHTTP is set: credentials are signed, but the data would cross
// the network in clear.
package s3store
