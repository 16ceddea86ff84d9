package export

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitizePath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a/b.log", "a/b.log"},
		{"with space/ünïcødé 日志.log", "with space/ünïcødé 日志.log"},
		{"../../etc/passwd", "%2E%2E/%2E%2E/etc/passwd"},
		{"/var/log/x", "%2F/var/log/x"},
		{"a//b/", "a/%2F/b/%2F"},
		{"./a", "%2E/a"},
		{"100%/x~y", "100%25/x%7Ey"},
		{"c:\\win", "c:%5Cwin"},
		{"ctl\x01\x7f\u0085", "ctl%01%7F%C2%85"},
		{"bad\xffutf8", "bad%FFutf8"},
		{"", "%2F"},
	} {
		if got := SanitizePath(tc.in); got != tc.want {
			t.Errorf("SanitizePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSanitizeLongSegment(t *testing.T) {
	a := strings.Repeat("é", 300) + "a"
	b := strings.Repeat("é", 300) + "b"
	sa, sb := SanitizePath(a), SanitizePath(b)
	if sa == sb {
		t.Fatal("two long names collide")
	}
	if len(sa) > maxSegment || !utf8.ValidString(sa) || !strings.Contains(sa, "~") {
		t.Fatalf("long segment -> %q (%d bytes)", sa, len(sa))
	}
	pct := SanitizePath(strings.Repeat("%", 150))
	if len(pct) > maxSegment || strings.HasSuffix(strings.Split(pct, "~")[0], "%") || strings.HasSuffix(strings.Split(pct, "~")[0], "%2") {
		t.Fatalf("escape split by the cut: %q", pct)
	}
}

func checkSanitized(t *testing.T, in, out string) {
	t.Helper()
	if strings.HasPrefix(out, "/") {
		t.Fatalf("SanitizePath(%q) = %q is absolute", in, out)
	}
	for _, seg := range strings.Split(out, "/") {
		if seg == "" || seg == "." || seg == ".." {
			t.Fatalf("SanitizePath(%q) = %q has segment %q", in, out, seg)
		}
		if len(seg) > maxSegment {
			t.Fatalf("SanitizePath(%q) has a %d-byte segment", in, len(seg))
		}
	}
	for _, r := range out {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			t.Fatalf("SanitizePath(%q) = %q has control character %U", in, out, r)
		}
	}
	if !utf8.ValidString(out) {
		t.Fatalf("SanitizePath(%q) = %q is not UTF-8", in, out)
	}
}

func FuzzSanitizePath(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "/abs", "a//b", "%41", "~", "\x00", strings.Repeat("x", 250), "é/.."} {
		f.Add(s, s+"x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		sa, sb := SanitizePath(a), SanitizePath(b)
		checkSanitized(t, a, sa)
		checkSanitized(t, b, sb)
		if a != b && sa == sb {
			t.Fatalf("collision: %q and %q both give %q", a, b, sa)
		}
	})
}
