package custody

import (
	"fmt"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// kmsKeyProblem compares the KMS key a store reports for an object with the
// recorded one, like with like: the key as the server reported it at upload
// (sse.server_kms_key_id) is compared with what it reports now, string for
// string. A manifest written before that field was recorded has only the
// configured key (a key id, alias or ARN): it is compared in the forms
// servers report (the key ARN arn:...:key/ID; MinIO's arn:aws:kms:NAME),
// and an alias, which only KMS can resolve, is not compared. Nothing is
// compared when the store reports no key.
func kmsKeyProblem(rec *manifest.SSE, reported string) (Problem, bool) {
	if rec == nil || reported == "" {
		return Problem{}, false
	}
	if rec.ServerKMSKeyID != "" {
		if reported == rec.ServerKMSKeyID {
			return Problem{}, false
		}
		return Problem{Kind: KindSSEMismatch, Detail: fmt.Sprintf("recorded KMS key %s (configured as %s), store reports %s", rec.ServerKMSKeyID, rec.KMSKeyID, reported)}, true
	}
	if match, known := store.KMSKeyRefersTo(rec.KMSKeyID, reported); known && !match {
		return Problem{Kind: KindSSEMismatch, Detail: fmt.Sprintf("recorded KMS key %s, store reports %s", rec.KMSKeyID, reported)}, true
	}
	return Problem{}, false
}
