package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
	"github.com/logkeeper/logkeeper/policies"
)

// SeaweedFS with local-kms, started by scripts/seaweed.sh (make
// test-seaweed): the one S3 server here that really encrypts with SSE-KMS.
// Without it the test is skipped, unless LOGKEEPER_REQUIRE_SEAWEED=1 (set
// by make test-seaweed), when it fails.
const (
	envSeaweedEndpoint  = "LOGKEEPER_TEST_SEAWEED_ENDPOINT"
	envSeaweedAccessKey = "LOGKEEPER_TEST_SEAWEED_ACCESS_KEY"
	envSeaweedSecretKey = "LOGKEEPER_TEST_SEAWEED_SECRET_KEY"
	envSeaweedData      = "LOGKEEPER_TEST_SEAWEED_DATA"
	envRequireSeaweed   = "LOGKEEPER_REQUIRE_SEAWEED"
)

func seaweed(t *testing.T) (testenv.S3Env, string) {
	t.Helper()
	env := testenv.S3Env{
		Endpoint:  os.Getenv(envSeaweedEndpoint),
		AccessKey: os.Getenv(envSeaweedAccessKey),
		SecretKey: os.Getenv(envSeaweedSecretKey),
		Region:    "us-east-1",
	}
	data := os.Getenv(envSeaweedData)
	if env.Endpoint == "" || env.AccessKey == "" || env.SecretKey == "" || data == "" {
		msg := "SeaweedFS not configured (" + envSeaweedEndpoint + "): run `make test-seaweed`"
		if os.Getenv(envRequireSeaweed) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if !strings.HasPrefix(env.Endpoint, "http://127.0.0.1:") {
		t.Fatalf("SeaweedFS endpoint %s is not on loopback", env.Endpoint)
	}
	return env, data
}

// withMarkers copies marker into b every MiB.
func withMarkers(b, marker []byte) []byte {
	for off := 0; off+len(marker) < len(b); off += 1 << 20 {
		copy(b[off:], marker)
	}
	return b
}

// rawHeaders is a per-request option that copies the HTTP response headers.
func rawHeaders(h *map[string]string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("rawHeaders",
				func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleDeserialize(ctx, in)
					if resp, ok := out.RawResponse.(*smithyhttp.Response); ok {
						*h = map[string]string{}
						for k := range resp.Header {
							(*h)[strings.ToLower(k)] = resp.Header.Get(k)
						}
					}
					return out, md, err
				}), middleware.After)
		})
	}
}

// onDisk reports whether any file under dir holds needle.
func onDisk(t *testing.T, dir string, needle []byte) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || found {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return nil // a file that went away
		}
		defer f.Close()
		buf := make([]byte, 1<<20+len(needle))
		carry := 0
		for {
			n, err := io.ReadFull(f, buf[carry:])
			if bytes.Contains(buf[:carry+n], needle) {
				found = true
				return nil
			}
			if err != nil {
				return nil
			}
			carry = copy(buf, buf[carry+n-len(needle):carry+n])
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// Archived objects are really encrypted by the server under the configured
// KMS key and bound to logkeeper's encryption context; verify reads the
// context back and reports one that was changed.
func TestSeaweedSSEKMS(t *testing.T) {
	env, dataDir := seaweed(t)
	ctx := context.Background()
	keyID := newEncryptionKey(t)

	bucket := env.NewBucket(t, false)
	h := &harness{
		t: t, st: newS3(t, env, bucket), signer: fixedSigner(t, 1), src: t.TempDir(), stream: "sealed",
		enc: &policies.Encryption{KMSKeyID: keyID, Context: map[string]string{"department": "legal"}},
	}
	// Plaintext markers: random bytes (so the server cannot compress them
	// away) around a text that must never be found on disk.
	marker := []byte("LOGKEEPER-PLAINTEXT-MARKER-7f3a9c")
	small := append(append(randData(3000, 1), marker...), randData(3000, 2)...)
	// Under the 5 MiB part size: one PutObject each. Multipart uploads are
	// the next test's subject.
	medium := withMarkers(randData(4<<20, 3), marker)
	writeFile(t, h.src, "edge/small.log", small)
	writeFile(t, h.src, "edge/medium.pcap", medium)
	res := h.export()
	if res.Files != 2 {
		t.Fatalf("archived %d files, want 2", res.Files)
	}

	// The server reports, for every object and the manifest, SSE-KMS under
	// our key with our context.
	client := env.Client()
	for _, o := range res.Manifest.Objects {
		var hdr map[string]string
		if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + "/" + o.Key)}, rawHeaders(&hdr)); err != nil {
			t.Fatal(err)
		}
		if alg := hdr["x-amz-server-side-encryption"]; alg != "aws:kms" {
			t.Fatalf("%s: x-amz-server-side-encryption %q, want aws:kms", o.Key, alg)
		}
		if kid := hdr["x-amz-server-side-encryption-aws-kms-key-id"]; !strings.Contains(kid, keyID) {
			t.Fatalf("%s: encrypted under %q, want key %s", o.Key, kid, keyID)
		}
		raw, err := base64.StdEncoding.DecodeString(hdr["x-amz-server-side-encryption-context"])
		if err != nil {
			t.Fatalf("%s: context header %q: %v", o.Key, hdr["x-amz-server-side-encryption-context"], err)
		}
		var got map[string]string
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("%s: context %q: %v", o.Key, raw, err)
		}
		for k, v := range o.SSE.Context {
			if got[k] != v {
				t.Fatalf("%s: server context %v lacks %s=%q", o.Key, got, k, v)
			}
		}
		if got["logkeeper:key"] != o.Key || got["department"] != "legal" || got["logkeeper:run-id"] != res.RunID {
			t.Fatalf("%s: server context %v", o.Key, got)
		}
	}

	// Nothing in plaintext on disk; a control object stored without SSE is
	// found there, so the search does see stored bytes.
	control := []byte("LOGKEEPER-CONTROL-MARKER-51e0d2")
	ctl := append(append(randData(3000, 4), control...), randData(3000, 5)...)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("control.bin"), Body: bytes.NewReader(ctl)}); err != nil {
		t.Fatal(err)
	}
	if !onDisk(t, dataDir, control) {
		t.Fatalf("the unencrypted control object is not found in plaintext under %s: the search sees nothing", dataDir)
	}
	if onDisk(t, dataDir, marker) {
		t.Fatalf("plaintext of an archived object found under %s: not encrypted at rest", dataDir)
	}

	// Verify reads the context back from the server and finds it whole.
	for _, deep := range []bool{false, true} {
		if rep := h.verify(deep); len(rep.Problems) != 0 || rep.ObjectsValid != 2 {
			t.Fatalf("verify deep=%v: %+v", deep, rep)
		}
	}
	info, err := h.st.Head(ctx, res.Manifest.Objects[0].Key, store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.SSE == nil || info.SSE.Context["logkeeper:stream"] != "sealed" {
		t.Fatalf("store Head reports SSE %+v", info.SSE)
	}

	// Re-store one object with the same bytes under another context: the
	// checksum still matches, the context does not.
	o := res.Manifest.Objects[slices.IndexFunc(res.Manifest.Objects, func(o manifest.Object) bool { return o.Source.Path == "edge/small.log" })]
	forged := map[string]string{}
	for k, v := range o.SSE.Context {
		forged[k] = v
	}
	forged["department"] = "marketing"
	fj, _ := json.Marshal(forged)
	sum := sha256.Sum256(small)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(prefix + "/" + o.Key), Body: bytes.NewReader(small),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(keyID),
		SSEKMSEncryptionContext: aws.String(base64.StdEncoding.EncodeToString(fj)),
	}); err != nil {
		t.Fatal(err)
	}
	rep := h.verify(false)
	if !slices.Contains(kinds(rep), custody.KindEncryptionContext) {
		t.Fatalf("verify after the context was changed: %v, want %s", rep.Problems, custody.KindEncryptionContext)
	}
	for _, p := range rep.Problems {
		if p.Kind == custody.KindEncryptionContext && (p.Key != o.Key || !strings.Contains(p.Detail, "marketing")) {
			t.Fatalf("problem %+v does not name the object and the changed pair", p)
		}
	}
}

// SeaweedFS (at the version scripts/seaweed.sh builds) drops the encryption
// context of a multipart upload: CreateMultipartUpload keeps the header as
// it came (base64), and UploadPart then parses it as JSON, fails, and
// encrypts every part under its default context ({"aws:s3:arn": ...})
// instead (weed/s3api/filer_multipart.go, applyMultipartEncryptionConfig,
// against s3api_object_handlers_multipart.go, PutObjectPartHandler). The
// object is still encrypted under the configured key, but not bound to
// logkeeper's context, and verify must say so. If a newer SeaweedFS keeps
// the context, this test fails and should become part of the one above.
func TestSeaweedMultipartContextDropped(t *testing.T) {
	env, dataDir := seaweed(t)
	ctx := context.Background()
	keyID := newEncryptionKey(t)
	bucket := env.NewBucket(t, false)
	h := &harness{
		t: t, st: newS3(t, env, bucket), signer: fixedSigner(t, 1), src: t.TempDir(), stream: "multi",
		enc: &policies.Encryption{KMSKeyID: keyID, Context: map[string]string{"department": "legal"}},
	}
	marker := []byte("LOGKEEPER-MULTIPART-MARKER-c0ffee")
	writeFile(t, h.src, "big.pcap", withMarkers(randData(11<<20, 6), marker))
	res := h.export()
	o := res.Manifest.Objects[0]
	if o.Checksum.Type != "COMPOSITE" {
		t.Fatalf("11 MiB went up as %s, want a multipart upload", o.Checksum.Type)
	}
	var hdr map[string]string
	if _, err := env.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + "/" + o.Key)}, rawHeaders(&hdr)); err != nil {
		t.Fatal(err)
	}
	if hdr["x-amz-server-side-encryption"] != "aws:kms" || !strings.Contains(hdr["x-amz-server-side-encryption-aws-kms-key-id"], keyID) {
		t.Fatalf("multipart object not under SSE-KMS with key %s: %v", keyID, hdr)
	}
	if onDisk(t, dataDir, marker) {
		t.Fatalf("plaintext of the multipart object found under %s", dataDir)
	}
	raw, _ := base64.StdEncoding.DecodeString(hdr["x-amz-server-side-encryption-context"])
	var got map[string]string
	_ = json.Unmarshal(raw, &got)
	if got["logkeeper:key"] == o.Key {
		t.Fatalf("SeaweedFS now keeps the context of multipart uploads (%v): fold this test into TestSeaweedSSEKMS", got)
	}
	rep := h.verify(false)
	if !slices.Contains(kinds(rep), custody.KindEncryptionContext) {
		t.Fatalf("verify of an object stored without its context: %v, want %s", rep.Problems, custody.KindEncryptionContext)
	}
	t.Logf("SeaweedFS stored the multipart object under context %v; verify reports %d problems, e.g. %s", got, len(rep.Problems), rep.Problems[0])
}

// newEncryptionKey creates a symmetric key in the test KMS, the one
// SeaweedFS encrypts under, and returns its id.
func newEncryptionKey(t *testing.T) string {
	t.Helper()
	key, err := testenv.KMS(t).Client().CreateKey(context.Background(), &kms.CreateKeyInput{
		KeySpec: kmstypes.KeySpecSymmetricDefault, KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt,
	})
	if err != nil {
		t.Fatalf("create KMS key: %v", err)
	}
	return aws.ToString(key.KeyMetadata.KeyId)
}
