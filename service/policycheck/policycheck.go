// Package policycheck reads the settings of the archive's bucket, KMS key
// and witness and says, check by check, whether they keep the archive the
// way logkeeper's guarantees need it (logkeeper policy check): write once
// (versioning, Object Lock, default retention), encrypted under the
// configured key (default encryption, the bucket policy, key rotation, the
// key policy's encryption context conditions), private (public access
// block, TLS only), and witnessed by a store that cannot be rewritten.
//
// Each check is pass, fail, or unknown when the server does not say (an
// API it does not implement, a setting the credentials may not read, a
// setting that does not apply to a file store), with a one-line fix.
package policycheck

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/signing/signers"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/service/app"
)

// Statuses of a check.
const (
	StatusPass    = "pass"
	StatusFail    = "fail"
	StatusUnknown = "unknown"
)

// Names of the checks, in the order Check reports them.
const (
	CheckVersioning         = "versioning"
	CheckObjectLock         = "object_lock"
	CheckDefaultRetention   = "default_retention"
	CheckDefaultEncryption  = "default_encryption"
	CheckPublicAccessBlock  = "public_access_block"
	CheckPolicyTLS          = "bucket_policy_tls"
	CheckPolicyUnencrypted  = "bucket_policy_unencrypted_puts"
	CheckPolicyOtherKey     = "bucket_policy_other_kms_key"
	CheckKeyRotation        = "kms_key_rotation"
	CheckKeyPolicyContext   = "kms_key_policy_context"
	CheckFolderPermissions  = "folder_permissions"
	CheckWitnessObjectLock  = "witness_object_lock"
	CheckWitnessPermissions = "witness_folder_permissions"
)

// Result is every check, in a fixed order.
type Result struct {
	Checks []Item `json:"checks"`
}

// Item is one check: its name, pass, fail or unknown, what was found, and
// a one-line fix (empty when it passes).
type Item struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

// Failed reports whether some check failed.
func (r Result) Failed() bool { return r.count(StatusFail) > 0 }

// Unknown reports whether the server did not say for some check.
func (r Result) Unknown() bool { return r.count(StatusUnknown) > 0 }

func (r Result) count(status string) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == status {
			n++
		}
	}
	return n
}

// Bucket is what Check reads of an S3 bucket; *s3store.Store has it.
type Bucket interface {
	Bucket() string
	Prefix() string
	Describe() string
	BucketVersioning(ctx context.Context) (*s3.GetBucketVersioningOutput, error)
	BucketObjectLock(ctx context.Context) (*s3.GetObjectLockConfigurationOutput, error)
	BucketEncryption(ctx context.Context) (*s3.GetBucketEncryptionOutput, error)
	BucketPublicAccessBlock(ctx context.Context) (*s3.GetPublicAccessBlockOutput, error)
	BucketPolicy(ctx context.Context) (*s3.GetBucketPolicyOutput, error)
}

// KMS is the part of the KMS API Check uses; *kms.Client has it.
type KMS interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	GetKeyRotationStatus(ctx context.Context, in *kms.GetKeyRotationStatusInput, optFns ...func(*kms.Options)) (*kms.GetKeyRotationStatusOutput, error)
	GetKeyPolicy(ctx context.Context, in *kms.GetKeyPolicyInput, optFns ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error)
}

// Options say what Check reads. A nil field is opened from the
// configuration: the store read-only (app.OpenStoreReadOnly), the witness
// likewise, and a KMS client from the AWS SDK's default chain when
// store.sse_kms_key_id is set.
type Options struct {
	Store   store.Store
	Witness store.Store
	KMS     KMS
}

// ErrUnreachable wraps the error of a check that could not complete: the
// store, the witness or KMS could not be reached (a network error, a
// bucket that does not exist, a file store whose folder does not exist).
var ErrUnreachable = errors.New("could not complete")

// Check reads the configured store, witness and KMS key and reports every
// check. The error is non-nil (wrapping ErrUnreachable) only when
// something could not be reached; a setting that is wrong is a failed
// check, and one the server does not show an unknown one.
func Check(ctx context.Context, cfg *config.Config, o Options) (Result, error) {
	c := &checker{cfg: cfg, kms: o.KMS}
	if err := c.run(ctx, o); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return Result{Checks: c.items}, nil
}

type checker struct {
	cfg   *config.Config
	kms   KMS
	items []Item
}

func (c *checker) add(name, status, detail, fix string) {
	if status == StatusPass {
		fix = ""
	}
	c.items = append(c.items, Item{Name: name, Status: status, Detail: detail, Fix: fix})
}

func (c *checker) run(ctx context.Context, o Options) error {
	switch c.cfg.Store.Scheme {
	case config.SchemeFile:
		if err := c.fileStore(c.cfg.Store.Path, CheckFolderPermissions, "store.url"); err != nil {
			return err
		}
	default:
		st := o.Store
		if st == nil {
			var err error
			if st, err = app.OpenStoreReadOnly(ctx, c.cfg); err != nil {
				return err
			}
		}
		b, ok := st.(Bucket)
		if !ok {
			return fmt.Errorf("store %s: not an S3 bucket whose settings can be read", st.Describe())
		}
		if c.kms == nil && c.cfg.Store.SSEKMSKeyID != "" {
			k, err := signers.DefaultKMSClient(ctx)
			if err != nil {
				return fmt.Errorf("kms client: %w", err)
			}
			c.kms = k
		}
		if err := c.bucket(ctx, b); err != nil {
			return err
		}
		if err := c.key(ctx, b.Describe()); err != nil {
			return err
		}
	}
	return c.witness(ctx, o.Witness)
}
