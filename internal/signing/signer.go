package signing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
)

// Signature algorithms, as recorded next to a signature.
const (
	// AlgEd25519 is pure Ed25519 (RFC 8032) over the message bytes.
	AlgEd25519 = "ed25519"
	// AlgECDSAP256SHA256 is ECDSA on NIST P-256 over SHA-256 of the
	// message; the signature is ASN.1 DER encoded.
	AlgECDSAP256SHA256 = "ecdsa-p256-sha256"
)

var (
	// ErrBadSignature means a signature does not verify with the key.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrUnsupported means an algorithm or key type logkeeper does not
	// support, or a key that does not fit the algorithm.
	ErrUnsupported = errors.New("unsupported key or algorithm")
	// ErrInsecureKeyFile means a private key file can be read or written by
	// group or others.
	ErrInsecureKeyFile = errors.New("private key file is accessible to group or others")
)

// Signer signs manifests.
//
// Implementations are safe for concurrent use. Sign signs the exact bytes
// msg with the algorithm that Algorithm names; the result verifies with
// Verify(Public(), Algorithm(), msg, sig). Errors from a remote signer (KMS)
// may be transient; a local signer only fails on a cancelled context.
type Signer interface {
	// Algorithm is AlgEd25519 or AlgECDSAP256SHA256.
	Algorithm() string
	// KeyID is the fingerprint of the public key, see KeyID.
	KeyID() string
	// Public is the public key: ed25519.PublicKey or *ecdsa.PublicKey
	// (P-256).
	Public() crypto.PublicKey
	// Sign signs msg.
	Sign(ctx context.Context, msg []byte) ([]byte, error)
}

// AlgorithmFor returns the algorithm that signs with pub's key type:
// AlgEd25519 for an ed25519.PublicKey, AlgECDSAP256SHA256 for a P-256
// *ecdsa.PublicKey. Any other key, or an invalid one, gives an error wrapping
// ErrUnsupported.
func AlgorithmFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", fmt.Errorf("ed25519 public key of %d bytes, want %d: %w", len(k), ed25519.PublicKeySize, ErrUnsupported)
		}
		return AlgEd25519, nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil || k.X == nil || k.Y == nil {
			return "", fmt.Errorf("incomplete ecdsa public key: %w", ErrUnsupported)
		}
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("ecdsa public key on curve %s, want P-256: %w", k.Curve.Params().Name, ErrUnsupported)
		}
		if _, err := k.Bytes(); err != nil {
			return "", fmt.Errorf("invalid P-256 public key: %w", ErrUnsupported)
		}
		return AlgECDSAP256SHA256, nil
	default:
		return "", fmt.Errorf("public key of type %s: %w", keyType(pub), ErrUnsupported)
	}
}

// KeyID returns the fingerprint of pub: "sha256:" followed by the lowercase
// hex SHA-256 of its PKIX (SubjectPublicKeyInfo) DER encoding. Only keys
// that AlgorithmFor accepts have an id.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := marshalPKIX(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

func marshalPKIX(pub crypto.PublicKey) ([]byte, error) {
	if _, err := AlgorithmFor(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return der, nil
}

// keyType names a key's Go type for error messages.
func keyType(k any) string {
	if k == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%T", k)
}
