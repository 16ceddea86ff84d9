package awskms_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/signing/awskms"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

// These tests run against local-kms (testenv.KMS): the keys and aliases
// they need are created through the KMS API.

func testClient(t *testing.T) *kms.Client {
	t.Helper()
	return testenv.KMS(t).Client()
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// createKey creates a KMS key and returns its ARN.
func createKey(t *testing.T, c *kms.Client, spec types.KeySpec, usage types.KeyUsageType) string {
	t.Helper()
	out, err := c.CreateKey(testCtx(t), &kms.CreateKeyInput{
		KeySpec:     spec,
		KeyUsage:    usage,
		Description: aws.String("logkeeper test " + t.Name()),
	})
	if err != nil {
		t.Fatalf("create %s key: %v", spec, err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// createAlias points a new alias/logkeeper-test-* at key and returns it.
func createAlias(t *testing.T, c *kms.Client, key string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	alias := "alias/logkeeper-test-" + hex.EncodeToString(b[:])
	if _, err := c.CreateAlias(testCtx(t), &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(key)}); err != nil {
		t.Fatalf("create alias: %v", err)
	}
	return alias
}

func TestKMSSignVerify(t *testing.T) {
	c := testClient(t)
	arn := createKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	alias := createAlias(t, c, arn)
	keyID := arn[strings.LastIndex(arn, "/")+1:]
	aliasARN := arn[:strings.LastIndex(arn, ":")+1] + alias

	// The public key as a verifier gets it, through a PEM file.
	pub, err := awskms.PublicKey(testCtx(t), c, arn)
	if err != nil {
		t.Fatal(err)
	}
	pemData, err := signing.MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	offline, err := signing.ParsePublicKeyPEM(pemData)
	if err != nil {
		t.Fatal(err)
	}
	wantID, _ := signing.KeyID(offline)

	for _, name := range []struct{ how, id string }{
		{"key id", keyID}, {"key arn", arn}, {"alias", alias}, {"alias arn", aliasARN},
	} {
		t.Run(name.how, func(t *testing.T) {
			ctx := testCtx(t)
			s, err := awskms.New(ctx, c, name.id)
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyID() != wantID || s.KMSKeyARN() != arn || s.Algorithm() != signing.AlgECDSAP256SHA256 {
				t.Fatalf("signer = %s %s %s, want %s %s", s.Algorithm(), s.KeyID(), s.KMSKeyARN(), wantID, arn)
			}
			msg := []byte("logkeeper manifest via " + name.how + "\n")
			sig, err := s.Sign(ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := signing.Verify(offline, signing.AlgECDSAP256SHA256, msg, sig); err != nil {
				t.Fatalf("offline verify: %v", err)
			}
			msg[0] ^= 1
			if err := signing.Verify(offline, signing.AlgECDSAP256SHA256, msg, sig); !errors.Is(err, signing.ErrBadSignature) {
				t.Fatalf("changed message: Verify = %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestKMSVerifyAgrees(t *testing.T) {
	// The signature is a standard one: KMS's own Verify accepts it.
	c := testClient(t)
	arn := createKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	ctx := testCtx(t)
	s, err := awskms.New(ctx, c, arn)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("manifest")
	sig, err := s.Sign(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Verify(ctx, &kms.VerifyInput{
		KeyId:            aws.String(arn),
		Message:          msg,
		MessageType:      types.MessageTypeRaw,
		Signature:        sig,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil || !out.SignatureValid {
		t.Fatalf("KMS Verify = %v, %v", out, err)
	}
}

func TestKMSWrongKey(t *testing.T) {
	c := testClient(t)
	tests := []struct {
		name  string
		spec  types.KeySpec
		usage types.KeyUsageType
		msg   string
	}{
		{"symmetric", types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt, "ECC_NIST_P256"},
		{"p384", types.KeySpecEccNistP384, types.KeyUsageTypeSignVerify, "ECC_NIST_P384"},
		{"rsa", types.KeySpecRsa2048, types.KeyUsageTypeSignVerify, "RSA_2048"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arn := createKey(t, c, tt.spec, tt.usage)
			_, err := awskms.New(testCtx(t), c, arn)
			if !errors.Is(err, signing.ErrUnsupported) {
				t.Fatalf("New = %v, want an error wrapping signing.ErrUnsupported", err)
			}
			if !strings.Contains(err.Error(), arn) || !strings.Contains(err.Error(), tt.msg) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line naming the key and %q", err, tt.msg)
			}
			t.Log(err)
		})
	}
}

func TestKMSMissingKey(t *testing.T) {
	c := testClient(t)
	for _, id := range []string{
		"5b2c53a4-1b52-4d39-9d0f-3d0f0c0e7a11",
		"alias/logkeeper-test-does-not-exist",
		"arn:aws:kms:us-east-1:111122223333:key/5b2c53a4-1b52-4d39-9d0f-3d0f0c0e7a11",
	} {
		t.Run(id, func(t *testing.T) {
			_, err := awskms.New(testCtx(t), c, id)
			if !errors.Is(err, awskms.ErrKeyNotFound) {
				t.Fatalf("New = %v, want ErrKeyNotFound", err)
			}
			if !strings.Contains(err.Error(), id) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line naming the key", err)
			}
			t.Log(err)
		})
	}
}

func TestKMSDisabledKey(t *testing.T) {
	c := testClient(t)
	arn := createKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	ctx := testCtx(t)
	s, err := awskms.New(ctx, c, arn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Sign(ctx, []byte("m"))
	if !errors.Is(err, awskms.ErrKeyDisabled) || !strings.Contains(err.Error(), arn) {
		t.Fatalf("Sign with a disabled key = %v, want ErrKeyDisabled naming the key", err)
	}
	t.Log(err)
	if _, err := awskms.New(ctx, c, arn); !errors.Is(err, awskms.ErrKeyDisabled) {
		t.Fatalf("New with a disabled key = %v, want ErrKeyDisabled", err)
	}
}

func TestKMSPendingDeletion(t *testing.T) {
	c := testClient(t)
	arn := createKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	ctx := testCtx(t)
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(arn), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	_, err := awskms.New(ctx, c, arn)
	if !errors.Is(err, awskms.ErrKeyState) || !strings.Contains(err.Error(), arn) {
		t.Fatalf("New with a key pending deletion = %v, want ErrKeyState naming the key", err)
	}
	t.Log(err)
}
