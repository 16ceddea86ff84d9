package s3store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/logkeeper/logkeeper/internal/store"
)

var _ store.LegalHolder = (*Store)(nil)

// CheckLegalHolds asks for the bucket's Object Lock configuration: a legal
// hold needs Object Lock enabled on the bucket.
func (s *Store) CheckLegalHolds(ctx context.Context) error {
	out, err := s.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &s.bucket}, s.opts()...)
	if err == nil && out.ObjectLockConfiguration != nil && out.ObjectLockConfiguration.ObjectLockEnabled == types.ObjectLockEnabledEnabled {
		return nil
	}
	if err == nil {
		return fmt.Errorf("%w: bucket %q does not have Object Lock enabled", store.ErrNoLegalHold, s.bucket)
	}
	if code, _, _ := apiCode(err); code == "ObjectLockConfigurationNotFoundError" {
		return fmt.Errorf("%w: bucket %q does not have Object Lock enabled", store.ErrNoLegalHold, s.bucket)
	}
	return fmt.Errorf("object lock configuration of bucket %q: %w", s.bucket, s.classify(err, request{}))
}

// SetLegalHold sets the Object Lock legal hold (PutObjectLegalHold) of
// the version of key ON or OFF.
func (s *Store) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	if err := store.ValidateKey(key); err != nil {
		return fmt.Errorf("legal hold: %w", err)
	}
	full := s.fullKey(key)
	status := types.ObjectLockLegalHoldStatusOff
	if on {
		status = types.ObjectLockLegalHoldStatusOn
	}
	in := &s3.PutObjectLegalHoldInput{Bucket: &s.bucket, Key: &full, LegalHold: &types.ObjectLockLegalHold{Status: status}}
	if versionID != "" {
		in.VersionId = &versionID
	}
	if _, err := s.client.PutObjectLegalHold(ctx, in, s.opts()...); err != nil {
		return fmt.Errorf("legal hold %s %s: %w", status, key, s.classify(err, request{fullKey: full}))
	}
	return nil
}

// LegalHold reads the legal hold status of the version of key.
func (s *Store) LegalHold(ctx context.Context, key, versionID string) (bool, error) {
	if err := store.ValidateKey(key); err != nil {
		return false, fmt.Errorf("legal hold: %w", err)
	}
	full := s.fullKey(key)
	in := &s3.GetObjectLegalHoldInput{Bucket: &s.bucket, Key: &full}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := s.client.GetObjectLegalHold(ctx, in, s.opts()...)
	if err != nil {
		return false, fmt.Errorf("legal hold of %s: %w", key, s.classify(err, request{fullKey: full}))
	}
	return out.LegalHold != nil && out.LegalHold.Status == types.ObjectLockLegalHoldStatusOn, nil
}
