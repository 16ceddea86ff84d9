package policies

import (
	"fmt"
	"sort"
	"strings"
)

// Encryption context keys that logkeeper always sets. They are reserved:
// a configured context may not use the "logkeeper:" or "aws:" prefixes.
const (
	ContextStream = "logkeeper:stream"
	ContextRunID  = "logkeeper:run-id"
	ContextKey    = "logkeeper:key"
	ContextStore  = "logkeeper:store"
)

// Encryption is an SSE-KMS policy.
type Encryption struct {
	// KMSKeyID is the key id, alias or ARN objects are encrypted under.
	KMSKeyID string
	// Context holds the user-configured encryption context pairs.
	Context map[string]string
}

// Validate checks that the configured context uses no reserved key.
func (e Encryption) Validate() error {
	var bad []string
	for k := range e.Context {
		if strings.HasPrefix(k, "logkeeper:") || strings.HasPrefix(k, "aws:") {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("encryption context keys %s are reserved", strings.Join(bad, ", "))
	}
	return nil
}

// ContextFor returns the encryption context of one object: the configured
// pairs plus the stream, run id, object key and store, so a ciphertext can
// only be decrypted by naming exactly where it belongs (and KMS audit logs
// show it).
func (e Encryption) ContextFor(stream, runID, key, store string) map[string]string {
	ctx := make(map[string]string, len(e.Context)+4)
	for k, v := range e.Context {
		ctx[k] = v
	}
	ctx[ContextStream] = stream
	ctx[ContextRunID] = runID
	ctx[ContextKey] = key
	ctx[ContextStore] = store
	return ctx
}
