package app

import (
	"crypto/x509"
	"fmt"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/tsa"
)

// TimestampRoots loads signing.timestamp_roots (nil when not configured).
// A file that cannot be read or holds anything but certificates is an
// error naming the key.
func TimestampRoots(c *config.Config) (*x509.CertPool, error) {
	if c.Signing.TimestampRoots == "" {
		return nil, nil
	}
	roots, err := tsa.LoadRoots(c.Signing.TimestampRoots)
	if err != nil {
		return nil, fmt.Errorf("signing.timestamp_roots: %w", err)
	}
	return roots, nil
}

// OpenTimestamps is the time-stamp authority of signing.timestamp_url for
// a run (nil when not configured): each token it returns was verified
// against signing.timestamp_roots.
func OpenTimestamps(c *config.Config) (custody.Stamper, error) {
	if c.Signing.TimestampURL == "" {
		return nil, nil
	}
	roots, err := TimestampRoots(c)
	if err != nil {
		return nil, err
	}
	return &tsa.Client{URL: c.Signing.TimestampURL, Roots: roots}, nil
}
