package store

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// MaxParts is the S3 limit on the number of parts of a multipart upload.
const MaxParts = 10000

// ChecksumOfHex turns a hex SHA-256 into the base64 form S3 reports for a
// single-part (full object) checksum.
func ChecksumOfHex(sha256Hex string) (string, error) {
	raw, err := hex.DecodeString(sha256Hex)
	if err != nil || len(raw) != sha256.Size {
		return "", fmt.Errorf("bad sha256 hex %q", sha256Hex)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// CompositeChecksum computes the S3 composite checksum of a multipart upload
// from its part checksums (base64 SHA-256 of each part, in part order):
// base64(SHA-256(part1 || part2 || ...)) + "-" + number of parts.
func CompositeChecksum(parts []string) (string, error) {
	h := sha256.New()
	for i, p := range parts {
		raw, err := base64.StdEncoding.DecodeString(p)
		if err != nil || len(raw) != sha256.Size {
			return "", fmt.Errorf("part %d: bad base64 sha256 %q", i+1, p)
		}
		h.Write(raw)
	}
	return fmt.Sprintf("%s-%d", base64.StdEncoding.EncodeToString(h.Sum(nil)), len(parts)), nil
}

// PartSizeFor returns the part size to use for an object of size bytes:
// the configured size, grown in whole MiB until the object fits in MaxParts
// parts. size < 0 (unknown) returns the configured size.
func PartSizeFor(size, configured int64) int64 {
	const mib = 1 << 20
	ps := configured
	if size > 0 && (size+ps-1)/ps > MaxParts {
		need := (size + MaxParts - 1) / MaxParts
		ps = (need + mib - 1) / mib * mib
	}
	return ps
}

// MaxKeyLen is the longest object key in bytes, on every store (S3's
// limit).
const MaxKeyLen = 1024

// ValidateKey checks that key is a relative slash-separated object key
// with no empty, "." or ".." segment and no control characters.
func ValidateKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %q: empty or longer than %d bytes", ErrInvalidKey, key, MaxKeyLen)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q: empty, \".\" or \"..\" segment", ErrInvalidKey, key)
		}
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %q: control character", ErrInvalidKey, key)
		}
	}
	return nil
}
