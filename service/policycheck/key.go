package policycheck

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/policies"
)

// sameKey reports whether the configured key reference and a key as a
// server reports it (in a bucket's default encryption or policy) name the
// same key. It compares the strings the way verify does
// (store.KMSKeyRefersTo: a key id against a key ARN, MinIO's
// arn:aws:kms:NAME); where the strings cannot tell (an alias), both are
// resolved to key ARNs with KMS DescribeKey. known is false when they
// cannot be resolved (no KMS, or KMS does not say).
func (c *checker) sameKey(ctx context.Context, configured, reported string) (same, known bool, err error) {
	if same, known := store.KMSKeyRefersTo(configured, reported); known {
		return same, true, nil
	}
	a, err := c.resolve(ctx, configured)
	if err != nil || a == "" {
		return false, false, err
	}
	b, err := c.resolve(ctx, reported)
	if err != nil || b == "" {
		return false, false, err
	}
	return a == b, true, nil
}

// resolve returns the ARN of a key reference through DescribeKey; "" when
// there is no KMS client or KMS does not say. Only an unreachable KMS is
// an error.
func (c *checker) resolve(ctx context.Context, ref string) (string, error) {
	if store.IsKMSKeyARN(ref) {
		return ref, nil
	}
	if c.kms == nil {
		return "", nil
	}
	out, err := c.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &ref})
	if o, _, fatal := answer("kms:DescribeKey", err); fatal != nil {
		return "", fatal
	} else if o != answered || out.KeyMetadata == nil {
		return "", nil
	}
	return aws.ToString(out.KeyMetadata.Arn), nil
}

// key runs the checks of the configured data key: rotation, and the key
// policy's conditions on the encryption context of storeURL (the
// logkeeper:store value of every object's context).
func (c *checker) key(ctx context.Context, storeURL string) error {
	key := c.cfg.Store.SSEKMSKeyID
	if key == "" {
		c.add(CheckKeyRotation, StatusFail, "store.sse_kms_key_id is not set: objects are not encrypted under a key logkeeper names", noKeyFix)
		c.add(CheckKeyPolicyContext, StatusFail, "store.sse_kms_key_id is not set: objects carry no encryption context a key policy can require", noKeyFix)
		return nil
	}
	rotFix := fmt.Sprintf("aws kms enable-key-rotation --key-id %s", key)
	polFix := fmt.Sprintf("logkeeper policy render -c FILE --kind kms > kms.json && aws kms put-key-policy --key-id %s --policy-name default --policy file://kms.json", key)
	// The key's ARN: GetKeyRotationStatus and GetKeyPolicy take no alias.
	out, err := c.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &key})
	o, why, fatal := answer("kms:DescribeKey", err, "NotFoundException")
	switch {
	case fatal != nil:
		return fatal
	case o == absent:
		c.add(CheckKeyRotation, StatusFail, fmt.Sprintf("KMS key %s does not exist", key), noKeyFix)
		c.add(CheckKeyPolicyContext, StatusFail, fmt.Sprintf("KMS key %s does not exist", key), noKeyFix)
		return nil
	case o == silent || out.KeyMetadata == nil || aws.ToString(out.KeyMetadata.Arn) == "":
		if why == "" {
			why = "kms:DescribeKey named no key ARN"
		}
		c.add(CheckKeyRotation, StatusUnknown, why, rotFix)
		c.add(CheckKeyPolicyContext, StatusUnknown, why, polFix)
		return nil
	}
	arn := aws.ToString(out.KeyMetadata.Arn)
	rotFix = fmt.Sprintf("aws kms enable-key-rotation --key-id %s", arn)
	polFix = strings.Replace(polFix, key, arn, 1)

	rot, err := c.kms.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: &arn})
	o, why, fatal = answer("kms:GetKeyRotationStatus", err)
	switch {
	case fatal != nil:
		return fatal
	case o == silent:
		c.add(CheckKeyRotation, StatusUnknown, why, rotFix)
	case rot.KeyRotationEnabled:
		c.add(CheckKeyRotation, StatusPass, fmt.Sprintf("KMS key %s: automatic rotation enabled", arn), "")
	default:
		c.add(CheckKeyRotation, StatusFail, fmt.Sprintf("KMS key %s: automatic rotation is off", arn), rotFix)
	}

	pol, err := c.kms.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: &arn, PolicyName: aws.String("default")})
	o, why, fatal = answer("kms:GetKeyPolicy", err)
	switch {
	case fatal != nil:
		return fatal
	case o == silent:
		c.add(CheckKeyPolicyContext, StatusUnknown, why, polFix)
		return nil
	}
	f, err := policies.AnalyzeKeyPolicy([]byte(aws.ToString(pol.Policy)), storeURL)
	switch {
	case err != nil:
		c.add(CheckKeyPolicyContext, StatusFail, fmt.Sprintf("KMS key %s: the key policy cannot be read: %v", arn, err), polFix)
	case f.DeniesOtherContexts:
		c.add(CheckKeyPolicyContext, StatusPass, fmt.Sprintf("KMS key %s: every use outside encryption context %s=%s is denied", arn, policies.ContextStore, storeURL), "")
	default:
		detail := fmt.Sprintf("KMS key %s: no statement denies use outside encryption context %s=%s", arn, policies.ContextStore, storeURL)
		if len(f.UnconditionedAllows) > 0 {
			detail += "; " + strings.Join(f.UnconditionedAllows, ", ") + " allow use with any context"
		} else if len(f.ConditionedAllows) > 0 {
			detail += "; " + strings.Join(f.ConditionedAllows, ", ") + " allow use only with it, but IAM policies may allow any other"
		}
		c.add(CheckKeyPolicyContext, StatusFail, detail, polFix)
	}
	return nil
}
