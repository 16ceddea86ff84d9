package custody

import (
	"strings"
	"testing"

	"github.com/logkeeper/logkeeper/manifest"
)

func TestKMSKeyProblem(t *testing.T) {
	const arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	const other = "arn:aws:kms:us-east-1:111122223333:key/ffffffff-12ab-34cd-56ef-1234567890ab"
	tests := []struct {
		name     string
		rec      *manifest.SSE
		reported string
		bad      bool
	}{
		{"AWS: alias configured, ARN recorded and reported", &manifest.SSE{KMSKeyID: "alias/logkeeper-archive", ServerKMSKeyID: arn}, arn, false},
		{"AWS: recorded ARN, another key reported", &manifest.SSE{KMSKeyID: "alias/logkeeper-archive", ServerKMSKeyID: arn}, other, true},
		{"MinIO: name configured, server form recorded", &manifest.SSE{KMSKeyID: "lk-key", ServerKMSKeyID: "arn:aws:kms:lk-key"}, "arn:aws:kms:lk-key", false},
		{"MinIO: re-encrypted under another key", &manifest.SSE{KMSKeyID: "lk-key", ServerKMSKeyID: "arn:aws:kms:lk-key"}, "arn:aws:kms:other", true},
		{"recorded server key compared as a string, not by suffix", &manifest.SSE{KMSKeyID: "k", ServerKMSKeyID: "arn:aws:kms:k"}, "arn:aws:kms:us-east-1:1:key/k", true},
		{"store reports no key", &manifest.SSE{KMSKeyID: "lk-key", ServerKMSKeyID: "arn:aws:kms:lk-key"}, "", false},
		{"older manifest, MinIO", &manifest.SSE{KMSKeyID: "lk-key"}, "arn:aws:kms:lk-key", false},
		{"older manifest, key id against its ARN", &manifest.SSE{KMSKeyID: "1234abcd-12ab-34cd-56ef-1234567890ab"}, arn, false},
		{"older manifest, key id against another key", &manifest.SSE{KMSKeyID: "1234abcd-12ab-34cd-56ef-1234567890ab"}, other, true},
		{"older manifest, alias: only KMS could tell", &manifest.SSE{KMSKeyID: "alias/logs"}, arn, false},
		{"older manifest, ARN configured, other reported", &manifest.SSE{KMSKeyID: arn}, other, true},
		{"no key recorded", &manifest.SSE{}, arn, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, bad := kmsKeyProblem(tt.rec, tt.reported)
			if bad != tt.bad {
				t.Fatalf("kmsKeyProblem(%+v, %q) = %v, %v; want bad=%v", tt.rec, tt.reported, p, bad, tt.bad)
			}
			if bad && (p.Kind != KindSSEMismatch || !strings.Contains(p.Detail, tt.reported)) {
				t.Fatalf("problem %+v: want %s naming %s", p, KindSSEMismatch, tt.reported)
			}
		})
	}
}
