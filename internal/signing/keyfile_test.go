package signing_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/logkeeper/logkeeper/internal/signing"
)

// opensslEd25519PrivatePEM is the fixed Ed25519 key as `openssl pkey` writes
// it.
const opensslEd25519PrivatePEM = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f
-----END PRIVATE KEY-----
`

func writeFile(t *testing.T, path, data string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // WriteFile is subject to the umask
		t.Fatal(err)
	}
}

func TestGenerateKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.pem")
	pubPath, err := signing.GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if pubPath != path+".pub" {
		t.Fatalf("pubPath = %s, want %s.pub", pubPath, path)
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]fs.FileMode{path: 0o600, pubPath: 0o644} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("%s has mode %04o, want %04o", p, got, want)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only the two key files", names)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----\n") {
		t.Fatalf("private key file does not start with a PKCS#8 PEM block")
	}

	s, err := signing.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.LoadPublicKeyFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := signing.KeyID(pub); id != s.KeyID() {
		t.Fatalf(".pub file key id %s != private key id %s", id, s.KeyID())
	}
	if s.Algorithm() != signing.AlgEd25519 {
		t.Fatalf("Algorithm = %s", s.Algorithm())
	}
	msg := []byte("manifest")
	sig, err := s.Sign(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := signing.Verify(pub, signing.AlgEd25519, msg, sig); err != nil {
		t.Fatal(err)
	}

	// A second key is a different key.
	path2 := filepath.Join(dir, "key2.pem")
	if _, err := signing.GenerateKeyFile(path2); err != nil {
		t.Fatal(err)
	}
	s2, err := signing.LoadKeyFile(path2)
	if err != nil {
		t.Fatal(err)
	}
	if s2.KeyID() == s.KeyID() {
		t.Fatal("two generated keys have the same id")
	}
}

func TestGenerateKeyFileRefusesOverwrite(t *testing.T) {
	tests := []struct {
		name     string
		existing []string // relative to key.pem
	}{
		{"private key exists", []string{"key.pem"}},
		{"public key exists", []string{"key.pem.pub"}},
		{"both exist", []string{"key.pem", "key.pem.pub"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "key.pem")
			for _, name := range tt.existing {
				writeFile(t, filepath.Join(dir, name), "keep me", 0o600)
			}
			_, err := signing.GenerateKeyFile(path)
			if !errors.Is(err, fs.ErrExist) {
				t.Fatalf("error = %v, want fs.ErrExist", err)
			}
			if !strings.Contains(err.Error(), "refusing to overwrite") {
				t.Fatalf("error %q does not say it refuses to overwrite", err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(tt.existing) {
				t.Fatalf("directory holds %d files, want the %d that were there", len(entries), len(tt.existing))
			}
			for _, name := range tt.existing {
				if data, _ := os.ReadFile(filepath.Join(dir, name)); string(data) != "keep me" {
					t.Fatalf("%s was changed", name)
				}
			}
		})
	}
}

func TestGenerateKeyFileDanglingSymlink(t *testing.T) {
	// A symlink at the key's path is never followed to create a file
	// elsewhere.
	dir := t.TempDir()
	path := filepath.Join(dir, "key.pem")
	target := filepath.Join(dir, "elsewhere")
	if err := os.Symlink(target, path); err != nil {
		t.Skip(err)
	}
	if _, err := signing.GenerateKeyFile(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("error = %v, want fs.ErrExist", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("symlink target was created")
	}
}

func TestGenerateKeyFileMissingDir(t *testing.T) {
	_, err := signing.GenerateKeyFile(filepath.Join(t.TempDir(), "no", "key.pem"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadKeyFileRefusesLooseModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	dir := t.TempDir()
	for _, perm := range []fs.FileMode{0o640, 0o604, 0o644, 0o660, 0o620, 0o602, 0o610, 0o601, 0o666} {
		t.Run(perm.String(), func(t *testing.T) {
			path := filepath.Join(dir, "key-"+perm.String()+".pem")
			writeFile(t, path, opensslEd25519PrivatePEM, perm)
			_, err := signing.LoadKeyFile(path)
			if !errors.Is(err, signing.ErrInsecureKeyFile) {
				t.Fatalf("error = %v, want ErrInsecureKeyFile", err)
			}
			if !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Fatalf("error %q does not say to chmod 600 the file", err)
			}
		})
	}
	for _, perm := range []fs.FileMode{0o600, 0o400} {
		t.Run(perm.String(), func(t *testing.T) {
			path := filepath.Join(dir, "key-"+perm.String()+".pem")
			writeFile(t, path, opensslEd25519PrivatePEM, perm)
			if _, err := signing.LoadKeyFile(path); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoadKeyFileFormats(t *testing.T) {
	p256 := fixedP256(t)
	pkcs8P256, _ := x509.MarshalPKCS8PrivateKey(p256)
	sec1P256, _ := x509.MarshalECPrivateKey(p256)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pkcs8P384, _ := x509.MarshalPKCS8PrivateKey(p384)
	sec1P384, _ := x509.MarshalECPrivateKey(p384)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	pkcs8RSA, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	edBody := strings.Split(opensslEd25519PrivatePEM, "\n")[1]

	tests := []struct {
		name    string
		data    string
		wantID  string
		wantAlg string
		errMsg  string
		wantErr error
	}{
		{name: "pkcs8 ed25519 (openssl)", data: opensslEd25519PrivatePEM, wantID: goldenEd25519KeyID, wantAlg: signing.AlgEd25519},
		{name: "pkcs8 p256", data: pemOf("PRIVATE KEY", pkcs8P256), wantID: goldenP256KeyID, wantAlg: signing.AlgECDSAP256SHA256},
		{name: "sec1 p256", data: pemOf("EC PRIVATE KEY", sec1P256), wantID: goldenP256KeyID, wantAlg: signing.AlgECDSAP256SHA256},
		{name: "comment before", data: "# prod key\n" + opensslEd25519PrivatePEM, wantID: goldenEd25519KeyID, wantAlg: signing.AlgEd25519},
		{name: "pkcs8 p384", data: pemOf("PRIVATE KEY", pkcs8P384), errMsg: "P-256", wantErr: signing.ErrUnsupported},
		{name: "sec1 p384", data: pemOf("EC PRIVATE KEY", sec1P384), errMsg: "P-256", wantErr: signing.ErrUnsupported},
		{name: "pkcs8 rsa", data: pemOf("PRIVATE KEY", pkcs8RSA), errMsg: "rsa", wantErr: signing.ErrUnsupported},
		{name: "pkcs1 rsa", data: pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), errMsg: `"RSA PRIVATE KEY"`},
		{name: "encrypted pkcs8", data: pemOf("ENCRYPTED PRIVATE KEY", []byte{0x30, 0}), errMsg: "encrypted"},
		{name: "encrypted legacy", data: "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n" + edBody + "\n-----END EC PRIVATE KEY-----\n", errMsg: "encrypted"},
		{name: "public key", data: opensslEd25519PublicPEM, errMsg: "public key"},
		{name: "empty", data: "", errMsg: "no PEM block"},
		{name: "two keys", data: opensslEd25519PrivatePEM + opensslEd25519PrivatePEM, errMsg: "after the PEM block"},
		{name: "wrong block type for der", data: pemOf("EC PRIVATE KEY", pkcs8P256), errMsg: "parse EC PRIVATE KEY"},
		{name: "truncated der", data: pemOf("PRIVATE KEY", pkcs8P256[:len(pkcs8P256)-3]), errMsg: "parse PRIVATE KEY"},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, hex.EncodeToString([]byte{byte(i)})+".pem")
			writeFile(t, path, tt.data, 0o600)
			s, err := signing.LoadKeyFile(path)
			if tt.errMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s.KeyID() != tt.wantID || s.Algorithm() != tt.wantAlg {
					t.Fatalf("loaded %s %s, want %s %s", s.Algorithm(), s.KeyID(), tt.wantAlg, tt.wantID)
				}
				sig, err := s.Sign(context.Background(), []byte("m"))
				if err == nil {
					err = signing.Verify(s.Public(), s.Algorithm(), []byte("m"), sig)
				}
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadKeyFile succeeded, want an error mentioning %q", tt.errMsg)
			}
			if !strings.Contains(err.Error(), tt.errMsg) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not mention %q and the path", err, tt.errMsg)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			assertNoKeyMaterial(t, err.Error(), tt.data)
		})
	}
}

// assertNoKeyMaterial fails if text quotes any line of a PEM file's body.
func assertNoKeyMaterial(t *testing.T, text, pemData string) {
	t.Helper()
	for _, line := range strings.Split(pemData, "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && !strings.Contains(line, ":") && strings.Contains(text, line[:16]) {
			t.Fatalf("%q quotes key material", text)
		}
	}
}

func TestLoadKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, path, msg string
		wantErr         error
	}{
		{"missing", filepath.Join(dir, "missing.pem"), "missing.pem", fs.ErrNotExist},
		{"directory", dir, "not a regular file", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := signing.LoadKeyFile(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.msg)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
