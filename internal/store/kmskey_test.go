package store

import "testing"

func TestKMSKeyRefersTo(t *testing.T) {
	const arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	const id = "1234abcd-12ab-34cd-56ef-1234567890ab"
	tests := []struct {
		name, ref, reported string
		match, known        bool
	}{
		{"same string", "lk-key", "lk-key", true, true},
		{"AWS: key id, server reports its ARN", id, arn, true, true},
		{"AWS: ARN configured, ARN reported", arn, arn, true, true},
		{"AWS: other key's ARN", id, "arn:aws:kms:us-east-1:111122223333:key/ffff", false, true},
		{"AWS: ARN configured, bare id reported", arn, id, true, true},
		{"AWS GovCloud partition", id, "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/" + id, true, true},
		{"MinIO: name, server reports arn:aws:kms:NAME", "lk-key", "arn:aws:kms:lk-key", true, true},
		{"MinIO: other name", "lk-key", "arn:aws:kms:other", false, true},
		{"alias: only KMS can tell", "alias/logkeeper-archive", arn, false, false},
		{"alias ARN: only KMS can tell", "arn:aws:kms:us-east-1:111122223333:alias/logs", arn, false, false},
		{"id suffix is not enough", "abcd", "arn:aws:kms:us-east-1:111122223333:key/1234abcd", false, true},
		{"not a kms ARN", id, "arn:aws:s3:::bucket/" + id, false, true},
		{"nothing reported", id, "", false, false},
		{"nothing configured", "", arn, false, false},
		{"empty key in ARN", "", "arn:aws:kms:us-east-1:1:key/", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, k := KMSKeyRefersTo(tt.ref, tt.reported)
			if m != tt.match || k != tt.known {
				t.Fatalf("KMSKeyRefersTo(%q, %q) = %v, %v; want %v, %v", tt.ref, tt.reported, m, k, tt.match, tt.known)
			}
		})
	}
	for ref, want := range map[string]bool{arn: true, id: false, "alias/x": false, "arn:aws:kms:lk-key": false, "arn:aws:kms:us-east-1:1:key/": false} {
		if IsKMSKeyARN(ref) != want {
			t.Errorf("IsKMSKeyARN(%q) = %v", ref, !want)
		}
	}
}
