package policies

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ExporterPolicy describes what the exporter's least-privilege IAM policy
// covers. Bucket is required; the other fields may be empty, which drops
// the statements that need them.
type ExporterPolicy struct {
	// Bucket and Prefix are the store's (store.url s3://BUCKET/PREFIX).
	Bucket string
	Prefix string
	// Region is the bucket's region; with DataKeyARN it limits the data
	// key to use through S3 (kms:ViaService).
	Region string
	// DataKeyARN is the KMS key ARN of store.sse_kms_key_id (SSE-KMS).
	DataKeyARN string
	// SigningKeyARN is the KMS key ARN of signing.key (awskms://).
	SigningKeyARN string
}

// iamPolicy is an IAM policy document.
type iamPolicy struct {
	Version   string         `json:"Version"`
	Statement []iamStatement `json:"Statement"`
}

type iamStatement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// Render returns the policy as indented JSON:
//
//   - S3 on the bucket, for the prefix only: list objects and versions
//     (s3:prefix under the prefix), list unfinished multipart uploads, and
//     read the bucket's Object Lock configuration;
//   - S3 on the objects under the prefix: put, get (also by version),
//     abort multipart uploads and list their parts, read and set
//     retention. No delete of any kind: logkeeper never deletes;
//   - kms:GenerateDataKey and kms:Decrypt on the data key, only through
//     S3 and only with the encryption context logkeeper:store that names
//     this store, so the key cannot encrypt or decrypt anything else;
//   - kms:DescribeKey on the data key (metadata only: no key material, no
//     encryption), to record the key's ARN where a server's answer to an
//     upload does not name the key it used;
//   - kms:Sign (ECDSA_SHA_256 over a digest) and kms:GetPublicKey on the
//     signing key.
func (p ExporterPolicy) Render() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	prefix := strings.Trim(p.Prefix, "/")
	bucketARN := "arn:aws:s3:::" + p.Bucket
	objects, listPrefix, store := bucketARN+"/*", []any{"*"}, "s3://"+p.Bucket
	if prefix != "" {
		objects = bucketARN + "/" + prefix + "/*"
		listPrefix = []any{prefix + "/*"}
		store += "/" + prefix
	}
	doc := iamPolicy{Version: "2012-10-17", Statement: []iamStatement{
		{
			Sid: "ListArchivePrefix", Effect: "Allow",
			Action:    []string{"s3:ListBucket", "s3:ListBucketVersions"},
			Resource:  []string{bucketARN},
			Condition: map[string]map[string]any{"StringLike": {"s3:prefix": listPrefix}},
		},
		{
			Sid: "BucketSettingsAndUploads", Effect: "Allow",
			Action:   []string{"s3:GetBucketObjectLockConfiguration", "s3:ListBucketMultipartUploads"},
			Resource: []string{bucketARN},
		},
		{
			Sid: "ArchiveObjects", Effect: "Allow",
			Action: []string{"s3:PutObject", "s3:GetObject", "s3:GetObjectVersion",
				"s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
				"s3:GetObjectRetention", "s3:PutObjectRetention"},
			Resource: []string{objects},
		},
	}}
	if p.DataKeyARN != "" {
		cond := map[string]map[string]any{"StringEquals": {"kms:EncryptionContext:" + ContextStore: store}}
		if p.Region != "" {
			cond["StringEquals"]["kms:ViaService"] = "s3." + p.Region + ".amazonaws.com"
		}
		doc.Statement = append(doc.Statement, iamStatement{
			Sid: "EncryptArchiveObjects", Effect: "Allow",
			Action:    []string{"kms:GenerateDataKey", "kms:Decrypt"},
			Resource:  []string{p.DataKeyARN},
			Condition: cond,
		}, iamStatement{
			Sid: "DescribeArchiveKey", Effect: "Allow",
			Action:   []string{"kms:DescribeKey"},
			Resource: []string{p.DataKeyARN},
		})
	}
	if p.SigningKeyARN != "" {
		doc.Statement = append(doc.Statement,
			iamStatement{
				Sid: "SignManifests", Effect: "Allow",
				Action:   []string{"kms:Sign"},
				Resource: []string{p.SigningKeyARN},
				Condition: map[string]map[string]any{"StringEquals": {
					"kms:SigningAlgorithm": "ECDSA_SHA_256", "kms:MessageType": "DIGEST"}},
			},
			iamStatement{
				Sid: "ReadSigningPublicKey", Effect: "Allow",
				Action:   []string{"kms:GetPublicKey"},
				Resource: []string{p.SigningKeyARN},
			})
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func (p ExporterPolicy) validate() error {
	var errs []error
	if p.Bucket == "" || strings.ContainsAny(p.Bucket, "/*?\"") {
		errs = append(errs, fmt.Errorf("bucket %q: must be a bucket name", p.Bucket))
	}
	if strings.ContainsAny(p.Prefix, "*?\"") {
		errs = append(errs, fmt.Errorf("prefix %q: must not contain wildcards or quotes", p.Prefix))
	}
	for name, arn := range map[string]string{"data key": p.DataKeyARN, "signing key": p.SigningKeyARN} {
		if arn != "" && (!strings.HasPrefix(arn, "arn:aws") || !strings.Contains(arn, ":kms:") || strings.ContainsAny(arn, "*?\"")) {
			errs = append(errs, fmt.Errorf("%s %q: must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias or id", name, arn))
		}
	}
	return errors.Join(errs...)
}
