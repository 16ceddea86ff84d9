package s3store_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

// Put records the key the server says it encrypted under (AWS S3 answers
// PutObject, CreateMultipartUpload and CompleteMultipartUpload with the
// key's ARN, whatever form the request named it in); where the answer
// names none, the requested key resolved by KMS DescribeKey (local-kms
// here). versitygw ignores SSE, so a proxy adds the answers' headers.
func TestServerKMSKeyID(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	if env.Encrypts {
		// The cases need keys the server does not have; on a server that
		// encrypts, TestExportVerifyRealSSEKMS (internal/e2e) checks the
		// key it really reports.
		t.Skipf("%s encrypts SSE-KMS and refuses keys it does not know: this test simulates the answers on a server that ignores SSE", env.Server)
	}
	kmsClient := testenv.KMS(t).Client()
	setup := within(t, time.Minute)
	key, err := kmsClient.CreateKey(setup, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecSymmetricDefault, KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	alias := "alias/lk-test-" + strings.ToLower(aws.ToString(key.KeyMetadata.KeyId)[:8])
	if _, err := kmsClient.CreateAlias(setup, &kms.CreateAliasInput{AliasName: &alias, TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	const awsARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

	tests := []struct {
		name      string
		requested string
		reported  string // the key header on upload answers; "" none
		onHead    bool   // the header is on HEAD answers only
		kms       bool   // resolve with DescribeKey
		want      string // ServerKMSKeyID; "" with wantErr: Put fails
		wantErr   bool
	}{
		{"AWS: alias requested, ARN reported", "alias/logkeeper-archive", awsARN, false, false, awsARN, false},
		{"MinIO: name requested, arn:aws:kms:NAME reported", "lk-key", "arn:aws:kms:lk-key", false, false, "arn:aws:kms:lk-key", false},
		{"server reports another key than the key id requested", "ffffffff-12ab-34cd-56ef-1234567890ab", awsARN, false, false, "", true},
		{"MinIO multipart: no key in the answers, HEAD names it", "lk-key", "arn:aws:kms:lk-key", true, false, "arn:aws:kms:lk-key", false},
		{"HEAD names another key than requested", "lk-key", "arn:aws:kms:other", true, false, "", true},
		{"no key in the answer: alias resolved by DescribeKey", alias, "", false, true, keyARN, false},
		{"no key in the answer: key id resolved by DescribeKey", aws.ToString(key.KeyMetadata.KeyId), "", false, true, keyARN, false},
		{"no key in the answer, an ARN requested: no call needed", awsARN, "", false, false, awsARN, false},
		{"no key in the answer, nothing to resolve with", alias, "", false, false, "", false},
		{"no key in the answer, an alias KMS does not know", "alias/no-such-key", "", false, true, "", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := within(t, 2*time.Minute)
			p := newProxy(t, env)
			if tt.reported != "" {
				p.respHeader = func(r *http.Request) http.Header {
					if r.Method == http.MethodPut && r.URL.Query().Has("partNumber") {
						return nil // S3 names the key on parts too, but Put does not read it
					}
					if (r.Method == http.MethodHead) != tt.onHead {
						return nil
					}
					if r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodHead {
						return http.Header{"X-Amz-Server-Side-Encryption": {"aws:kms"}, "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": {tt.reported}}
					}
					return nil
				}
			}
			o := s3store.Options{Bucket: env.NewBucket(t, false), PathStyle: true, PartSize: testPartSize, Concurrency: 2, Client: p.client(env)}
			if tt.kms {
				o.KMS = kmsClient
			}
			s, err := s3store.New(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			sse := &store.SSE{Algorithm: "aws:kms", KMSKeyID: tt.requested, Context: map[string]string{"logkeeper:stream": "s"}}
			for name, data := range map[string][]byte{"single": []byte("hello"), "multipart": randBytes(testPartSize+7, uint64(i))} {
				info, err := s.Put(ctx, name, bytes.NewReader(data), store.PutOptions{Size: int64(len(data)), SSE: sse})
				if tt.wantErr {
					if err == nil {
						t.Fatalf("%s: Put succeeded with server key %q", name, info.SSE.ServerKMSKeyID)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if info.SSE == nil || info.SSE.ServerKMSKeyID != tt.want || info.SSE.KMSKeyID != tt.requested {
					t.Fatalf("%s: SSE %+v, want server key %q beside the requested %q", name, info.SSE, tt.want, tt.requested)
				}
			}
		})
	}
}
