package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
)

// envRequireMinIO makes the MinIO test fail, not skip, on another server
// (make test-minio sets it).
const envRequireMinIO = "LOGKEEPER_REQUIRE_MINIO"

// encryptingS3 returns the test S3 server when it really encrypts SSE-KMS
// (MinIO with its built-in KMS, scripts/minio.sh).
func encryptingS3(t *testing.T) testenv.S3Env {
	t.Helper()
	env := testenv.S3(t)
	if !env.Encrypts || env.DataDir == "" {
		msg := fmt.Sprintf("the S3 test server (%s) does not really encrypt SSE-KMS: run `make test-minio`", env.Server)
		if os.Getenv(envRequireMinIO) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return env
}

// The acceptance run, through the command: on MinIO with its
// built-in KMS, an export with sse_kms_key_id, an encryption context and
// Object Lock (one file over the multipart threshold among small ones)
// verifies fast and deep with exit 0; every object records the key the
// server reports, is bound to its context on the server, and is not in
// plaintext on disk. A copy re-stored under another context is caught.
func TestExportVerifyRealSSEKMS(t *testing.T) {
	env := encryptingS3(t)
	ctx := context.Background()
	bin := logkeeperBinary(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	bucket := env.NewBucket(t, true)
	const stream = "sealed"

	marker := []byte("LOGKEEPER-PLAINTEXT-MARKER-5be1d0")
	small := append(append(randData(3000, 11), marker...), randData(3000, 12)...)
	files := map[string][]byte{
		"edge/small.log":   small,
		"edge/empty.log":   {},
		"edge/sip.log":     []byte("INVITE sip:1000@edge\n"),
		"big/capture.pcap": withMarkers(randData(12<<20+321, 13), marker), // 3 parts of 5 MiB
	}
	for rel, data := range files {
		writeFile(t, src, rel, data)
	}
	keyPath := filepath.Join(dir, "key.pem")
	if out, err := exec.Command(bin, "keys", "generate", "--out", keyPath).CombinedOutput(); err != nil {
		t.Fatalf("keys generate: %v %s", err, out)
	}
	cfg := filepath.Join(dir, "lk.yaml")
	yaml := fmt.Sprintf(`store:
  url: s3://%s/%s
  path_style: true
  part_size_mib: 5
  sse_kms_key_id: %s
  encryption_context:
    department: legal
  object_lock:
    mode: COMPLIANCE
    retain_days: 1
signing:
  key: file://%s
streams:
  - name: %s
    source: {type: dir, path: %s}
`, bucket, prefix, env.SSEKey, keyPath, stream, src)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = cliEnv(env)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0, out.String()
		case errors.As(err, &ee):
			return ee.ExitCode(), out.String()
		}
		t.Fatalf("%v: %v", args, err)
		return -1, ""
	}
	if code, out := run("export", "-c", cfg, "--stream", stream, "--json"); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	for _, deep := range []bool{false, true} {
		args := []string{"verify", "-c", cfg, "--stream", stream, "--json"}
		if deep {
			args = append(args, "--deep")
		}
		code, out := run(args...)
		if code != 0 {
			t.Fatalf("verify deep=%v: exit %d\n%s", deep, code, out)
		}
		var rep struct {
			ObjectsValid int               `json:"objects_valid"`
			Problems     []json.RawMessage `json:"problems"`
		}
		if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &rep); err != nil {
			t.Fatalf("verify --json: %v\n%s", err, out)
		}
		if rep.ObjectsValid != len(files) || len(rep.Problems) != 0 {
			t.Fatalf("verify deep=%v: %d objects valid, problems %s", deep, rep.ObjectsValid, rep.Problems)
		}
	}

	st := newS3(t, env, bucket)
	m := readManifest(t, st, stream, 1)
	if len(m.Objects) != len(files) {
		t.Fatalf("manifest has %d objects, want %d", len(m.Objects), len(files))
	}
	client := env.Client()
	var multipart int
	for _, o := range m.Objects {
		if o.Checksum.Type == manifest.ChecksumComposite {
			multipart++
		}
		// Recorded: the configured key and, beside it, the key as the
		// server reports it, which is what HEAD says now.
		var hdr map[string]string
		head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + "/" + o.Key), VersionId: aws.String(o.VersionID)}, rawHeaders(&hdr))
		if err != nil {
			t.Fatal(err)
		}
		if o.SSE == nil || o.SSE.KMSKeyID != env.SSEKey || o.SSE.ServerKMSKeyID == "" {
			t.Fatalf("%s: recorded SSE %+v, want the configured key %s and the server's", o.Key, o.SSE, env.SSEKey)
		}
		if head.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(head.SSEKMSKeyId) != o.SSE.ServerKMSKeyID {
			t.Fatalf("%s: server reports %s key %q, recorded server key %q", o.Key, head.ServerSideEncryption, aws.ToString(head.SSEKMSKeyId), o.SSE.ServerKMSKeyID)
		}
		if match, known := store.KMSKeyRefersTo(env.SSEKey, o.SSE.ServerKMSKeyID); !match || !known {
			t.Fatalf("%s: the server's key %q is not the configured %q", o.Key, o.SSE.ServerKMSKeyID, env.SSEKey)
		}
		// The context on the server is logkeeper's, for multipart objects too.
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
				t.Fatalf("%s (%s): server context %v lacks %s=%q", o.Key, o.Checksum.Type, got, k, v)
			}
		}
		if got["logkeeper:key"] != o.Key || got["department"] != "legal" {
			t.Fatalf("%s: server context %v", o.Key, got)
		}
		// Object Lock as configured, on the server.
		if head.ObjectLockMode != s3types.ObjectLockModeCompliance || head.ObjectLockRetainUntilDate == nil || head.ObjectLockRetainUntilDate.Before(time.Now().Add(23*time.Hour)) {
			t.Fatalf("%s: object lock %q until %v", o.Key, head.ObjectLockMode, head.ObjectLockRetainUntilDate)
		}
	}
	if multipart != 1 {
		t.Fatalf("%d multipart objects, want 1 (the 12 MiB file)", multipart)
	}

	// Nothing in plaintext on disk; an unencrypted control object is found.
	control := []byte("LOGKEEPER-CONTROL-MARKER-8d41aa")
	ctl := append(append(randData(3000, 14), control...), randData(3000, 15)...)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("control.bin"), Body: bytes.NewReader(ctl)}); err != nil {
		t.Fatal(err)
	}
	if !onDisk(t, env.DataDir, control) {
		t.Fatalf("the unencrypted control object is not found in plaintext under %s: the search sees nothing", env.DataDir)
	}
	if onDisk(t, env.DataDir, marker) {
		t.Fatalf("plaintext of an archived object found under %s: not encrypted at rest", env.DataDir)
	}

	// The same bytes stored again (a new version) under another context:
	// size and checksum match, the context does not.
	o := m.Objects[0]
	for _, c := range m.Objects {
		if c.Source.Path == "edge/small.log" {
			o = c
		}
	}
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
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(env.SSEKey),
		SSEKMSEncryptionContext: aws.String(base64.StdEncoding.EncodeToString(fj)),
	}); err != nil {
		t.Fatal(err)
	}
	code, out := run("verify", "-c", cfg, "--stream", stream)
	if code != 1 || !strings.Contains(out, custody.KindObjectSuperseded+" "+o.Key) {
		t.Fatalf("verify after a new version was stored: exit %d, want 1 with %s\n%s", code, custody.KindObjectSuperseded, out)
	}
}

// readManifest reads and parses manifest seq of stream.
func readManifest(t *testing.T, st store.Store, stream string, seq uint64) *manifest.Manifest {
	t.Helper()
	rc, _, err := st.Get(context.Background(), manifest.Key(stream, seq), store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return m
}
