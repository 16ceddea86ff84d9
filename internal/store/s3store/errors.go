package s3store

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/logkeeper/logkeeper/internal/store"
)

// s3Error is an S3 error restated in one line for a reader. It unwraps to
// the store sentinel that applies, if any, and to the SDK's error, so
// errors.Is and errors.As (smithy.APIError, the HTTP status) still work.
type s3Error struct {
	msg  string
	errs []error
}

func (e *s3Error) Error() string   { return e.msg }
func (e *s3Error) Unwrap() []error { return e.errs }

// request describes the call that failed, for the error text.
type request struct {
	fullKey     string
	versionID   string
	conditional bool   // a create with If-None-Match: *
	ifMatch     string // a replace with If-Match
	retention   bool   // sent Object Lock headers
}

// apiCode returns the S3 error code and HTTP status of err (zero if none).
func apiCode(err error) (code, message string, status int) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, message = ae.ErrorCode(), ae.ErrorMessage()
	}
	var he interface{ HTTPStatusCode() int }
	if errors.As(err, &he) {
		status = he.HTTPStatusCode()
	}
	return code, message, status
}

const noObjectLock = "bucket %q does not have Object Lock enabled: cannot store %s with a retention (%s)"

// classify maps an SDK error of a request on s's bucket to a store sentinel
// or a one-line explanation. Other errors (network, throttling after the
// SDK's own retries, 5xx) are returned as they are.
func (s *Store) classify(err error, r request) error {
	if err == nil {
		return nil
	}
	code, msg, status := apiCode(err)
	if code == "" && status == 0 {
		return err // not an answer from the server: network, context, ...
	}
	wrap := func(format string, args ...any) error {
		return &s3Error{msg: fmt.Sprintf(format, args...), errs: []error{err}}
	}
	detail := code
	if msg != "" {
		detail += ": " + msg
	}
	where := "s3://" + s.bucket + "/" + r.fullKey
	switch {
	case isCorruptCode(code):
		return &s3Error{msg: fmt.Sprintf("%s: %v (%s)", where, store.ErrCorrupted, detail), errs: []error{store.ErrCorrupted, err}}
	case code == "KeyTooLongError":
		// A server whose key limit is below S3's (MinIO counts its own
		// layout): the key, not the request, is at fault.
		return &s3Error{msg: fmt.Sprintf("%s: %v (%s)", where, store.ErrInvalidKey, detail), errs: []error{store.ErrInvalidKey, err}}
	case code == "NoSuchBucket":
		return wrap("bucket %q does not exist (%s)", s.bucket, detail)
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch":
		return wrap("the server rejected the credentials (access key or secret) for bucket %q (%s)", s.bucket, detail)
	case code == "AccessDenied" || code == "Forbidden" || status == http.StatusForbidden:
		return wrap("access denied to %s: the credentials lack permission on bucket %q (%s)", where, s.bucket, detail)
	case r.retention && isObjectLockMissing(code, msg):
		return wrap(noObjectLock, s.bucket, where, detail)
	case r.conditional && (status == http.StatusPreconditionFailed || code == "PreconditionFailed" ||
		status == http.StatusConflict && code == "ConditionalRequestConflict"):
		return &s3Error{msg: fmt.Sprintf("%s: %v", where, store.ErrExists), errs: []error{store.ErrExists, err}}
	case r.ifMatch != "" && (status == http.StatusPreconditionFailed || code == "PreconditionFailed" ||
		status == http.StatusConflict && code == "ConditionalRequestConflict"):
		return &s3Error{msg: fmt.Sprintf("%s: if-match %s: %v", where, r.ifMatch, store.ErrPreconditionFailed), errs: []error{store.ErrPreconditionFailed, err}}
	case r.ifMatch != "" && (code == "NoSuchKey" || status == http.StatusNotFound):
		return &s3Error{msg: fmt.Sprintf("%s: if-match %s: %v: %v", where, r.ifMatch, store.ErrPreconditionFailed, store.ErrNotFound), errs: []error{store.ErrPreconditionFailed, store.ErrNotFound, err}}
	case code == "NoSuchKey" || code == "NotFound" || code == "NoSuchVersion" ||
		status == http.StatusNotFound && code == "": // HEAD: no body, no code
		what := where
		if r.versionID != "" {
			what += " version " + r.versionID
		}
		return &s3Error{msg: fmt.Sprintf("%s: %v", what, store.ErrNotFound), errs: []error{store.ErrNotFound, err}}
	}
	return err
}

// corruptCodes are the error codes with which servers refuse bytes that do
// not match the checksum or digest sent with them. They differ by server
// for one meaning: AWS S3 documents BadDigest (Content-MD5 or checksum
// mismatch), InvalidDigest (a malformed one) and XAmzContentSHA256Mismatch
// (the signed payload hash); versitygw answers BadDigest, MinIO
// XAmzContentChecksumMismatch (and BadDigest for Content-MD5), Ceph RGW and
// others the AWS codes.
var corruptCodes = map[string]bool{
	"BadDigest":                   true,
	"InvalidDigest":               true,
	"XAmzContentSHA256Mismatch":   true,
	"XAmzContentChecksumMismatch": true,
	"InvalidChecksum":             true,
	"ChecksumMismatch":            true,
}

// isCorruptCode reports whether an S3 error code means "the server refused
// corrupted bytes" (store.ErrCorrupted).
func isCorruptCode(code string) bool { return corruptCodes[code] }

// noRetryCorrupt wraps a client's retryer so that a refusal of corrupted
// bytes is never retried as if it were transient, even by a server that
// answers it with a 5xx status.
type noRetryCorrupt struct{ aws.RetryerV2 }

func (r noRetryCorrupt) IsErrorRetryable(err error) bool {
	if code, _, _ := apiCode(err); isCorruptCode(code) {
		return false
	}
	return r.RetryerV2.IsErrorRetryable(err)
}

// isObjectLockMissing recognises the refusal of retention headers by a
// bucket without Object Lock (AWS: InvalidRequest "Bucket is missing Object
// Lock Configuration"; other servers name the configuration in the code).
func isObjectLockMissing(code, msg string) bool {
	c, m := strings.ToLower(code), strings.ToLower(msg)
	return strings.Contains(c, "objectlock") || strings.Contains(m, "object lock") || strings.Contains(m, "objectlock")
}
