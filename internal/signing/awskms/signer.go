package awskms

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/logkeeper/logkeeper/internal/signing"
)

// Client is the part of the KMS API a Signer uses. *kms.Client implements
// it; tests may pass a fake.
type Client interface {
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
	Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
}

var _ Client = (*kms.Client)(nil)

// Signer signs with an ECC_NIST_P256 KMS key. It is safe for concurrent
// use. Like signing.KeySigner it formats and logs as its key ARN and key id
// only (it holds a KMS client, whose credentials must not be printed).
type Signer struct {
	client Client
	name   string // the key as the caller named it, for errors
	arn    string // the key ARN KMS returned; every Sign uses it
	pub    *ecdsa.PublicKey
	id     string
}

var (
	_ signing.Signer = (*Signer)(nil)
	_ fmt.Formatter  = Signer{}
	_ slog.LogValuer = Signer{}
)

// New returns a Signer for the KMS key keyID (key id, key ARN, alias name
// or alias ARN). It calls GetPublicKey once and fails, naming the key, if
// the key does not exist or cannot be used, is not an ECC_NIST_P256 key
// (wrapping signing.ErrUnsupported), or does not offer ECDSA_SHA_256.
func New(ctx context.Context, client Client, keyID string) (*Signer, error) {
	pub, arn, err := fetchPublicKey(ctx, client, keyID)
	if err != nil {
		return nil, err
	}
	id, err := signing.KeyID(pub)
	if err != nil {
		return nil, fmt.Errorf("kms key %s: %w", strconv.Quote(keyID), err)
	}
	return &Signer{client: client, name: strconv.Quote(keyID), arn: arn, pub: pub, id: id}, nil
}

// PublicKey fetches the public key of the KMS key keyID, for verifiers. It
// makes the same checks as New, and the result is a P-256 *ecdsa.PublicKey.
func PublicKey(ctx context.Context, client Client, keyID string) (crypto.PublicKey, error) {
	pub, _, err := fetchPublicKey(ctx, client, keyID)
	if err != nil {
		return nil, err
	}
	return pub, nil
}

func fetchPublicKey(ctx context.Context, client Client, keyID string) (*ecdsa.PublicKey, string, error) {
	name := strconv.Quote(keyID)
	if keyID == "" {
		return nil, "", errors.New("kms key: no key id given")
	}
	if client == nil {
		return nil, "", fmt.Errorf("kms key %s: no KMS client", name)
	}
	out, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return nil, "", mapError("GetPublicKey", name, err)
	}
	if out.KeySpec != types.KeySpecEccNistP256 {
		return nil, "", fmt.Errorf("kms key %s has key spec %s; %s: %w", name, out.KeySpec, wantKey, signing.ErrUnsupported)
	}
	if !slices.Contains(out.SigningAlgorithms, types.SigningAlgorithmSpecEcdsaSha256) {
		return nil, "", fmt.Errorf("kms key %s (key usage %s) does not offer signing algorithm %s; %s: %w",
			name, out.KeyUsage, types.SigningAlgorithmSpecEcdsaSha256, wantKey, signing.ErrUnsupported)
	}
	parsed, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, "", fmt.Errorf("kms key %s: parse public key: %w", name, err)
	}
	pub, ok := parsed.(*ecdsa.PublicKey)
	if alg, err := signing.AlgorithmFor(parsed); !ok || err != nil || alg != signing.AlgECDSAP256SHA256 {
		return nil, "", fmt.Errorf("kms key %s: public key is not on P-256 although the key spec is %s: %w",
			name, out.KeySpec, signing.ErrUnsupported)
	}
	arn := aws.ToString(out.KeyId)
	if arn == "" {
		arn = keyID
	}
	return pub, arn, nil
}

// Algorithm returns signing.AlgECDSAP256SHA256.
func (s *Signer) Algorithm() string { return signing.AlgECDSAP256SHA256 }

// KeyID returns the fingerprint of the KMS key's public key (see
// signing.KeyID); it is not the KMS key id.
func (s *Signer) KeyID() string { return s.id }

// KMSKeyARN returns the key ARN (the KeyId that KMS returned), which every
// Sign call uses.
func (s *Signer) KMSKeyARN() string { return s.arn }

// Public returns a copy of the public key, a P-256 *ecdsa.PublicKey.
func (s *Signer) Public() crypto.PublicKey {
	return &ecdsa.PublicKey{Curve: s.pub.Curve, X: new(big.Int).Set(s.pub.X), Y: new(big.Int).Set(s.pub.Y)}
}

// Sign sends SHA-256(msg) to KMS and returns the ASN.1 DER ECDSA signature.
// A signature that does not verify with the public key fetched by New is
// never returned: the error then wraps signing.ErrBadSignature.
func (s *Signer) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	digest := sha256.Sum256(msg)
	out, err := s.client.Sign(ctx, &kms.SignInput{
		KeyId:            aws.String(s.arn),
		Message:          digest[:],
		MessageType:      types.MessageTypeDigest,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, mapError("Sign", s.describe(), err)
	}
	if !ecdsa.VerifyASN1(s.pub, digest[:], out.Signature) {
		return nil, fmt.Errorf("kms key %s returned a signature that does not verify with its public key %s: %w",
			s.describe(), s.id, signing.ErrBadSignature)
	}
	return out.Signature, nil
}

// describe names the key for errors: as the caller named it and, if that
// was not the ARN, the ARN too.
func (s *Signer) describe() string {
	if s.name == strconv.Quote(s.arn) {
		return s.name
	}
	return s.name + " (" + s.arn + ")"
}

// String returns the key ARN and key id.
func (s Signer) String() string { return fmt.Sprintf("awskms signer %s %s", s.arn, s.id) }

// Format prints String for every verb, so no verb can print the client.
func (s Signer) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, s.String()) }

// LogValue logs the algorithm, key id and key ARN.
func (s Signer) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("algorithm", signing.AlgECDSAP256SHA256),
		slog.String("key_id", s.id),
		slog.String("kms_key_arn", s.arn),
	)
}
