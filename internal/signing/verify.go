package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
)

// Verify checks that sig is a signature of msg by pub under algorithm.
//
// It returns nil for a valid signature, an error wrapping ErrBadSignature
// for an invalid one, and an error wrapping ErrUnsupported when algorithm is
// unknown or pub is not a valid key of the type algorithm needs. Verify
// never panics on malformed input.
//
// ECDSA signatures must be strict ASN.1 DER. Note that ECDSA signatures are
// malleable: if sig is valid, so is the same signature with s replaced by
// n-s. Do not use signature bytes as an identifier.
func Verify(pub crypto.PublicKey, algorithm string, msg, sig []byte) error {
	got, err := AlgorithmFor(pub)
	if err != nil {
		return fmt.Errorf("verify %s signature: %w", algorithm, err)
	}
	switch algorithm {
	case AlgEd25519, AlgECDSAP256SHA256:
	default:
		return fmt.Errorf("verify signature: algorithm %q: %w", algorithm, ErrUnsupported)
	}
	if got != algorithm {
		return fmt.Errorf("verify %s signature with a %s key: %w", algorithm, got, ErrUnsupported)
	}
	var ok bool
	switch algorithm {
	case AlgEd25519:
		ok = ed25519.Verify(pub.(ed25519.PublicKey), msg, sig)
	case AlgECDSAP256SHA256:
		digest := sha256.Sum256(msg)
		ok = ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig)
	}
	if !ok {
		id, _ := KeyID(pub) // cannot fail: AlgorithmFor accepted pub
		return fmt.Errorf("verify %s signature by key %s: %w", algorithm, id, ErrBadSignature)
	}
	return nil
}
