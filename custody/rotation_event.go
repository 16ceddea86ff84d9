package custody

import (
	"context"
	"crypto"
	"errors"

	"github.com/logkeeper/logkeeper/internal/store"
)

// EventKeyRotated is the custody event of a signing key rotation
// (logkeeper keys rotate): its details name the old and new key and the
// streams handed over. It is signed by the old key, the last event it
// signs; the events after it are signed by the new key.
const EventKeyRotated = "key_rotated"

// checkSignatureAny is checkSignature with pub or, when the signature is
// by another key, any of more.
func checkSignatureAny(ctx context.Context, st store.Store, key, runID string, raw []byte, pub crypto.PublicKey, more []crypto.PublicKey) error {
	err := checkSignature(ctx, st, key, runID, raw, pub)
	for _, k := range more {
		var sp *signatureProblem
		if !errors.As(err, &sp) || sp.kind != KindSignatureKey {
			return err
		}
		if e := checkSignature(ctx, st, key, runID, raw, k); e == nil || !errors.As(e, &sp) || sp.kind != KindSignatureKey {
			return e
		}
	}
	return err
}
