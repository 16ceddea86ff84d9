package signing

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
)

const (
	pemPublicKey = "PUBLIC KEY"
	// maxKeyFileSize bounds what is read from a key file: real ones are a
	// few hundred bytes.
	maxKeyFileSize = 64 << 10
)

// MarshalPublicKeyPEM encodes pub as a "PUBLIC KEY" (PKIX) PEM block. Only
// keys that AlgorithmFor accepts can be encoded.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := marshalPKIX(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: der}), nil
}

// ParsePublicKeyPEM decodes one "PUBLIC KEY" (PKIX) PEM block holding an
// Ed25519 or ECDSA P-256 key. Text before the block is ignored; anything but
// white space after it is an error. The result is an ed25519.PublicKey or a
// *ecdsa.PublicKey; other key types give an error wrapping ErrUnsupported.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("parse public key: no PEM block found")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("parse public key: unexpected data after the PEM block")
	}
	if block.Type != pemPublicKey {
		return nil, fmt.Errorf("parse public key: PEM block is %q, want %q", shorten(block.Type), pemPublicKey)
	}
	if len(block.Headers) != 0 {
		return nil, errors.New("parse public key: unexpected PEM headers")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	if _, err := AlgorithmFor(pub); err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	return pub, nil
}

// LoadPublicKeyFile reads a public key written by MarshalPublicKeyPEM (or
// `openssl pkey -pubout`) from path.
func LoadPublicKeyFile(path string) (crypto.PublicKey, error) {
	data, err := readKeyFile(path, nil)
	if err != nil {
		return nil, err
	}
	pub, err := ParsePublicKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pub, nil
}

// readKeyFile reads at most maxKeyFileSize bytes from path. check, if not
// nil, is called with the open file's information before anything is read.
func readKeyFile(path string, check func(os.FileInfo) error) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file", path)
	}
	if check != nil {
		if err := check(fi); err != nil {
			return nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("key file %s is larger than %d bytes: not a key", path, maxKeyFileSize)
	}
	return data, nil
}

// shorten bounds text taken from a file before it goes into an error.
func shorten(s string) string {
	const n = 40
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
