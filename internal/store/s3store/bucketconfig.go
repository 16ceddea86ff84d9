package s3store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The bucket's own settings, read for the policy check (logkeeper policy
// check). Each returns the SDK's answer, or the SDK's error restated by
// classify (it still unwraps to the smithy.APIError, so callers can tell a
// setting that is absent, such as NoSuchBucketPolicy, from a server that
// does not implement the call, NotImplemented, and from a network error).

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// Prefix returns the key prefix (no leading or trailing slash; may be empty).
func (s *Store) Prefix() string { return s.prefix }

// BucketVersioning reads the bucket's versioning state (GetBucketVersioning).
func (s *Store) BucketVersioning(ctx context.Context) (*s3.GetBucketVersioningOutput, error) {
	out, err := s.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &s.bucket}, s.opts()...)
	return out, s.classify(err, request{})
}

// BucketObjectLock reads the bucket's Object Lock configuration and default
// retention (GetObjectLockConfiguration).
func (s *Store) BucketObjectLock(ctx context.Context) (*s3.GetObjectLockConfigurationOutput, error) {
	out, err := s.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &s.bucket}, s.opts()...)
	return out, s.classify(err, request{})
}

// BucketEncryption reads the bucket's default encryption (GetBucketEncryption).
func (s *Store) BucketEncryption(ctx context.Context) (*s3.GetBucketEncryptionOutput, error) {
	out, err := s.client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &s.bucket}, s.opts()...)
	return out, s.classify(err, request{})
}

// BucketPublicAccessBlock reads the bucket's public access block
// (GetPublicAccessBlock).
func (s *Store) BucketPublicAccessBlock(ctx context.Context) (*s3.GetPublicAccessBlockOutput, error) {
	out, err := s.client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &s.bucket}, s.opts()...)
	return out, s.classify(err, request{})
}

// BucketPolicy reads the bucket policy document (GetBucketPolicy).
func (s *Store) BucketPolicy(ctx context.Context) (*s3.GetBucketPolicyOutput, error) {
	out, err := s.client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &s.bucket}, s.opts()...)
	return out, s.classify(err, request{})
}
