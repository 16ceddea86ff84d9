package config

import (
	"strings"
	"testing"
)

func TestCheckOrigin(t *testing.T) {
	tests := []struct {
		origin string
		ok     bool
	}{
		{"s3://bucket", true},
		{"s3://bucket/prefix/deeper", true},
		{"file:///var/lib/logkeeper", true},
		{"s3://bucket/prefix/", false},
		{"file:///var/lib/../x", false},
		{"file://host/x", false},
		{"file://relative", false},
		{"https://bucket/x", false},
		{"s3://user:secret@bucket/x", false},
		{"s3://bucket/x?versionId=1", false},
		{"", false},
	}
	for _, tc := range tests {
		if err := CheckOrigin(tc.origin); (err == nil) != tc.ok {
			t.Errorf("CheckOrigin(%q) = %v, want ok %v", tc.origin, err, tc.ok)
		}
	}
	_, err := parse([]byte("store: {url: file:///a, origin: 's3://x:pw@b/p'}\nsigning: {key: file:///k.pem}\nstreams: [{name: s, source: {type: dir, path: /x}}]\n"), "/", lookupIn(nil))
	if err == nil || !strings.Contains(err.Error(), "store.origin:") || strings.Contains(err.Error(), "pw") {
		t.Fatalf("bad origin: %v", err)
	}
}
