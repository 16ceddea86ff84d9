package policycheck

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/signing/signers"
	"github.com/logkeeper/logkeeper/policies"
)

// Kinds of policy Render writes.
const (
	KindBucket = "bucket"
	KindKMS    = "kms"
	KindIAM    = "iam"
)

// ErrNotApplicable: the configuration has nothing to render that kind of
// policy for (a file store, no KMS key). A usage error.
var ErrNotApplicable = errors.New("not applicable")

// RenderOptions are the inputs of a policy that the configuration does not
// hold.
type RenderOptions struct {
	// Principals are the IAM principal ARNs (the exporter's role) the KMS
	// key policy allows to use the key through S3.
	Principals []string
	// KMS resolves key aliases and ids to ARNs (DescribeKey); nil: a client
	// from the AWS SDK's default chain, made only when a key needs it.
	KMS KMS
}

// Render returns the policy of kind (KindBucket, KindKMS or KindIAM) for
// the configured store and keys, as JSON to apply with one's own tooling:
// the bucket policy policy check looks for, the data key's key policy,
// the exporter's IAM policy. Keys configured as an alias or id are
// resolved to their ARN with KMS DescribeKey (policies name keys by ARN).
func Render(ctx context.Context, cfg *config.Config, kind string, o RenderOptions) ([]byte, error) {
	if kind != KindBucket && kind != KindKMS && kind != KindIAM {
		return nil, fmt.Errorf("%w: kind %q: must be %s, %s or %s", ErrNotApplicable, kind, KindBucket, KindKMS, KindIAM)
	}
	s := cfg.Store
	if s.Scheme != config.SchemeS3 {
		return nil, fmt.Errorf("%w: store.url %s is a folder: there is no bucket, key or IAM policy to render", ErrNotApplicable, s.URL)
	}
	r := &resolver{kms: o.KMS}
	dataKey, err := r.arn(ctx, s.SSEKMSKeyID, "store.sse_kms_key_id")
	if err != nil {
		return nil, err
	}
	var out []byte
	switch kind {
	case KindBucket:
		out, err = policies.BucketPolicy{Bucket: s.Bucket, DataKeyARN: dataKey}.Render()
	case KindKMS:
		if dataKey == "" {
			return nil, fmt.Errorf("%w: store.sse_kms_key_id is not set: there is no data key", ErrNotApplicable)
		}
		out, err = policies.KeyPolicy{KeyARN: dataKey, Stores: []string{storeURL(s)}, Region: region(dataKey), Exporters: o.Principals}.Render()
	case KindIAM:
		var signing string
		if cfg.Signing.KeyScheme != config.KeySchemeFile {
			ref, _ := strings.CutPrefix(cfg.Signing.Key, "awskms://")
			if signing, err = r.arn(ctx, ref, "signing.key"); err != nil {
				return nil, err
			}
		}
		out, err = policies.ExporterPolicy{Bucket: s.Bucket, Prefix: s.Prefix, Region: region(dataKey), DataKeyARN: dataKey, SigningKeyARN: signing}.Render()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotApplicable, err)
	}
	return out, nil
}

// storeURL is the logkeeper:store value of the store's encryption
// context (the store's Describe: s3://BUCKET or s3://BUCKET/PREFIX).
func storeURL(s config.Store) string {
	if s.Prefix == "" {
		return "s3://" + s.Bucket
	}
	return "s3://" + s.Bucket + "/" + s.Prefix
}

// region is the region of a key ARN (arn:aws:kms:REGION:...), "" if none.
func region(arn string) string {
	p := strings.SplitN(arn, ":", 6)
	if len(p) == 6 {
		return p[3]
	}
	return ""
}

type resolver struct{ kms KMS }

// arn resolves a configured key reference (key names the setting) to its
// ARN; "" for an empty reference.
func (r *resolver) arn(ctx context.Context, ref, key string) (string, error) {
	if ref == "" || policies.ValidKeyARN(ref) {
		return ref, nil
	}
	if r.kms == nil {
		k, err := signers.DefaultKMSClient(ctx)
		if err != nil {
			return "", fmt.Errorf("%w: %s %s: kms client: %w", ErrUnreachable, key, ref, err)
		}
		r.kms = k
	}
	c := &checker{kms: r.kms}
	arn, err := c.resolve(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("%w: %s %s: %w", ErrUnreachable, key, ref, err)
	}
	if !policies.ValidKeyARN(arn) {
		return "", fmt.Errorf("%w: %s %s: KMS did not name the key's ARN (DescribeKey)", ErrNotApplicable, key, ref)
	}
	return arn, nil
}
