package awskms

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/logkeeper/logkeeper/internal/signing"
)

// Conditions reported by KMS. None of them goes away by retrying.
var (
	// ErrKeyNotFound means KMS has no such key or alias (in this account
	// and region).
	ErrKeyNotFound = errors.New("key not found")
	// ErrKeyDisabled means the key exists but is disabled.
	ErrKeyDisabled = errors.New("key is disabled")
	// ErrAccessDenied means the caller's credentials may not use the key.
	ErrAccessDenied = errors.New("access denied")
	// ErrKeyState means the key cannot be used in its current state, for
	// example pending deletion or pending import.
	ErrKeyState = errors.New("key is not in a usable state")
)

// kmsError is a KMS API error for one key, with a short one-line message.
type kmsError struct {
	op    string // KMS operation, e.g. "Sign"
	key   string // the key as the caller named it
	kind  error  // a sentinel above, or signing.ErrUnsupported
	cause error  // the SDK's error
	msg   string // KMS's message, with a hint for a key of the wrong kind
}

func (e *kmsError) Error() string {
	s := fmt.Sprintf("kms %s with key %s: %v", e.op, e.key, e.kind)
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

func (e *kmsError) Unwrap() []error { return []error{e.kind, e.cause} }

// mapError turns an SDK error into an error naming key. Conditions callers
// act on wrap a sentinel; anything else (network, throttling after the SDK's
// retries) is wrapped as it is.
func mapError(op, key string, err error) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("kms %s with key %s: %w", op, key, err)
	}
	var kind error
	switch apiErr.ErrorCode() {
	case "NotFoundException", "InvalidArnException":
		kind = ErrKeyNotFound
	case "DisabledException":
		kind = ErrKeyDisabled
	case "AccessDeniedException":
		kind = ErrAccessDenied
	case "KMSInvalidStateException", "KeyUnavailableException":
		kind = ErrKeyState
	case "UnsupportedOperationException", "InvalidKeyUsageException":
		kind = signing.ErrUnsupported
	default:
		return fmt.Errorf("kms %s with key %s: %w", op, key, err)
	}
	msg := oneLine(apiErr.ErrorMessage())
	if kind == signing.ErrUnsupported {
		// KMS says little here (local-kms nothing); say what is needed.
		msg = strings.TrimPrefix(msg+"; ", "; ") + wantKey
	}
	return &kmsError{op: op, key: key, kind: kind, cause: err, msg: msg}
}

// wantKey says which keys can sign manifests.
const wantKey = "manifests are signed with ECC_NIST_P256 keys (key usage SIGN_VERIFY)"

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
