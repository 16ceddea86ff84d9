package export

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscapeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a/b.log", "a/b.log"},
		{"100%/x", "100%/x"},                           // valid UTF-8: as it is
		{"caf\uFFFD.log", "caf\uFFFD.log"},             // a real U+FFFD too
		{"caf\xe9.log", "./caf%E9.log"},                // Latin-1
		{"caf\xe8.log", "./caf%E8.log"},                // a different name
		{"d\xff/100%/x\xfe%", "./d%FF/100%/./x%FE%25"}, // per segment
		{"ok/\xc3", "ok/./%C3"},                        // a cut character
	} {
		got := EscapeName(tc.in)
		if got != tc.want {
			t.Errorf("EscapeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		back, ok := UnescapeName(got)
		if !ok || back != tc.in {
			t.Errorf("UnescapeName(%q) = %q, %v; want %q", got, back, ok, tc.in)
		}
	}
	for _, bad := range []string{"./", "./%G1", "./%4", "./ok"} {
		if s, ok := UnescapeName(bad); ok {
			t.Errorf("UnescapeName(%q) = %q, want false", bad, s)
		}
	}
}

func FuzzEscapeName(f *testing.F) {
	for _, s := range []string{"a/b", "caf\xe9", "\xff/\xfe", "%", "x/%FF", "é/\xc3"} {
		f.Add(s, s+"\xff")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		// The scheme is for listed paths, which never have a "." segment.
		if hasDotSegment(a) || hasDotSegment(b) {
			t.Skip()
		}
		ea, eb := EscapeName(a), EscapeName(b)
		if !utf8.ValidString(ea) {
			t.Fatalf("EscapeName(%q) = %q is not UTF-8", a, ea)
		}
		if utf8.ValidString(a) && ea != a {
			t.Fatalf("EscapeName changed valid %q to %q", a, ea)
		}
		if back, ok := UnescapeName(ea); !ok || back != a {
			t.Fatalf("round trip of %q: %q, %v", a, back, ok)
		}
		if a != b && ea == eb {
			t.Fatalf("collision: %q and %q both give %q", a, b, ea)
		}
		// A listed path never has a "." segment: the escaped form of an
		// invalid name can never equal a real name.
		if !utf8.ValidString(a) && !strings.Contains("/"+ea+"/", "/./") {
			t.Fatalf("EscapeName(%q) = %q has no marker", a, ea)
		}
	})
}

func hasDotSegment(s string) bool { return strings.Contains("/"+s+"/", "/./") }

func TestObjectKey(t *testing.T) {
	prefix := "app/objects/0190b6c2-7d4e-7000-8000-000000000000/"
	long := strings.Repeat(strings.Repeat("n", 150)+"/", 8) + "file.log" // 1216 bytes
	dirs := strings.Repeat(strings.Repeat("d", 99)+"/", 9)               // 900 bytes
	for _, tc := range []struct {
		name, in string
		limit    int
		want     string // "" when shortened: checked below
		ok       bool
	}{
		{"fits", "a/b.log", 1024, prefix + "a/b.log", true},
		{"exactly the limit", dirs + strings.Repeat("x", 1024-len(prefix)-len(dirs)), 1024, prefix + dirs + strings.Repeat("x", 1024-len(prefix)-len(dirs)), true},
		{"one byte over", dirs + strings.Repeat("x", 1025-len(prefix)-len(dirs)), 1024, "", true},
		{"too long", long, 1024, "", true},
		{"prefix leaves no room", strings.Repeat("a", 40), len(prefix) + 33, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, ok := ObjectKey(prefix, tc.in, tc.limit)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (key %q)", ok, tc.ok, key)
			}
			if !ok {
				return
			}
			if tc.want != "" && key != tc.want {
				t.Fatalf("key = %q, want %q", key, tc.want)
			}
			if len(key) > tc.limit || !strings.HasPrefix(key, prefix) {
				t.Fatalf("key %q (%d bytes) exceeds %d or lost its prefix", key, len(key), tc.limit)
			}
			if tc.want == "" && !strings.Contains(key, "~~") {
				t.Fatalf("shortened key %q has no ~~ hash", key)
			}
		})
	}
}

func FuzzObjectKey(f *testing.F) {
	long := strings.Repeat("é/", 400)
	for _, s := range []string{"a", long, long + "x", strings.Repeat("%", 900), strings.Repeat("~", 900), strings.Repeat("a~", 700)} {
		f.Add(s, s+"1", 200)
	}
	f.Fuzz(func(t *testing.T, a, b string, limit int) {
		const prefix = "s/objects/r/"
		limit = 60 + abs(limit)%1000
		ka, oka := ObjectKey(prefix, a, limit)
		kb, okb := ObjectKey(prefix, b, limit)
		if !oka || !okb {
			t.Fatalf("no key within %d bytes for %q or %q", limit, a, b)
		}
		for _, k := range []string{ka, kb} {
			if len(k) > limit {
				t.Fatalf("key %q is %d bytes, limit %d", k, len(k), limit)
			}
			checkSanitized(t, a, k[len(prefix):])
		}
		if a != b && ka == kb {
			t.Fatalf("collision: %q and %q both give %q", a, b, ka)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func TestObjectKeySegmentsStayShort(t *testing.T) {
	const prefix = "s/objects/r/"
	for _, name := range []string{
		strings.Repeat("a", 190) + "/" + strings.Repeat("b", 190) + "/" + strings.Repeat("c", 190),
		strings.Repeat(strings.Repeat("é", 99)+"/", 5),
		strings.Repeat(strings.Repeat("%", 66)+"/", 5),
	} {
		key, ok := ObjectKey(prefix, name, 300)
		if !ok {
			t.Fatalf("no key for %q", name)
		}
		checkSanitized(t, name, key[len(prefix):])
		if len(key) > 300 || !strings.Contains(key, "~~") {
			t.Fatalf("key %q (%d bytes)", key, len(key))
		}
	}
}
