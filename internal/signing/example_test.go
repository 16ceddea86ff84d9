package signing_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/logkeeper/logkeeper/internal/signing"
)

func Example() {
	// A fixed key, as in a test. In production: signing.LoadKeyFile, or
	// signers.Open with a file:// or awskms:// URI.
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	signer, err := signing.NewKeySigner(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		panic(err)
	}
	msg := []byte("logkeeper manifest v1\n")
	sig, err := signer.Sign(context.Background(), msg)
	if err != nil {
		panic(err)
	}

	// The verifier needs only the public key (for example from a .pub
	// file) and the algorithm recorded with the signature.
	pubPEM, _ := signing.MarshalPublicKeyPEM(signer.Public())
	pub, _ := signing.ParsePublicKeyPEM(pubPEM)
	fmt.Println(signer.Algorithm(), signer.KeyID())
	fmt.Println(signing.Verify(pub, signer.Algorithm(), msg, sig))

	msg[0] ^= 1
	err = signing.Verify(pub, signer.Algorithm(), msg, sig)
	fmt.Println(errors.Is(err, signing.ErrBadSignature))
	// Output:
	// ed25519 sha256:a050837d85070582ccf7394b0988847cc312cb88259b894899f6f239cf1791a5
	// <nil>
	// true
}

func ExampleKeyID() {
	pub, err := signing.ParsePublicKeyPEM([]byte(`-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUVw9brnjlrkE0/7Kf1T9zQzB6Ze/
N13KUVrQpsO0A19FNr46UPMY+/mlR1kCoiFQK+8NV+CMU7LMClbxfZ+TVA==
-----END PUBLIC KEY-----
`))
	if err != nil {
		panic(err)
	}
	id, _ := signing.KeyID(pub)
	alg, _ := signing.AlgorithmFor(pub)
	fmt.Println(alg, id)
	// Output: ecdsa-p256-sha256 sha256:f1d59449b727165de732bf283338122b99628a615918fedc67d878fffcf47da7
}
