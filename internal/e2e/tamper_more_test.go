package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
)

// checksummedOverwriter is a tamperer that can replace an object the way a
// careful intruder would on S3: with a valid SHA-256 checksum of the new
// bytes, so the server keeps a checksum as it does for logkeeper's uploads.
type checksummedOverwriter interface {
	overwriteChecksummed(t *testing.T, key string, data []byte)
}

func (s s3Tamperer) overwriteChecksummed(t *testing.T, key string, data []byte) {
	sum := sha256.Sum256(data)
	_, err := s.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: s.full(key), Body: bytes.NewReader(data),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	})
	if err != nil {
		t.Fatalf("tamper overwrite %s: %v", key, err)
	}
}

// The filesystem store keeps no server checksum: a plain overwrite is all an
// intruder can do.
func (f fsTamperer) overwriteChecksummed(t *testing.T, key string, data []byte) {
	f.overwrite(t, key, data)
}

func overwriteChecksummed(t *testing.T, tp tamperer, key string, data []byte) {
	if co, ok := tp.(checksummedOverwriter); ok {
		co.overwriteChecksummed(t, key, data)
		return
	}
	tp.overwrite(t, key, data)
}

// Scenarios beyond the fifteen, which the matrix above covers: the
// fast verify of a changed large (multipart) object, an intruder who
// uploads with a valid SHA-256 checksum, a truncated object, and a
// signature moved from another manifest.
func init() {
	scenarios = append(scenarios,
		scenario{name: "object byte flipped, fast verify",
			tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
				k := objKey(ms, 1, "big.bin")
				b := tp.read(t, k)
				b[len(b)/3] ^= 0x80
				tp.overwrite(t, k, b)
			}},
		scenario{name: "object replaced with a valid SHA-256 checksum, fast verify",
			tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
				k := objKey(ms, 3, "b/five.log")
				overwriteChecksummed(t, tp, k, []byte("FIVE\n"))
			}},
		scenario{name: "object truncated, fast verify",
			tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
				k := objKey(ms, 1, "big.bin")
				b := tp.read(t, k)
				overwriteChecksummed(t, tp, k, b[:len(b)-1])
			}},
		scenario{name: "signature taken from another manifest",
			tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
				k1, k2 := manifest.Key(h.stream, 1), manifest.Key(h.stream, 2)
				tp.overwrite(t, manifest.SignatureKey(k2, ms[1].RunID), tp.read(t, manifest.SignatureKey(k1, ms[0].RunID)))
			}},
	)
}

// Cutting the newest manifests off the end (with their signatures) leaves a
// chain that is whole by itself: every remaining link, signature and object
// checks out, and verify can only report a shorter head. Without an anchor
// outside the store, truncation is not detectable; a checkpoint (the head
// and head_sha256 of an earlier report) is such an anchor.
func testTruncatedTail(t *testing.T, h *harness, tp tamperer, big int) {
	ms := archive(t, h, big)
	before := h.verify(false)
	if before.Head != 3 || before.HeadSHA256 == "" {
		t.Fatalf("untampered: head %d sha256 %q", before.Head, before.HeadSHA256)
	}
	k3 := manifest.Key(h.stream, 3)
	tp.remove(t, k3)
	tp.remove(t, manifest.SignatureKey(k3, ms[2].RunID))

	rep := h.verify(false)
	if len(rep.Problems) != 0 || rep.Head != 2 || rep.ManifestsValid != 2 {
		t.Fatalf("truncated chain, no checkpoint: head %d, %d manifests valid, problems %v; want head 2 and no problem (truncation is invisible without an anchor)",
			rep.Head, rep.ManifestsValid, rep.Problems)
	}
	cp := &custody.Checkpoint{Sequence: before.Head, SHA256: before.HeadSHA256}
	withCP, err := custody.Verify(context.Background(), h.st, h.stream, custody.VerifyOptions{PublicKey: h.signer.Public(), Checkpoint: cp})
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(withCP); len(got) != 1 || got[0] != custody.KindChainTruncated {
		t.Fatalf("truncated chain with the earlier checkpoint: %v, want [%s]", withCP.Problems, custody.KindChainTruncated)
	}
}

func TestTruncatedTailFS(t *testing.T) {
	root := t.TempDir()
	h := &harness{t: t, st: newFSAt(t, root), signer: fixedSigner(t, 1), src: t.TempDir(), stream: "edge"}
	testTruncatedTail(t, h, fsTamperer{root}, 1<<20)
}

func TestTruncatedTailS3(t *testing.T) {
	env := testenv.S3(t)
	for _, versioned := range []bool{false, true} {
		t.Run(map[bool]string{false: "unversioned", true: "versioned"}[versioned], func(t *testing.T) {
			bucket := env.NewBucket(t, false)
			if versioned {
				env.EnableVersioning(t, bucket)
			}
			h := &harness{t: t, st: newS3(t, env, bucket), signer: fixedSigner(t, 1), src: t.TempDir(), stream: "edge"}
			testTruncatedTail(t, h, s3Tamperer{client: env.Client(), bucket: bucket, vers: versioned}, 6<<20)
		})
	}
}
