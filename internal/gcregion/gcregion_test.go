package gcregion

import "testing"

func TestLookup(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"mypurecloud.com", "mypurecloud.com", true},
		{"US-EAST-1", "mypurecloud.com", true},
		{"ap-southeast-2", "mypurecloud.com.au", true},
		{"apse1.pure.cloud", "apse1.pure.cloud", true},
		{"use2.us-gov-pure.cloud", "use2.us-gov-pure.cloud", true},
		{"apse2.pure.cloud", "", false}, // not a Genesys domain
		{"example.com", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := Lookup(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	seen := map[string]bool{}
	for _, r := range All {
		if seen[r.Name] || seen[r.Domain] {
			t.Fatalf("%v listed twice", r)
		}
		seen[r.Name], seen[r.Domain] = true, true
	}
}
