package s3store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/logkeeper/logkeeper/internal/store"
)

// KeyDescriber is the KMS call that resolves a key id or alias to the key's
// ARN (*kms.Client has it). The exporter's IAM policy grants
// kms:DescribeKey on the data key for it.
type KeyDescriber interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

// keyResolver resolves configured key references to key ARNs, once each.
type keyResolver struct {
	kms  KeyDescriber // nil: no resolving
	mu   sync.Mutex
	arns map[string]string
}

// serverKeyID returns the key a Put's object is encrypted under, as the
// server reports it: reported (from the upload's answer, or a HEAD) when the
// server named one, which must then be the requested key wherever the two strings
// can tell; otherwise the requested key's ARN (as requested when it is one
// already, else through KMS DescribeKey); "" when none of these is known.
func (r *keyResolver) serverKeyID(ctx context.Context, requested, reported string) (string, error) {
	if reported != "" {
		if match, known := store.KMSKeyRefersTo(requested, reported); known && !match {
			return "", fmt.Errorf("%w: requested KMS key %s, the server reports %s", errWrongKey, requested, reported)
		}
		return reported, nil
	}
	if requested == "" || store.IsKMSKeyARN(requested) {
		return requested, nil
	}
	if r == nil || r.kms == nil {
		return "", nil
	}
	r.mu.Lock()
	arn, ok := r.arns[requested]
	r.mu.Unlock()
	if ok {
		return arn, nil
	}
	out, err := r.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &requested})
	if err != nil {
		return "", fmt.Errorf("resolve KMS key %s (kms:DescribeKey): %w", requested, err)
	}
	if out.KeyMetadata == nil || !store.IsKMSKeyARN(aws.ToString(out.KeyMetadata.Arn)) {
		return "", fmt.Errorf("resolve KMS key %s: DescribeKey returned no key ARN", requested)
	}
	arn = aws.ToString(out.KeyMetadata.Arn)
	r.mu.Lock()
	if r.arns == nil {
		r.arns = map[string]string{}
	}
	r.arns[requested] = arn
	r.mu.Unlock()
	return arn, nil
}

// errWrongKey: the server says it encrypted under another key than the
// one requested.
var errWrongKey = errors.New("server encrypted under another KMS key")

// withServerKey fills info.SSE.ServerKMSKeyID from the key the upload's
// answer reported (nil or empty: none). Where the answer names no key (MinIO
// and SeaweedFS on multipart uploads), the server is asked with a HEAD of
// the version just stored.
func (s *Store) withServerKey(ctx context.Context, info store.ObjectInfo, reported *string) (store.ObjectInfo, error) {
	if info.SSE == nil {
		return info, nil
	}
	if aws.ToString(reported) == "" {
		full := s.fullKey(info.Key)
		out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &full, VersionId: versionParam(info.VersionID)}, s.opts()...)
		if err != nil {
			return store.ObjectInfo{}, fmt.Errorf("read back the KMS key of the stored object: %w", s.classify(err, request{fullKey: full, versionID: info.VersionID}))
		}
		if out.ServerSideEncryption == types.ServerSideEncryptionAwsKms || out.ServerSideEncryption == types.ServerSideEncryptionAwsKmsDsse {
			reported = out.SSEKMSKeyId
		}
	}
	id, err := s.keys.serverKeyID(ctx, info.SSE.KMSKeyID, aws.ToString(reported))
	if err != nil {
		return store.ObjectInfo{}, err
	}
	sse := *info.SSE
	sse.ServerKMSKeyID = id
	info.SSE = &sse
	return info, nil
}
