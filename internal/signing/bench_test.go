package signing_test

import (
	"context"
	"testing"

	"github.com/logkeeper/logkeeper/internal/signing"
)

// Manifests are small: a few KiB.
const benchMsgSize = 4 << 10

func BenchmarkSign(b *testing.B) {
	for _, s := range []signing.Signer{newSigner(b, fixedEd25519(b)), newSigner(b, fixedP256(b))} {
		b.Run(s.Algorithm(), func(b *testing.B) {
			msg := make([]byte, benchMsgSize)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(context.Background(), msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, s := range []signing.Signer{newSigner(b, fixedEd25519(b)), newSigner(b, fixedP256(b))} {
		b.Run(s.Algorithm(), func(b *testing.B) {
			msg := make([]byte, benchMsgSize)
			sig, err := s.Sign(context.Background(), msg)
			if err != nil {
				b.Fatal(err)
			}
			pub := s.Public()
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if err := signing.Verify(pub, s.Algorithm(), msg, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
