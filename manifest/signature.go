package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// SignatureSchemaV1 is the schema of a signature sidecar.
const SignatureSchemaV1 = "logkeeper.signature/v1"

// Signature is the sidecar object holding the signature over the exact
// bytes of a manifest. Verifiers never trust KeyID to pick a key: they use
// the public key they were given and only compare its fingerprint to KeyID.
type Signature struct {
	Schema         string `json:"schema"`
	ManifestKey    string `json:"manifest_key"`
	ManifestSHA256 string `json:"manifest_sha256"`
	Algorithm      string `json:"algorithm"`
	KeyID          string `json:"key_id"`
	// Value is the signature; encoding/json writes it as base64.
	Value []byte `json:"signature"`
}

// MarshalSignature encodes a signature sidecar.
func MarshalSignature(s *Signature) ([]byte, error) {
	s.Schema = SignatureSchemaV1
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode signature: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseSignature decodes a signature sidecar strictly.
func ParseSignature(data []byte) (*Signature, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Signature
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode signature: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("decode signature: trailing data after the JSON object")
	}
	var errs []error
	if s.Schema != SignatureSchemaV1 {
		errs = append(errs, fmt.Errorf("signature schema %q, want %q", s.Schema, SignatureSchemaV1))
	}
	if s.Algorithm == "" || s.KeyID == "" || len(s.Value) == 0 {
		errs = append(errs, errors.New("signature: algorithm, key_id and signature are required"))
	}
	if !hexSHA256.MatchString(s.ManifestSHA256) {
		errs = append(errs, errors.New("signature: manifest_sha256 is not a hex SHA-256"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &s, nil
}
