package policies

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Condition keys of the bucket policy.
const (
	condSecureTransport = "aws:SecureTransport"
	condSSE             = "s3:x-amz-server-side-encryption"
	condSSEKMSKeyID     = "s3:x-amz-server-side-encryption-aws-kms-key-id"
)

// BucketPolicy describes the bucket policy the archive's bucket should
// carry: deny to everyone, whoever they are, what logkeeper's guarantees
// rule out. Bucket is required.
type BucketPolicy struct {
	// Bucket is the store's bucket (store.url s3://BUCKET/PREFIX).
	Bucket string
	// DataKeyARN is the KMS key ARN of store.sse_kms_key_id. Empty: no
	// statement on the KMS key (puts must still be SSE-KMS).
	DataKeyARN string
}

// Statement ids of the rendered bucket policy.
const (
	SidDenyInsecureTransport = "DenyInsecureTransport"
	SidDenyUnencryptedPuts   = "DenyPutsWithoutSSEKMS"
	SidDenyOtherKMSKeys      = "DenyPutsWithOtherKMSKey"
)

// bucketStatement is a statement of a rendered bucket policy.
type bucketStatement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Principal string                    `json:"Principal"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition"`
}

// Render returns the bucket policy as indented JSON, three Deny
// statements for every principal (the bucket owner included):
//
//   - any S3 request over plain HTTP (aws:SecureTransport false), on the
//     bucket and its objects;
//   - a PutObject that asks for another encryption than SSE-KMS
//     (s3:x-amz-server-side-encryption other than aws:kms);
//   - with DataKeyARN, a PutObject that names another KMS key
//     (s3:x-amz-server-side-encryption-aws-kms-key-id other than the
//     key's ARN). logkeeper names the configured key on every upload of
//     an object, manifest or lease; give store.sse_kms_key_id as the key's
//     ARN so the header matches.
//
// A put that names no encryption (IfExists) gets the bucket's default
// encryption, which the policy check requires to be SSE-KMS with the
// configured key: logkeeper writes checkpoints, hold records and custody
// events without SSE headers, so denying those puts would stop its runs.
// Either way nothing is stored unencrypted or under another key. A Deny in
// a bucket policy overrides every Allow, so these hold whatever IAM
// policies grant.
func (p BucketPolicy) Render() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	bucketARN := "arn:aws:s3:::" + p.Bucket
	doc := struct {
		Version   string            `json:"Version"`
		Statement []bucketStatement `json:"Statement"`
	}{Version: "2012-10-17", Statement: []bucketStatement{
		{
			Sid: SidDenyInsecureTransport, Effect: "Deny", Principal: "*",
			Action:    []string{"s3:*"},
			Resource:  []string{bucketARN, bucketARN + "/*"},
			Condition: map[string]map[string]any{"Bool": {condSecureTransport: "false"}},
		},
		{
			Sid: SidDenyUnencryptedPuts, Effect: "Deny", Principal: "*",
			Action:    []string{"s3:PutObject"},
			Resource:  []string{bucketARN + "/*"},
			Condition: map[string]map[string]any{"StringNotEqualsIfExists": {condSSE: "aws:kms"}},
		},
	}}
	if p.DataKeyARN != "" {
		doc.Statement = append(doc.Statement, bucketStatement{
			Sid: SidDenyOtherKMSKeys, Effect: "Deny", Principal: "*",
			Action:    []string{"s3:PutObject"},
			Resource:  []string{bucketARN + "/*"},
			Condition: map[string]map[string]any{"StringNotEqualsIfExists": {condSSEKMSKeyID: p.DataKeyARN}},
		})
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func (p BucketPolicy) validate() error {
	var errs []error
	if p.Bucket == "" || strings.ContainsAny(p.Bucket, "/*?\"") {
		errs = append(errs, fmt.Errorf("bucket %q: must be a bucket name", p.Bucket))
	}
	if p.DataKeyARN != "" && !isKeyARN(p.DataKeyARN) {
		errs = append(errs, fmt.Errorf("data key %q: must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias or id", p.DataKeyARN))
	}
	return errors.Join(errs...)
}

// ValidKeyARN reports whether s is a KMS key ARN
// (arn:aws:kms:REGION:ACCOUNT:key/ID) in the characters ARNs use: no
// wildcard, quote, space or control character. The generators take only
// such ARNs.
func ValidKeyARN(s string) bool { return isKeyARN(s) }

func isKeyARN(s string) bool {
	p := strings.SplitN(s, ":", 6)
	return len(p) == 6 && p[0] == "arn" && strings.HasPrefix(p[1], "aws") && p[2] == "kms" &&
		strings.HasPrefix(p[5], "key/") && len(p[5]) > len("key/") && plainARN(s)
}

// plainARN reports whether s holds only the characters of ARNs and IAM
// names (letters, digits and :/_+=,.@-).
func plainARN(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":/_+=,.@-", r)) {
			return false
		}
	}
	return s != ""
}

// BucketPolicyFindings is what a bucket policy document denies, as far as
// the policy check needs it. A statement counts only when it is a Deny for
// every principal ("*"), names the action (or a wildcard covering it) and
// the resource, and has exactly the one condition that makes it what it
// is: an extra condition (a source address, say) narrows a Deny, so it no
// longer holds for every request.
type BucketPolicyFindings struct {
	// DeniesInsecureTransport: every S3 action on the bucket and its
	// objects is denied when aws:SecureTransport is false.
	DeniesInsecureTransport bool
	// DeniesUnencryptedPuts: a PutObject that asks for another encryption
	// than SSE-KMS is denied (StringNotEquals or StringNotEqualsIfExists
	// s3:x-amz-server-side-encryption aws:kms, or aws:kms:dsse), or one
	// that asks for none (Null s3:x-amz-server-side-encryption true). A
	// put that names none gets the bucket's default encryption, checked
	// on its own.
	DeniesUnencryptedPuts bool
	// UnencryptedHow is the condition that does it, for the report.
	UnencryptedHow string
	// AllowedKMSKeys are the KMS keys a PutObject may name, from a Deny
	// with StringNotEquals(IfExists) on
	// s3:x-amz-server-side-encryption-aws-kms-key-id; nil when no
	// statement restricts the key.
	AllowedKMSKeys []string
}

// AnalyzeBucketPolicy reads a bucket policy document of bucket, for the
// objects under prefix (empty: the whole bucket).
func AnalyzeBucketPolicy(raw []byte, bucket, prefix string) (BucketPolicyFindings, error) {
	doc, err := parseDocument(raw)
	if err != nil {
		return BucketPolicyFindings{}, err
	}
	bucketARN := "arn:aws:s3:::" + bucket
	objects := bucketARN + "/*"
	if p := strings.Trim(prefix, "/"); p != "" {
		objects = bucketARN + "/" + p + "/*"
	}
	var f BucketPolicyFindings
	for _, s := range doc.Statement {
		if s.Effect != "Deny" || !s.everyone() || conditionCount(s.Condition) != 1 {
			continue
		}
		if v, ok := conditionValues(s.Condition, "Bool", condSecureTransport); ok && slices.Equal(v, []string{"false"}) &&
			s.coversAction("s3:GetObject") && s.coversAction("s3:PutObject") && s.coversAction("s3:ListBucket") &&
			s.coversAction("s3:DeleteObject") && s.coversResource(bucketARN) && s.coversResource(objects) {
			f.DeniesInsecureTransport = true
		}
		if !s.coversAction("s3:PutObject") || !s.coversResource(objects) {
			continue
		}
		if op, v, ok := notEquals(s.Condition, condSSE); ok && len(v) > 0 && allKMS(v) {
			f.DeniesUnencryptedPuts, f.UnencryptedHow = true, op+" "+condSSE+" "+strings.Join(v, ",")
		} else if v, ok := conditionValues(s.Condition, "Null", condSSE); ok && slices.Equal(v, []string{"true"}) && !f.DeniesUnencryptedPuts {
			f.DeniesUnencryptedPuts, f.UnencryptedHow = true, "Null "+condSSE+" true"
		}
		if _, v, ok := notEquals(s.Condition, condSSEKMSKeyID); ok && len(v) > 0 {
			// Two such statements: a put must pass both, so only keys in
			// both are allowed.
			if f.AllowedKMSKeys == nil {
				f.AllowedKMSKeys = v
			} else {
				f.AllowedKMSKeys = slices.DeleteFunc(f.AllowedKMSKeys, func(k string) bool { return !slices.Contains(v, k) })
			}
		}
	}
	return f, nil
}

// notEquals finds key under StringNotEquals or StringNotEqualsIfExists.
func notEquals(cond map[string]map[string]any, key string) (op string, v []string, ok bool) {
	for _, op := range []string{"StringNotEquals", "StringNotEqualsIfExists"} {
		if v, ok := conditionValues(cond, op, key); ok {
			return op, v, true
		}
	}
	return "", nil, false
}

func allKMS(v []string) bool {
	for _, a := range v {
		if a != "aws:kms" && a != "aws:kms:dsse" {
			return false
		}
	}
	return true
}
