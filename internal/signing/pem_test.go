package signing_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/logkeeper/logkeeper/internal/signing"
)

// Written by `openssl pkey -pubout` from the fixed keys.
const (
	opensslEd25519PublicPEM = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=
-----END PUBLIC KEY-----
`
	opensslP256PublicPEM = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUVw9brnjlrkE0/7Kf1T9zQzB6Ze/
N13KUVrQpsO0A19FNr46UPMY+/mlR1kCoiFQK+8NV+CMU7LMClbxfZ+TVA==
-----END PUBLIC KEY-----
`
)

func TestPublicKeyPEMRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		pub     crypto.PublicKey
		openssl string
		id      string
	}{
		{"ed25519", fixedEd25519(t).Public(), opensslEd25519PublicPEM, goldenEd25519KeyID},
		{"p256", fixedP256(t).Public(), opensslP256PublicPEM, goldenP256KeyID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := signing.MarshalPublicKeyPEM(tt.pub)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tt.openssl {
				t.Fatalf("MarshalPublicKeyPEM =\n%s\nwant (as openssl writes it)\n%s", data, tt.openssl)
			}
			got, err := signing.ParsePublicKeyPEM(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.pub) {
				t.Fatalf("round trip changed the key: %v != %v", got, tt.pub)
			}
			if id, _ := signing.KeyID(got); id != tt.id {
				t.Fatalf("KeyID after round trip = %s, want %s", id, tt.id)
			}
		})
	}
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestParsePublicKeyPEMErrors(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	edDER, _ := x509.MarshalPKIXPublicKey(fixedEd25519(t).Public())
	tests := []struct {
		name    string
		data    string
		wantErr error // nil: any error
		msg     string
	}{
		{"empty", "", nil, "no PEM block"},
		{"not pem", "hello", nil, "no PEM block"},
		{"two blocks", opensslEd25519PublicPEM + opensslP256PublicPEM, nil, "after the PEM block"},
		{"trailing text", opensslEd25519PublicPEM + "x\n", nil, "after the PEM block"},
		{"private key block", pemOf("PRIVATE KEY", edDER), nil, `"PRIVATE KEY"`},
		{"rsa public key block", pemOf("RSA PUBLIC KEY", rsaDER), nil, "want \"PUBLIC KEY\""},
		{"headers", "-----BEGIN PUBLIC KEY-----\nA: b\n\n" + strings.Join(strings.Split(opensslEd25519PublicPEM, "\n")[1:], "\n"), nil, "headers"},
		{"bad der", pemOf("PUBLIC KEY", []byte{0x30, 0x03, 0x01}), nil, ""},
		{"truncated der", pemOf("PUBLIC KEY", edDER[:len(edDER)-1]), nil, ""},
		{"p384", pemOf("PUBLIC KEY", p384DER), signing.ErrUnsupported, "P-384"},
		{"rsa", pemOf("PUBLIC KEY", rsaDER), signing.ErrUnsupported, "rsa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, err := signing.ParsePublicKeyPEM([]byte(tt.data))
			if err == nil {
				t.Fatalf("ParsePublicKeyPEM = %v, want an error", pub)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func TestParsePublicKeyPEMLeadingText(t *testing.T) {
	// Comments before the block, as some tools write them, are fine.
	pub, err := signing.ParsePublicKeyPEM([]byte("key for prod\n" + opensslEd25519PublicPEM + "\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := signing.KeyID(pub); id != goldenEd25519KeyID {
		t.Fatalf("KeyID = %s", id)
	}
}

func TestMarshalPublicKeyPEMUnsupported(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := signing.MarshalPublicKeyPEM(&rsaKey.PublicKey); !errors.Is(err, signing.ErrUnsupported) {
		t.Fatalf("error = %v, want ErrUnsupported", err)
	}
}

func TestLoadPublicKeyFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "key.pub")
	if err := os.WriteFile(good, []byte(opensslP256PublicPEM), 0o644); err != nil {
		t.Fatal(err)
	}
	pub, err := signing.LoadPublicKeyFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := signing.KeyID(pub); id != goldenP256KeyID {
		t.Fatalf("KeyID = %s", id)
	}

	bad := filepath.Join(dir, "bad.pub")
	if err := os.WriteFile(bad, []byte("nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.pub")
	if err := os.WriteFile(big, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, msg string
	}{
		{"missing", filepath.Join(dir, "missing.pub"), "no such file"},
		{"not pem", bad, bad},
		{"directory", dir, "not a regular file"},
		{"too big", big, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := signing.LoadPublicKeyFile(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.msg)
			}
		})
	}
}
