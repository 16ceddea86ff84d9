package store

import "strings"

// KMSKeyRefersTo reports whether the KMS key reference ref (a key id, an
// alias, or an ARN, as configured) names the key a server reported as
// reported. Servers report the key they used in their own form: AWS S3
// gives the key's full ARN (arn:aws:kms:REGION:ACCOUNT:key/ID) even when
// the request named an alias or a bare key id; MinIO's built-in KMS gives
// arn:aws:kms:NAME. known is false when the answer cannot be decided from
// the two strings alone: an alias names a key only KMS can resolve
// (DescribeKey), so an alias against a key ARN is neither a match nor a
// mismatch.
func KMSKeyRefersTo(ref, reported string) (match, known bool) {
	if ref == "" || reported == "" {
		return false, false
	}
	if ref == reported {
		return true, true
	}
	if isKMSAlias(ref) || isKMSAlias(reported) {
		return false, false
	}
	if id, ok := kmsKeyIDOfARN(reported); ok && id == ref {
		return true, true
	}
	if id, ok := kmsKeyIDOfARN(ref); ok && id == reported {
		return true, true
	}
	return false, true
}

// isKMSAlias reports whether ref is an alias name (alias/NAME) or an alias
// ARN (arn:PARTITION:kms:REGION:ACCOUNT:alias/NAME).
func isKMSAlias(ref string) bool {
	if strings.HasPrefix(ref, "alias/") {
		return true
	}
	p := strings.SplitN(ref, ":", 6)
	return len(p) == 6 && p[0] == "arn" && p[2] == "kms" && strings.HasPrefix(p[5], "alias/")
}

// kmsKeyIDOfARN returns the key id an ARN names: ID of
// arn:PARTITION:kms:REGION:ACCOUNT:key/ID, or NAME of MinIO's short form
// arn:aws:kms:NAME.
func kmsKeyIDOfARN(arn string) (string, bool) {
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 4 || p[0] != "arn" || p[2] != "kms" {
		return "", false
	}
	switch len(p) {
	case 4:
		return p[3], p[3] != ""
	case 6:
		id, ok := strings.CutPrefix(p[5], "key/")
		return id, ok && id != ""
	}
	return "", false
}

// IsKMSKeyARN reports whether ref is the full ARN of a key (not of an
// alias): the form AWS S3 reports, which needs no resolving.
func IsKMSKeyARN(ref string) bool {
	p := strings.SplitN(ref, ":", 6)
	return len(p) == 6 && p[0] == "arn" && p[2] == "kms" && strings.HasPrefix(p[5], "key/") && len(p[5]) > len("key/")
}
