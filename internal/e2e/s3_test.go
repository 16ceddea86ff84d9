package e2e

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/signing/awskms"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
	"github.com/logkeeper/logkeeper/policies"
)

const prefix = "archive/prod"

func newS3(t testing.TB, env testenv.S3Env, bucket string) *s3store.Store {
	st, err := s3store.New(context.Background(), s3store.Options{
		Bucket: bucket, Prefix: prefix, PathStyle: true,
		PartSize: 5 << 20, Concurrency: 4, Client: env.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// kmsSigner creates an ECC_NIST_P256 signing key in local-kms.
func kmsSigner(t testing.TB) signing.Signer {
	t.Helper()
	client := testenv.KMS(t).Client()
	ctx := context.Background()
	out, err := client.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec:  kmstypes.KeySpecEccNistP256,
		KeyUsage: kmstypes.KeyUsageTypeSignVerify,
	})
	if err != nil {
		t.Fatalf("create KMS key: %v", err)
	}
	s, err := awskms.New(ctx, client, *out.KeyMetadata.KeyId)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The acceptance run: a folder with a zero-byte file, a file over
// 40 MiB, nested folders and odd names, exported with SSE-KMS requested
// (under a key the server knows where it really encrypts: MinIO), Object
// Lock and a KMS signing key, verifies fast and deep.
func TestExportVerifyS3WithKMS(t *testing.T) {
	env := testenv.S3(t)
	bucket := env.NewBucket(t, true)
	h := &harness{
		t: t, st: newS3(t, env, bucket), signer: kmsSigner(t), src: t.TempDir(), stream: "edge-logs",
		enc: &policies.Encryption{KMSKeyID: env.SSEKey, Context: map[string]string{"department": "legal"}},
		ret: &policies.Retention{Mode: policies.Compliance, RetainDays: 1},
	}
	files := sampleTree(t, h.src, 41<<20+123)
	res := h.export()
	if res.Files != len(files) {
		t.Fatalf("archived %d files, want %d", res.Files, len(files))
	}
	for _, o := range res.Manifest.Objects {
		if o.VersionID == "" || o.Retention == nil || o.SSE == nil || o.SSE.Context["logkeeper:key"] != o.Key || o.SSE.Context["department"] != "legal" {
			t.Fatalf("object %s recorded without version, retention or context: %+v", o.Key, o)
		}
		if o.Source.Path == "big/capture.pcap" && (o.Checksum.Type != "COMPOSITE" || len(o.Checksum.Parts) != 9) {
			t.Fatalf("41 MiB file: checksum %+v, want 9 composite parts of 5 MiB", o.Checksum)
		}
	}
	// Object Lock: the retention is on the server, not just in the manifest.
	big := objectKeyFor(res.Manifest.Objects, "big/capture.pcap")
	head, err := env.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + "/" + big)})
	if err != nil {
		t.Fatal(err)
	}
	if head.ObjectLockMode != "COMPLIANCE" || head.ObjectLockRetainUntilDate == nil || head.ObjectLockRetainUntilDate.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("object lock on the server: mode %q until %v", head.ObjectLockMode, head.ObjectLockRetainUntilDate)
	}
	for _, deep := range []bool{false, true} {
		rep := h.verify(deep)
		if len(rep.Problems) != 0 || rep.ObjectsValid != len(files) || rep.ManifestsValid != 1 {
			t.Fatalf("verify deep=%v: %+v", deep, rep)
		}
	}
	// An incremental run on S3 archives nothing again.
	if res2 := h.export(); res2.Files != 0 || res2.Sequence != 2 {
		t.Fatalf("second run: %+v", res2)
	}
	if rep := h.verify(false); len(rep.Problems) != 0 || rep.ManifestsValid != 2 {
		t.Fatalf("verify after the second run: %+v", rep.Problems)
	}
}

func objectKeyFor(objs []manifest.Object, path string) string {
	for _, o := range objs {
		if o.Source.Path == path {
			return o.Key
		}
	}
	return ""
}

// s3Tamperer changes objects with plain SDK calls.
type s3Tamperer struct {
	client *s3.Client
	bucket string
	vers   bool
}

func (s s3Tamperer) full(key string) *string { return aws.String(prefix + "/" + key) }

func (s s3Tamperer) read(t *testing.T, key string) []byte {
	out, err := s.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: s.full(key)})
	if err != nil {
		t.Fatalf("tamper read %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s s3Tamperer) overwrite(t *testing.T, key string, data []byte) {
	_, err := s.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: s.full(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("tamper overwrite %s: %v", key, err)
	}
}

func (s s3Tamperer) remove(t *testing.T, key string) {
	ctx := context.Background()
	if !s.vers {
		if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: s.full(key)}); err != nil {
			t.Fatalf("tamper delete %s: %v", key, err)
		}
		return
	}
	out, err := s.client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(s.bucket), Prefix: s.full(key)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range out.Versions {
		if *v.Key != *s.full(key) {
			continue
		}
		if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: v.Key, VersionId: v.VersionId}); err != nil {
			t.Fatalf("tamper delete %s version %s: %v", key, *v.VersionId, err)
		}
	}
}

func (s s3Tamperer) deleteMarker(t *testing.T, key string) bool {
	if !s.vers {
		return false
	}
	if _, err := s.client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: s.full(key)}); err != nil {
		t.Fatalf("tamper delete marker %s: %v", key, err)
	}
	return true
}

func (s s3Tamperer) versioned() bool { return s.vers }

func TestTamperMatrixS3(t *testing.T) {
	env := testenv.S3(t)
	for _, versioned := range []bool{false, true} {
		name := "unversioned"
		if versioned {
			name = "versioned"
		}
		t.Run(name, func(t *testing.T) {
			runTamperMatrix(t, versioned, func(t *testing.T) (*harness, tamperer) {
				bucket := env.NewBucket(t, false)
				if versioned {
					env.EnableVersioning(t, bucket)
				}
				h := &harness{t: t, st: newS3(t, env, bucket), signer: fixedSigner(t, 1), src: t.TempDir(), stream: "edge"}
				return h, s3Tamperer{client: env.Client(), bucket: bucket, vers: versioned}
			}, 11<<20)
		})
	}
}
