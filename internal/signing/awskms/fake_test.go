package awskms_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

const fakeARN = "arn:aws:kms:us-east-1:111122223333:key/8c7e7c58-5f49-4b8b-9e43-2a0d8b3c7f10"

// fakeKMS is an in-memory KMS with one key. Fields may be changed before
// use; calls are recorded.
type fakeKMS struct {
	key      *ecdsa.PrivateKey
	spec     types.KeySpec
	usage    types.KeyUsageType
	algs     []types.SigningAlgorithmSpec
	pubDER   []byte // overrides the key's own
	getErr   error
	signErr  error
	signWith *ecdsa.PrivateKey // sign with this key instead (a lying KMS)

	mu       sync.Mutex
	gets     int
	signIn   []*kms.SignInput
	getInput []*kms.GetPublicKeyInput
}

func newFakeKMS(t testing.TB) *fakeKMS {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeKMS{
		key:   k,
		spec:  types.KeySpecEccNistP256,
		usage: types.KeyUsageTypeSignVerify,
		algs:  []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256},
	}
}

func (f *fakeKMS) GetPublicKey(_ context.Context, in *kms.GetPublicKeyInput, _ ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	f.mu.Lock()
	f.gets++
	f.getInput = append(f.getInput, in)
	f.mu.Unlock()
	if f.getErr != nil {
		return nil, f.getErr
	}
	der := f.pubDER
	if der == nil {
		var err error
		if der, err = x509.MarshalPKIXPublicKey(&f.key.PublicKey); err != nil {
			return nil, err
		}
	}
	return &kms.GetPublicKeyOutput{
		KeyId:             aws.String(fakeARN),
		KeySpec:           f.spec,
		KeyUsage:          f.usage,
		SigningAlgorithms: f.algs,
		PublicKey:         der,
	}, nil
}

func (f *fakeKMS) Sign(_ context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	f.mu.Lock()
	f.signIn = append(f.signIn, in)
	f.mu.Unlock()
	if f.signErr != nil {
		return nil, f.signErr
	}
	if in.MessageType != types.MessageTypeDigest || in.SigningAlgorithm != types.SigningAlgorithmSpecEcdsaSha256 || len(in.Message) != 32 {
		return nil, &smithy.GenericAPIError{Code: "ValidationException", Message: "bad sign request"}
	}
	k := f.key
	if f.signWith != nil {
		k = f.signWith
	}
	sig, err := ecdsa.SignASN1(rand.Reader, k, in.Message)
	if err != nil {
		return nil, err
	}
	return &kms.SignOutput{KeyId: aws.String(fakeARN), Signature: sig, SigningAlgorithm: in.SigningAlgorithm}, nil
}
