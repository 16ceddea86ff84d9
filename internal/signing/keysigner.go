package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math/big"
)

// KeySigner is a Signer holding a private key in memory: Ed25519 or ECDSA
// P-256. LoadKeyFile returns one; NewKeySigner makes one from a key, for
// example a fixed key in a test.
//
// A KeySigner redacts itself: formatting it with any fmt verb, or logging it
// with log/slog, shows only its algorithm and key id.
type KeySigner struct {
	alg   string
	id    string
	pub   crypto.PublicKey
	ed    ed25519.PrivateKey
	ecdsa *ecdsa.PrivateKey
}

var (
	_ Signer         = (*KeySigner)(nil)
	_ fmt.Formatter  = KeySigner{}
	_ fmt.Stringer   = KeySigner{}
	_ slog.LogValuer = KeySigner{}
)

// NewKeySigner returns a signer for priv, an ed25519.PrivateKey or a P-256
// *ecdsa.PrivateKey. Other keys give an error wrapping ErrUnsupported.
func NewKeySigner(priv crypto.PrivateKey) (*KeySigner, error) {
	s := &KeySigner{}
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("ed25519 private key of %d bytes, want %d: %w", len(k), ed25519.PrivateKeySize, ErrUnsupported)
		}
		// The second half of an ed25519.PrivateKey is the public key; a
		// key whose halves disagree would make signatures that never
		// verify.
		if !bytes.Equal(ed25519.NewKeyFromSeed(k.Seed()), k) {
			return nil, fmt.Errorf("ed25519 private key does not match its public half: %w", ErrUnsupported)
		}
		s.ed = bytes.Clone(k)
		s.pub = s.ed.Public()
	case *ecdsa.PrivateKey:
		if k == nil || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ecdsa private key not on P-256: %w", ErrUnsupported)
		}
		s.ecdsa = k
		s.pub = &k.PublicKey
	default:
		return nil, fmt.Errorf("private key of type %s: %w", keyType(priv), ErrUnsupported)
	}
	var err error
	if s.alg, err = AlgorithmFor(s.pub); err != nil {
		return nil, err
	}
	if s.id, err = KeyID(s.pub); err != nil {
		return nil, err
	}
	return s, nil
}

// Algorithm returns AlgEd25519 or AlgECDSAP256SHA256.
func (s *KeySigner) Algorithm() string { return s.alg }

// KeyID returns the fingerprint of the public key.
func (s *KeySigner) KeyID() string { return s.id }

// Public returns a copy of the public key.
func (s *KeySigner) Public() crypto.PublicKey {
	switch k := s.pub.(type) {
	case ed25519.PublicKey:
		return ed25519.PublicKey(bytes.Clone(k))
	case *ecdsa.PublicKey:
		return &ecdsa.PublicKey{Curve: k.Curve, X: new(big.Int).Set(k.X), Y: new(big.Int).Set(k.Y)}
	}
	return s.pub
}

// Sign signs msg. It fails only if ctx is already done.
func (s *KeySigner) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sign with key %s: %w", s.id, err)
	}
	if s.ed != nil {
		return ed25519.Sign(s.ed, msg), nil
	}
	digest := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, s.ecdsa, digest[:])
	if err != nil {
		return nil, fmt.Errorf("sign with key %s: %w", s.id, err)
	}
	return sig, nil
}

// String returns the algorithm and key id, never the key.
func (s KeySigner) String() string {
	return fmt.Sprintf("signing key %s %s", s.alg, s.id)
}

// GoString is String: %#v must not show the key either.
func (s KeySigner) GoString() string { return s.String() }

// Format prints String for every verb, so no verb (%x, %+v, %#v) can print
// the key.
func (s KeySigner) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, s.String()) }

// LogValue logs the algorithm and key id, never the key.
func (s KeySigner) LogValue() slog.Value {
	return slog.GroupValue(slog.String("algorithm", s.alg), slog.String("key_id", s.id))
}
