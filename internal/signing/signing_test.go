package signing_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"sync"
	"testing"

	"github.com/logkeeper/logkeeper/internal/signing"
)

// Fixed test keys. Their ids were computed independently with
//
//	openssl pkey -pubout -outform DER | sha256sum
const (
	goldenEd25519KeyID = "sha256:a050837d85070582ccf7394b0988847cc312cb88259b894899f6f239cf1791a5"
	goldenP256KeyID    = "sha256:f1d59449b727165de732bf283338122b99628a615918fedc67d878fffcf47da7"
)

// fixedEd25519 has the seed 00 01 02 ... 1f.
func fixedEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// fixedP256 has the scalar 01 02 03 ... 20.
func fixedP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	d := make([]byte, 32)
	for i := range d {
		d[i] = byte(i + 1)
	}
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSigner(t testing.TB, priv crypto.PrivateKey) *signing.KeySigner {
	t.Helper()
	s, err := signing.NewKeySigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeyIDGolden(t *testing.T) {
	tests := []struct {
		name string
		pub  crypto.PublicKey
		want string
	}{
		{"ed25519", fixedEd25519(t).Public(), goldenEd25519KeyID},
		{"p256", fixedP256(t).Public(), goldenP256KeyID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // stable across calls
				got, err := signing.KeyID(tt.pub)
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Fatalf("KeyID = %s, want %s", got, tt.want)
				}
			}
		})
	}
}

func TestAlgorithmFor(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	edPub := fixedEd25519(t).Public().(ed25519.PublicKey)
	tests := []struct {
		name    string
		pub     crypto.PublicKey
		want    string
		wantErr error
	}{
		{"ed25519", edPub, signing.AlgEd25519, nil},
		{"p256", &fixedP256(t).PublicKey, signing.AlgECDSAP256SHA256, nil},
		{"ed25519 short", edPub[:31], "", signing.ErrUnsupported},
		{"ed25519 pointer", &edPub, "", signing.ErrUnsupported},
		{"p384", &p384.PublicKey, "", signing.ErrUnsupported},
		{"rsa", &rsaKey.PublicKey, "", signing.ErrUnsupported},
		{"nil", nil, "", signing.ErrUnsupported},
		{"nil ecdsa", (*ecdsa.PublicKey)(nil), "", signing.ErrUnsupported},
		{"ecdsa without point", &ecdsa.PublicKey{Curve: elliptic.P256()}, "", signing.ErrUnsupported},
		{"ecdsa off curve", &ecdsa.PublicKey{Curve: elliptic.P256(), X: fixedP256(t).X, Y: fixedP256(t).X}, "", signing.ErrUnsupported},
		{"private key", fixedEd25519(t), "", signing.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := signing.AlgorithmFor(tt.pub)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("AlgorithmFor = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
			_, err = signing.KeyID(tt.pub)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("KeyID error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestSignVerify(t *testing.T) {
	ctx := context.Background()
	ed := newSigner(t, fixedEd25519(t))
	p256 := newSigner(t, fixedP256(t))
	otherEd, _, _ := ed25519.GenerateKey(rand.Reader)
	otherP256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	msg := []byte("manifest bytes\n")

	for _, s := range []*signing.KeySigner{ed, p256} {
		t.Run(s.Algorithm(), func(t *testing.T) {
			sig, err := s.Sign(ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			flip := func(b []byte, i int) []byte {
				c := append([]byte(nil), b...)
				c[i] ^= 0x01
				return c
			}
			otherAlg, otherKey := signing.AlgECDSAP256SHA256, crypto.PublicKey(otherEd)
			if s.Algorithm() == signing.AlgECDSAP256SHA256 {
				otherAlg, otherKey = signing.AlgEd25519, &otherP256.PublicKey
			}
			tests := []struct {
				name    string
				pub     crypto.PublicKey
				alg     string
				msg     []byte
				sig     []byte
				wantErr error
			}{
				{"valid", s.Public(), s.Algorithm(), msg, sig, nil},
				{"wrong key", otherKey, s.Algorithm(), msg, sig, signing.ErrBadSignature},
				{"flipped first message byte", s.Public(), s.Algorithm(), flip(msg, 0), sig, signing.ErrBadSignature},
				{"flipped last message byte", s.Public(), s.Algorithm(), flip(msg, len(msg)-1), sig, signing.ErrBadSignature},
				{"longer message", s.Public(), s.Algorithm(), append(append([]byte(nil), msg...), 0), sig, signing.ErrBadSignature},
				{"empty message", s.Public(), s.Algorithm(), nil, sig, signing.ErrBadSignature},
				{"flipped first signature byte", s.Public(), s.Algorithm(), msg, flip(sig, 0), signing.ErrBadSignature},
				{"flipped middle signature byte", s.Public(), s.Algorithm(), msg, flip(sig, len(sig)/2), signing.ErrBadSignature},
				{"flipped last signature byte", s.Public(), s.Algorithm(), msg, flip(sig, len(sig)-1), signing.ErrBadSignature},
				{"truncated signature", s.Public(), s.Algorithm(), msg, sig[:len(sig)-1], signing.ErrBadSignature},
				{"trailing signature byte", s.Public(), s.Algorithm(), msg, append(append([]byte(nil), sig...), 0), signing.ErrBadSignature},
				{"empty signature", s.Public(), s.Algorithm(), msg, nil, signing.ErrBadSignature},
				{"other algorithm", s.Public(), otherAlg, msg, sig, signing.ErrUnsupported},
				{"unknown algorithm", s.Public(), "rsa-pss-sha256", msg, sig, signing.ErrUnsupported},
				{"empty algorithm", s.Public(), "", msg, sig, signing.ErrUnsupported},
				{"algorithm in capitals", s.Public(), "ED25519", msg, sig, signing.ErrUnsupported},
				{"rsa key", &rsaKey.PublicKey, s.Algorithm(), msg, sig, signing.ErrUnsupported},
				{"nil key", nil, s.Algorithm(), msg, sig, signing.ErrUnsupported},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					err := signing.Verify(tt.pub, tt.alg, tt.msg, tt.sig)
					if tt.wantErr == nil {
						if err != nil {
							t.Fatalf("Verify: %v", err)
						}
						return
					}
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
					}
					other := signing.ErrUnsupported
					if tt.wantErr == signing.ErrUnsupported {
						other = signing.ErrBadSignature
					}
					if errors.Is(err, other) {
						t.Fatalf("Verify error %v wraps both sentinels", err)
					}
				})
			}
		})
	}
}

func TestSignerMetadata(t *testing.T) {
	tests := []struct {
		name    string
		priv    crypto.PrivateKey
		alg, id string
	}{
		{"ed25519", fixedEd25519(t), signing.AlgEd25519, goldenEd25519KeyID},
		{"p256", fixedP256(t), signing.AlgECDSAP256SHA256, goldenP256KeyID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSigner(t, tt.priv)
			if s.Algorithm() != tt.alg || s.KeyID() != tt.id {
				t.Fatalf("signer = %s %s, want %s %s", s.Algorithm(), s.KeyID(), tt.alg, tt.id)
			}
			if id, _ := signing.KeyID(s.Public()); id != tt.id {
				t.Fatalf("KeyID(Public()) = %s, want %s", id, tt.id)
			}
		})
	}
}

func TestEd25519Deterministic(t *testing.T) {
	// Ed25519 signatures of a fixed key are fixed: golden manifests can
	// hold them.
	s := newSigner(t, fixedEd25519(t))
	a, _ := s.Sign(context.Background(), []byte("x"))
	b, _ := s.Sign(context.Background(), []byte("x"))
	if string(a) != string(b) {
		t.Fatal("ed25519 signatures of the same message differ")
	}
}

func TestPublicIsACopy(t *testing.T) {
	s := newSigner(t, fixedEd25519(t))
	pub := s.Public().(ed25519.PublicKey)
	pub[0] ^= 0xff
	if id, _ := signing.KeyID(s.Public()); id != goldenEd25519KeyID {
		t.Fatal("changing the result of Public changed the signer's key")
	}
}

func TestNewKeySignerRejects(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	mismatched := append(ed25519.PrivateKey(nil), fixedEd25519(t)...)
	mismatched[40] ^= 1 // public half no longer matches the seed
	tests := []struct {
		name string
		priv crypto.PrivateKey
	}{
		{"nil", nil},
		{"p384", p384},
		{"rsa", rsaKey},
		{"ed25519 short", fixedEd25519(t)[:32]},
		{"ed25519 mismatched halves", mismatched},
		{"ed25519 public key", fixedEd25519(t).Public()},
		{"nil ecdsa", (*ecdsa.PrivateKey)(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := signing.NewKeySigner(tt.priv); !errors.Is(err, signing.ErrUnsupported) {
				t.Fatalf("NewKeySigner error = %v, want ErrUnsupported", err)
			}
		})
	}
}

func TestSignCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newSigner(t, fixedEd25519(t)).Sign(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sign error = %v, want context.Canceled", err)
	}
}

func TestSignConcurrent(t *testing.T) {
	for _, s := range []signing.Signer{newSigner(t, fixedEd25519(t)), newSigner(t, fixedP256(t))} {
		t.Run(s.Algorithm(), func(t *testing.T) {
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					msg := []byte{byte(i)}
					for range 20 {
						sig, err := s.Sign(context.Background(), msg)
						if err == nil {
							err = signing.Verify(s.Public(), s.Algorithm(), msg, sig)
						}
						if err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
