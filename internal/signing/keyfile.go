package signing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

const (
	pemPrivateKey          = "PRIVATE KEY"
	pemECPrivateKey        = "EC PRIVATE KEY"
	pemEncryptedPrivateKey = "ENCRYPTED PRIVATE KEY"
)

// GenerateKeyFile creates a new Ed25519 key. It writes the private key to
// path as a "PRIVATE KEY" (PKCS#8) PEM file with mode 0600, and the public
// key to path+".pub" as a "PUBLIC KEY" PEM file with mode 0644, and returns
// the public key's path.
//
// It never overwrites: if either file exists it fails with an error wrapping
// fs.ErrExist. Each file is written to a temporary file in the same
// directory, synced, and then hard-linked into place, so a crash leaves
// either the whole file or none (at worst a stray temporary file, mode 0600,
// named like ".key.pem.tmp-*").
func GenerateKeyFile(path string) (pubPath string, err error) {
	pubPath = path + ".pub"
	for _, p := range []string{path, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", existsError(p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("generate key: %w", err)
		}
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("generate key: encode private key: %w", err)
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der})
	pubPEM, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	if err := writeNewFile(path, privPEM, 0o600); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	if err := writeNewFile(pubPath, pubPEM, 0o644); err != nil {
		// The private key without its public half is of no use to the
		// caller, who will want to run again: do not leave it behind.
		_ = os.Remove(path)
		return "", fmt.Errorf("generate key: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	return pubPath, nil
}

func existsError(path string) error {
	return fmt.Errorf("%s already exists: refusing to overwrite it: %w", path, fs.ErrExist)
}

// writeNewFile creates path holding data with mode perm, failing if path
// exists. Other processes see either no file or the whole file.
func writeNewFile(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	// After the link below path is the file; the temporary name always
	// goes.
	defer func() { _ = os.Remove(name) }()
	err = tmp.Chmod(perm) // explicit, so the umask does not decide
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	// link, unlike rename, fails when the target exists.
	if err := os.Link(name, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return existsError(path)
		}
		return err
	}
	return nil
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// LoadKeyFile reads a private key from a PEM file: "PRIVATE KEY" (PKCS#8)
// holding an Ed25519 or ECDSA P-256 key, or "EC PRIVATE KEY" (SEC 1) holding
// a P-256 key. Encrypted keys are not supported.
//
// On Unix the file must not be accessible to group or others (mode&0o077 ==
// 0); otherwise the error wraps ErrInsecureKeyFile and says to chmod 600.
// Errors never contain key material. The result is a *KeySigner.
func LoadKeyFile(path string) (Signer, error) {
	data, err := readKeyFile(path, checkPrivateMode(path))
	if err != nil {
		return nil, fmt.Errorf("load private key: %w", err)
	}
	defer clear(data)
	s, err := parsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("load private key %s: %w", path, err)
	}
	return s, nil
}

func checkPrivateMode(path string) func(os.FileInfo) error {
	return func(fi os.FileInfo) error {
		if runtime.GOOS == "windows" {
			return nil // permission bits mean nothing there
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrInsecureKeyFile, path, perm, path)
		}
		return nil
	}
}

// parsePrivateKeyPEM decodes one private key PEM block. Its errors never
// quote the input.
func parsePrivateKeyPEM(data []byte) (*KeySigner, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	defer clear(block.Bytes)
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected data after the PEM block")
	}
	if _, ok := block.Headers["Proc-Type"]; ok || block.Type == pemEncryptedPrivateKey {
		return nil, errors.New("encrypted private keys are not supported")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case pemPrivateKey:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case pemECPrivateKey:
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case pemPublicKey:
		return nil, errors.New("this is a public key; a private key is needed")
	default:
		return nil, fmt.Errorf("PEM block is %q, want %q or %q", shorten(block.Type), pemPrivateKey, pemECPrivateKey)
	}
	if err != nil {
		// The x509 and asn1 errors describe structure, not contents.
		return nil, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	return NewKeySigner(key)
}
