package loopback

import "testing"

func TestIs(t *testing.T) {
	for _, tt := range []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LocalHost", true},
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::1", true},
		{"[::1]", false}, // a Hostname() never has brackets
		{"", false},
		{"0.0.0.0", false},
		{"10.0.0.1", false},
		{"localhost.example.com", false},
		{"s3.amazonaws.com", false},
		{"::ffff:127.0.0.1", true},
	} {
		if got := Is(tt.host); got != tt.want {
			t.Errorf("Is(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}
