package config

import (
	"strings"
	"testing"
)

// signing.timestamp_url and signing.timestamp_roots: https (http on
// loopback), roots required with a URL and resolved against the file's
// folder; every problem is reported with its key.
func TestTimestamp(t *testing.T) {
	const rest = "store: {url: file:///a}\nstreams: [{name: s, source: {type: dir, path: /x}}]\n"
	tests := []struct {
		name      string
		signing   string
		url       string
		roots     string
		wantErr   []string
		notInErrs string
	}{
		{"none", "{key: file:///k.pem}", "", "", nil, ""},
		{"https, relative roots", "{key: file:///k.pem, timestamp_url: 'https://tsa.example/tsr', timestamp_roots: roots.pem}", "https://tsa.example/tsr", "/etc/lk/roots.pem", nil, ""},
		{"loopback http", "{key: file:///k.pem, timestamp_url: 'http://127.0.0.1:8080/', timestamp_roots: /r.pem}", "http://127.0.0.1:8080/", "/r.pem", nil, ""},
		{"roots alone (verify only)", "{key: file:///k.pem, timestamp_roots: /r.pem}", "", "/r.pem", nil, ""},
		{"plain http", "{key: file:///k.pem, timestamp_url: 'http://tsa.example/', timestamp_roots: /r.pem}", "", "", []string{"signing.timestamp_url: must use https"}, ""},
		{"no roots", "{key: file:///k.pem, timestamp_url: 'https://tsa.example/'}", "", "", []string{"signing.timestamp_roots: required with timestamp_url"}, ""},
		{"other scheme and no roots", "{key: file:///k.pem, timestamp_url: 'ftp://tsa.example/'}", "", "", []string{"signing.timestamp_url: must be an https:// URL", "signing.timestamp_roots: required"}, ""},
		{"credentials", "{key: file:///k.pem, timestamp_url: 'https://u:sekrit@tsa.example/', timestamp_roots: /r.pem}", "", "", []string{"signing.timestamp_url: must not contain credentials"}, "sekrit"},
		{"relative url", "{key: file:///k.pem, timestamp_url: 'tsa.example', timestamp_roots: /r.pem}", "", "", []string{"signing.timestamp_url: must be an absolute URL"}, ""},
		{"not a string", "{key: file:///k.pem, timestamp_url: [a], timestamp_roots: /r.pem}", "", "", []string{"signing.timestamp_url"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse([]byte("signing: "+tc.signing+"\n"+rest), "/etc/lk", lookupIn(nil))
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("no error, want %q", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %v, want %q", err, w)
					}
				}
				if tc.notInErrs != "" && strings.Contains(err.Error(), tc.notInErrs) {
					t.Errorf("err = %v shows %q", err, tc.notInErrs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Signing.TimestampURL != tc.url || c.Signing.TimestampRoots != tc.roots {
				t.Fatalf("url %q roots %q, want %q %q", c.Signing.TimestampURL, c.Signing.TimestampRoots, tc.url, tc.roots)
			}
		})
	}
}
