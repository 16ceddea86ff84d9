package policycheck

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/logkeeper/logkeeper/policies"
)

// Error codes with which S3 says a bucket setting is not there.
const (
	codeNoObjectLock    = "ObjectLockConfigurationNotFoundError"
	codeNoEncryption    = "ServerSideEncryptionConfigurationNotFoundError"
	codeNoPublicBlock   = "NoSuchPublicAccessBlockConfiguration"
	codeNoBucketPolicy  = "NoSuchBucketPolicy"
	renderBucketCommand = "logkeeper policy render -c FILE --kind bucket > bucket.json && aws s3api put-bucket-policy --bucket %s --policy file://bucket.json"
)

// bucket runs the checks of the store's bucket.
func (c *checker) bucket(ctx context.Context, b Bucket) error {
	name := b.Bucket()
	if err := c.versioning(ctx, b, name); err != nil {
		return err
	}
	if err := c.objectLock(ctx, b, name); err != nil {
		return err
	}
	if err := c.encryption(ctx, b, name); err != nil {
		return err
	}
	if err := c.publicAccess(ctx, b, name); err != nil {
		return err
	}
	return c.bucketPolicy(ctx, b, name)
}

func (c *checker) versioning(ctx context.Context, b Bucket, name string) error {
	fix := fmt.Sprintf("aws s3api put-bucket-versioning --bucket %s --versioning-configuration Status=Enabled", name)
	out, err := b.BucketVersioning(ctx)
	o, why, fatal := answer("GetBucketVersioning", err)
	switch {
	case fatal != nil:
		return fatal
	case o == silent:
		c.add(CheckVersioning, StatusUnknown, why, fix)
	case out.Status == types.BucketVersioningStatusEnabled:
		c.add(CheckVersioning, StatusPass, fmt.Sprintf("bucket %s: versioning enabled", name), "")
	case out.Status == "":
		c.add(CheckVersioning, StatusFail, fmt.Sprintf("bucket %s: versioning was never enabled: an overwrite or delete loses the archived bytes", name), fix)
	default:
		c.add(CheckVersioning, StatusFail, fmt.Sprintf("bucket %s: versioning is %s", name, out.Status), fix)
	}
	return nil
}

// objectLock checks that Object Lock is enabled and that the default
// retention is absent or what store.object_lock stamps on every object.
func (c *checker) objectLock(ctx context.Context, b Bucket, name string) error {
	fix := fmt.Sprintf("aws s3api put-object-lock-configuration --bucket %s --object-lock-configuration ObjectLockEnabled=Enabled (versioning first)", name)
	out, err := b.BucketObjectLock(ctx)
	o, why, fatal := answer("GetObjectLockConfiguration", err, codeNoObjectLock)
	if fatal != nil {
		return fatal
	}
	var conf *types.ObjectLockConfiguration
	if o == answered {
		conf = out.ObjectLockConfiguration
	}
	enabled := conf != nil && conf.ObjectLockEnabled == types.ObjectLockEnabledEnabled
	switch {
	case o == silent:
		c.add(CheckObjectLock, StatusUnknown, why, fix)
	case enabled && !c.cfg.Store.ObjectLock.Enabled() && (conf.Rule == nil || conf.Rule.DefaultRetention == nil):
		c.add(CheckObjectLock, StatusFail, fmt.Sprintf("bucket %s: Object Lock enabled, but nothing locks the objects: store.object_lock is not set and the bucket has no default retention", name),
			"set store.object_lock (mode: COMPLIANCE, retain_days: N) so every object is stamped with its retention")
	case enabled && c.cfg.Store.ObjectLock.Enabled():
		c.add(CheckObjectLock, StatusPass, fmt.Sprintf("bucket %s: Object Lock enabled; every object is stamped %s for %s (store.object_lock)", name, c.cfg.Store.ObjectLock.Mode, plural(c.cfg.Store.ObjectLock.RetainDays, "day")), "")
	case enabled:
		c.add(CheckObjectLock, StatusPass, fmt.Sprintf("bucket %s: Object Lock enabled; objects are locked by the bucket's default retention", name), "")
	default:
		detail := fmt.Sprintf("bucket %s: Object Lock is not enabled: archived objects can be deleted", name)
		if c.cfg.Store.ObjectLock.Enabled() {
			detail += " (and store.object_lock's retention cannot be stamped: exports fail)"
		}
		c.add(CheckObjectLock, StatusFail, detail, fix)
	}

	// The default retention.
	noDefault := fmt.Sprintf("aws s3api put-object-lock-configuration --bucket %s --object-lock-configuration ObjectLockEnabled=Enabled (no default retention; store.object_lock sets each object's)", name)
	var rule *types.DefaultRetention
	if enabled && conf.Rule != nil {
		rule = conf.Rule.DefaultRetention
	}
	want := c.cfg.Store.ObjectLock
	switch {
	case o == silent:
		c.add(CheckDefaultRetention, StatusUnknown, why, noDefault)
	case rule == nil && !enabled:
		c.add(CheckDefaultRetention, StatusPass, fmt.Sprintf("bucket %s: no default retention (no Object Lock: see %s)", name, CheckObjectLock), "")
	case rule == nil:
		c.add(CheckDefaultRetention, StatusPass, fmt.Sprintf("bucket %s: no default retention (logkeeper stamps each object's retention from store.object_lock)", name), "")
	case want.Enabled() && string(rule.Mode) == want.Mode && retentionDays(rule) == want.RetainDays:
		c.add(CheckDefaultRetention, StatusPass, fmt.Sprintf("bucket %s: default retention %s %s, as store.object_lock (every lease renewal under _leases/ is locked as long: see docs/daemon.md)",
			name, rule.Mode, describeRetention(rule)), "")
	case want.Enabled():
		c.add(CheckDefaultRetention, StatusFail, fmt.Sprintf("bucket %s: default retention %s %s, store.object_lock says %s %s",
			name, rule.Mode, describeRetention(rule), want.Mode, plural(want.RetainDays, "day")), noDefault)
	default:
		c.add(CheckDefaultRetention, StatusFail, fmt.Sprintf("bucket %s: default retention %s %s while store.object_lock is not set: every lease renewal is locked for that long",
			name, rule.Mode, describeRetention(rule)), noDefault)
	}
	return nil
}

// retentionDays is a default retention's period in days (a year counted
// as 365 days).
func retentionDays(r *types.DefaultRetention) int {
	return int(aws.ToInt32(r.Days)) + 365*int(aws.ToInt32(r.Years))
}

func describeRetention(r *types.DefaultRetention) string {
	if r.Years != nil {
		return plural(int(aws.ToInt32(r.Years)), "year")
	}
	return plural(int(aws.ToInt32(r.Days)), "day")
}

// plural is "1 day", "2 days".
func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// encryption checks the bucket's default encryption: SSE-KMS under the
// configured key.
func (c *checker) encryption(ctx context.Context, b Bucket, name string) error {
	key := c.cfg.Store.SSEKMSKeyID
	fix := fmt.Sprintf("aws s3api put-bucket-encryption --bucket %s --server-side-encryption-configuration '{\"Rules\":[{\"ApplyServerSideEncryptionByDefault\":{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":\"%s\"},\"BucketKeyEnabled\":false}]}'", name, keyOrPlaceholder(key))
	out, err := b.BucketEncryption(ctx)
	o, why, fatal := answer("GetBucketEncryption", err, codeNoEncryption)
	if fatal != nil {
		return fatal
	}
	if o == silent {
		c.add(CheckDefaultEncryption, StatusUnknown, why, fix)
		return nil
	}
	var def *types.ServerSideEncryptionByDefault
	if o == answered && out.ServerSideEncryptionConfiguration != nil {
		for _, r := range out.ServerSideEncryptionConfiguration.Rules {
			if r.ApplyServerSideEncryptionByDefault != nil {
				def = r.ApplyServerSideEncryptionByDefault
				break
			}
		}
	}
	switch {
	case def == nil:
		c.add(CheckDefaultEncryption, StatusFail, fmt.Sprintf("bucket %s: no default encryption", name), fix)
		return nil
	case def.SSEAlgorithm != types.ServerSideEncryptionAwsKms && def.SSEAlgorithm != types.ServerSideEncryptionAwsKmsDsse:
		c.add(CheckDefaultEncryption, StatusFail, fmt.Sprintf("bucket %s: default encryption %s, not SSE-KMS", name, def.SSEAlgorithm), fix)
		return nil
	case key == "":
		c.add(CheckDefaultEncryption, StatusFail, fmt.Sprintf("bucket %s: default encryption %s with %s, but store.sse_kms_key_id is not set: no key to compare", name, def.SSEAlgorithm, orDefault(aws.ToString(def.KMSMasterKeyID))), noKeyFix)
		return nil
	case aws.ToString(def.KMSMasterKeyID) == "":
		c.add(CheckDefaultEncryption, StatusFail, fmt.Sprintf("bucket %s: default encryption %s under the AWS managed key aws/s3, not %s", name, def.SSEAlgorithm, key), fix)
		return nil
	}
	reported := aws.ToString(def.KMSMasterKeyID)
	same, known, err := c.sameKey(ctx, key, reported)
	switch {
	case err != nil:
		return err
	case !known:
		c.add(CheckDefaultEncryption, StatusUnknown, fmt.Sprintf("bucket %s: default encryption %s with %s; whether that is %s only KMS can tell (no KMS answer)", name, def.SSEAlgorithm, reported, key), fix)
	case same:
		c.add(CheckDefaultEncryption, StatusPass, fmt.Sprintf("bucket %s: default encryption %s with %s (store.sse_kms_key_id %s)", name, def.SSEAlgorithm, reported, key), "")
	default:
		c.add(CheckDefaultEncryption, StatusFail, fmt.Sprintf("bucket %s: default encryption %s with %s, not store.sse_kms_key_id %s", name, def.SSEAlgorithm, reported, key), fix)
	}
	return nil
}

const noKeyFix = "set store.sse_kms_key_id to the archive's KMS key ARN"

func keyOrPlaceholder(key string) string {
	if key == "" {
		return "KEY-ARN"
	}
	return key
}

func orDefault(key string) string {
	if key == "" {
		return "the AWS managed key aws/s3"
	}
	return key
}

func (c *checker) publicAccess(ctx context.Context, b Bucket, name string) error {
	fix := fmt.Sprintf("aws s3api put-public-access-block --bucket %s --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true", name)
	out, err := b.BucketPublicAccessBlock(ctx)
	o, why, fatal := answer("GetPublicAccessBlock", err, codeNoPublicBlock)
	switch {
	case fatal != nil:
		return fatal
	case o == silent:
		c.add(CheckPublicAccessBlock, StatusUnknown, why, fix)
		return nil
	case o == absent || out.PublicAccessBlockConfiguration == nil:
		c.add(CheckPublicAccessBlock, StatusFail, fmt.Sprintf("bucket %s: no public access block", name), fix)
		return nil
	}
	p := out.PublicAccessBlockConfiguration
	var off []string
	for _, s := range []struct {
		name string
		on   *bool
	}{{"BlockPublicAcls", p.BlockPublicAcls}, {"IgnorePublicAcls", p.IgnorePublicAcls}, {"BlockPublicPolicy", p.BlockPublicPolicy}, {"RestrictPublicBuckets", p.RestrictPublicBuckets}} {
		if !aws.ToBool(s.on) {
			off = append(off, s.name)
		}
	}
	if len(off) > 0 {
		c.add(CheckPublicAccessBlock, StatusFail, fmt.Sprintf("bucket %s: public access block has %s off", name, strings.Join(off, ", ")), fix)
		return nil
	}
	c.add(CheckPublicAccessBlock, StatusPass, fmt.Sprintf("bucket %s: public access blocked (all four settings on)", name), "")
	return nil
}

// bucketPolicy checks the bucket policy for the three denials
// policies.BucketPolicy renders.
func (c *checker) bucketPolicy(ctx context.Context, b Bucket, name string) error {
	fix := fmt.Sprintf(renderBucketCommand, name)
	out, err := b.BucketPolicy(ctx)
	o, why, fatal := answer("GetBucketPolicy", err, codeNoBucketPolicy)
	if fatal != nil {
		return fatal
	}
	names := []string{CheckPolicyTLS, CheckPolicyUnencrypted, CheckPolicyOtherKey}
	switch o {
	case silent:
		for _, n := range names {
			c.add(n, StatusUnknown, why, fix)
		}
		return nil
	case absent:
		for _, n := range names {
			c.add(n, StatusFail, fmt.Sprintf("bucket %s: no bucket policy", name), fix)
		}
		return nil
	}
	f, err := policies.AnalyzeBucketPolicy([]byte(aws.ToString(out.Policy)), name, b.Prefix())
	if err != nil {
		for _, n := range names {
			c.add(n, StatusFail, fmt.Sprintf("bucket %s: the bucket policy cannot be read: %v", name, err), fix)
		}
		return nil
	}
	if f.DeniesInsecureTransport {
		c.add(CheckPolicyTLS, StatusPass, fmt.Sprintf("bucket %s: every request without TLS is denied (aws:SecureTransport false)", name), "")
	} else {
		c.add(CheckPolicyTLS, StatusFail, fmt.Sprintf("bucket %s: no statement denies every request without TLS on the bucket and its objects (Deny, Principal *, s3:*, Bool aws:SecureTransport false)", name), fix)
	}
	if f.DeniesUnencryptedPuts {
		c.add(CheckPolicyUnencrypted, StatusPass, fmt.Sprintf("bucket %s: puts asking for another encryption than SSE-KMS are denied (%s)", name, f.UnencryptedHow), "")
	} else {
		c.add(CheckPolicyUnencrypted, StatusFail, fmt.Sprintf("bucket %s: no statement denies puts without SSE-KMS (Deny, Principal *, s3:PutObject, StringNotEqualsIfExists s3:x-amz-server-side-encryption aws:kms)", name), fix)
	}
	return c.policyKeys(ctx, name, f.AllowedKMSKeys, fix)
}

// policyKeys checks that the bucket policy lets a put name the configured
// key and no other.
func (c *checker) policyKeys(ctx context.Context, name string, allowed []string, fix string) error {
	key := c.cfg.Store.SSEKMSKeyID
	switch {
	case key == "":
		c.add(CheckPolicyOtherKey, StatusFail, "store.sse_kms_key_id is not set: no key to require", noKeyFix)
		return nil
	case allowed == nil:
		c.add(CheckPolicyOtherKey, StatusFail, fmt.Sprintf("bucket %s: no statement denies puts that name another KMS key (s3:x-amz-server-side-encryption-aws-kms-key-id)", name), fix)
		return nil
	case len(allowed) == 0:
		c.add(CheckPolicyOtherKey, StatusFail, fmt.Sprintf("bucket %s: the policy denies puts under every KMS key, %s too", name, key), fix)
		return nil
	}
	unknown := false
	for _, a := range allowed {
		same, known, err := c.sameKey(ctx, key, a)
		if err != nil {
			return err
		}
		if known && !same {
			c.add(CheckPolicyOtherKey, StatusFail, fmt.Sprintf("bucket %s: the policy lets puts name KMS key %s, not only store.sse_kms_key_id %s", name, a, key), fix)
			return nil
		}
		unknown = unknown || !known
	}
	if unknown {
		c.add(CheckPolicyOtherKey, StatusUnknown, fmt.Sprintf("bucket %s: the policy allows KMS keys %s; whether that is %s only KMS can tell (no KMS answer)", name, strings.Join(allowed, ", "), key), fix)
		return nil
	}
	c.add(CheckPolicyOtherKey, StatusPass, fmt.Sprintf("bucket %s: puts that name another KMS key than %s are denied", name, strings.Join(allowed, ", ")), "")
	return nil
}
