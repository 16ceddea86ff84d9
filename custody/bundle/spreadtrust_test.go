package bundle

import (
	"slices"
	"testing"
)

// Trust spreads along valid transitions in both directions, and stops at a
// broken one.
func TestSpreadTrust(t *testing.T) {
	for _, tc := range []struct {
		name          string
		trusted, link []bool
		want          []bool
	}{
		{"one key", []bool{true}, nil, []bool{true}},
		{"one key, not trusted", []bool{false}, nil, []bool{false}},
		{"forward", []bool{true, false, false}, []bool{true, true}, []bool{true, true, true}},
		{"backward", []bool{false, false, true}, []bool{true, true}, []bool{true, true, true}},
		{"from the middle", []bool{false, true, false}, []bool{true, true}, []bool{true, true, true}},
		{"a broken transition stops it", []bool{true, false, false}, []bool{true, false}, []bool{true, true, false}},
		{"nothing trusted beyond the break", []bool{false, false, true, false}, []bool{true, false, true}, []bool{false, false, true, true}},
		{"no anchor", []bool{false, false}, []bool{true}, []bool{false, false}},
	} {
		got := slices.Clone(tc.trusted)
		SpreadTrust(got, tc.link)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: SpreadTrust(%v, %v) = %v, want %v", tc.name, tc.trusted, tc.link, got, tc.want)
		}
	}
}
