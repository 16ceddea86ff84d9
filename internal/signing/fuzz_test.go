package signing_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"testing"

	"github.com/logkeeper/logkeeper/internal/signing"
)

func FuzzParsePublicKeyPEM(f *testing.F) {
	f.Add([]byte(opensslEd25519PublicPEM))
	f.Add([]byte(opensslP256PublicPEM))
	f.Add([]byte(opensslEd25519PrivatePEM))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		pub, err := signing.ParsePublicKeyPEM(data)
		if err != nil {
			return
		}
		// Whatever parses is a supported key with an id, and encodes back
		// to the same key.
		if _, err := signing.AlgorithmFor(pub); err != nil {
			t.Fatalf("parsed key is not supported: %v", err)
		}
		id, err := signing.KeyID(pub)
		if err != nil {
			t.Fatal(err)
		}
		again, err := signing.MarshalPublicKeyPEM(pub)
		if err != nil {
			t.Fatal(err)
		}
		pub2, err := signing.ParsePublicKeyPEM(again)
		if err != nil {
			t.Fatal(err)
		}
		if id2, _ := signing.KeyID(pub2); id2 != id {
			t.Fatalf("key id changed in a round trip: %s -> %s", id, id2)
		}
	})
}

func FuzzVerify(f *testing.F) {
	edDER, _ := x509.MarshalPKIXPublicKey(fixedEd25519(f).Public())
	p256DER, _ := x509.MarshalPKIXPublicKey(fixedP256(f).Public())
	f.Add(edDER, signing.AlgEd25519, []byte("m"), make([]byte, 64))
	f.Add(p256DER, signing.AlgECDSAP256SHA256, []byte("m"), []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})
	f.Add([]byte{1, 2, 3}, signing.AlgEd25519, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, pubDER []byte, alg string, msg, sig []byte) {
		var pub crypto.PublicKey = ed25519.PublicKey(pubDER) // any length
		if p, err := x509.ParsePKIXPublicKey(pubDER); err == nil {
			pub = p
		}
		_ = signing.Verify(pub, alg, msg, sig) // must not panic
	})
}
