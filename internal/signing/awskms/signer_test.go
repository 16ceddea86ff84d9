package awskms_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/signing/awskms"
)

func TestSignWithFake(t *testing.T) {
	ctx := context.Background()
	f := newFakeKMS(t)
	s, err := awskms.New(ctx, f, "alias/logkeeper")
	if err != nil {
		t.Fatal(err)
	}
	wantID, _ := signing.KeyID(&f.key.PublicKey)
	if s.KeyID() != wantID || s.KMSKeyARN() != fakeARN || s.Algorithm() != signing.AlgECDSAP256SHA256 {
		t.Fatalf("signer = %s %s %s", s.Algorithm(), s.KeyID(), s.KMSKeyARN())
	}
	for i := range 3 {
		msg := []byte(fmt.Sprintf("manifest %d", i))
		sig, err := s.Sign(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := signing.Verify(&f.key.PublicKey, signing.AlgECDSAP256SHA256, msg, sig); err != nil {
			t.Fatal(err)
		}
		in := f.signIn[i]
		digest := sha256.Sum256(msg)
		if aws.ToString(in.KeyId) != fakeARN || in.MessageType != types.MessageTypeDigest ||
			in.SigningAlgorithm != types.SigningAlgorithmSpecEcdsaSha256 || !bytes.Equal(in.Message, digest[:]) {
			t.Fatalf("Sign request = key %s, %s, %s, message %x; want the ARN, DIGEST, ECDSA_SHA_256, SHA-256 of the message",
				aws.ToString(in.KeyId), in.MessageType, in.SigningAlgorithm, in.Message)
		}
	}
	if f.gets != 1 || aws.ToString(f.getInput[0].KeyId) != "alias/logkeeper" {
		t.Fatalf("GetPublicKey called %d times, want once with the alias", f.gets)
	}
}

func TestSignGuard(t *testing.T) {
	// A KMS that answers with a signature from another key (or garbage)
	// must never have that signature passed on.
	ctx := context.Background()
	f := newFakeKMS(t)
	s, err := awskms.New(ctx, f, "k")
	if err != nil {
		t.Fatal(err)
	}
	f.signWith, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sig, err := s.Sign(ctx, []byte("m"))
	if !errors.Is(err, signing.ErrBadSignature) || sig != nil {
		t.Fatalf("Sign = %x, %v; want no signature and ErrBadSignature", sig, err)
	}
	if !strings.Contains(err.Error(), `"k"`) || !strings.Contains(err.Error(), fakeARN) {
		t.Fatalf("error %q does not name the key", err)
	}
}

func TestNewRejectsKey(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	tests := []struct {
		name    string
		change  func(*fakeKMS)
		keyID   string
		wantErr error
		msg     string
	}{
		{"symmetric", func(f *fakeKMS) { f.spec = types.KeySpecSymmetricDefault; f.algs = nil }, "k1", signing.ErrUnsupported, "SYMMETRIC_DEFAULT"},
		{"rsa", func(f *fakeKMS) { f.spec = types.KeySpecRsa2048 }, "k1", signing.ErrUnsupported, "RSA_2048"},
		{"p384", func(f *fakeKMS) { f.spec = types.KeySpecEccNistP384 }, "k1", signing.ErrUnsupported, "ECC_NIST_P384"},
		{"key agreement", func(f *fakeKMS) { f.usage = types.KeyUsageTypeKeyAgreement; f.algs = nil }, "k1", signing.ErrUnsupported, "ECDSA_SHA_256"},
		{"p384 public key despite spec", func(f *fakeKMS) { f.pubDER = p384DER }, "k1", signing.ErrUnsupported, "P-256"},
		{"garbage public key", func(f *fakeKMS) { f.pubDER = []byte{1, 2, 3} }, "k1", nil, "parse public key"},
		{"empty key id", func(*fakeKMS) {}, "", nil, "no key id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeKMS(t)
			tt.change(f)
			for _, call := range []func() error{
				func() error { _, err := awskms.New(context.Background(), f, tt.keyID); return err },
				func() error { _, err := awskms.PublicKey(context.Background(), f, tt.keyID); return err },
			} {
				err := call()
				if err == nil {
					t.Fatal("accepted")
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.msg) || (tt.keyID != "" && !strings.Contains(err.Error(), `"`+tt.keyID+`"`)) {
					t.Fatalf("error %q does not name the key and %q", err, tt.msg)
				}
			}
		})
	}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr error
		msg     string
	}{
		{"not found", &types.NotFoundException{Message: aws.String("Key 'k' does not exist")}, awskms.ErrKeyNotFound, "key not found: Key 'k' does not exist"},
		{"invalid arn", &types.InvalidArnException{Message: aws.String("bad arn")}, awskms.ErrKeyNotFound, "bad arn"},
		{"disabled", &types.DisabledException{Message: aws.String("k is disabled.")}, awskms.ErrKeyDisabled, "key is disabled"},
		{"access denied", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User: x is not authorized\nto perform: kms:Sign"}, awskms.ErrAccessDenied, "access denied: User: x is not authorized to perform: kms:Sign"},
		{"pending deletion", &types.KMSInvalidStateException{Message: aws.String("k is pending deletion.")}, awskms.ErrKeyState, "pending deletion"},
		{"unavailable", &types.KeyUnavailableException{}, awskms.ErrKeyState, "not in a usable state"},
		{"symmetric key", &types.UnsupportedOperationException{Message: aws.String("not asymmetric")}, signing.ErrUnsupported, "not asymmetric; manifests are signed with ECC_NIST_P256"},
		{"other api error", &types.KMSInternalException{Message: aws.String("boom")}, nil, "boom"},
		{"network", errors.New("dial tcp: connection refused"), nil, "connection refused"},
	}
	for _, tt := range tests {
		for _, op := range []string{"GetPublicKey", "Sign"} {
			t.Run(tt.name+"/"+op, func(t *testing.T) {
				ctx := context.Background()
				f := newFakeKMS(t)
				var err error
				if op == "GetPublicKey" {
					f.getErr = tt.err
					_, err = awskms.New(ctx, f, "alias/lk")
				} else {
					s, nerr := awskms.New(ctx, f, "alias/lk")
					if nerr != nil {
						t.Fatal(nerr)
					}
					f.signErr = tt.err
					_, err = s.Sign(ctx, []byte("m"))
				}
				if err == nil {
					t.Fatal("no error")
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v does not wrap the SDK error", err)
				}
				text := err.Error()
				if !strings.Contains(text, tt.msg) || !strings.Contains(text, `"alias/lk"`) || !strings.Contains(text, op) || strings.Contains(text, "\n") {
					t.Fatalf("error %q: want one line naming the key, %s and %q", text, op, tt.msg)
				}
			})
		}
	}
}

func TestSignerFormat(t *testing.T) {
	// A Signer prints and logs as its key, never as its client.
	f := newFakeKMS(t)
	s, err := awskms.New(context.Background(), f, "k")
	if err != nil {
		t.Fatal(err)
	}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, *s))
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("signer", "s", s)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("signer", "s", *s)
	outs = append(outs, buf.String())
	for _, out := range outs {
		if !strings.Contains(out, s.KeyID()) || !strings.Contains(out, fakeARN) || strings.Contains(out, "0x") {
			t.Fatalf("output %q: want the key id and ARN only", out)
		}
	}
}

func TestSignConcurrent(t *testing.T) {
	ctx := context.Background()
	f := newFakeKMS(t)
	s, err := awskms.New(ctx, f, "k")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			msg := []byte{byte(i)}
			sig, err := s.Sign(ctx, msg)
			if err == nil {
				err = signing.Verify(s.Public(), s.Algorithm(), msg, sig)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
