package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "edge/objects/run/a.log", "edge/objects/run/a.log"},
		{"non-ASCII letters kept", "café/日本.log", "café/日本.log"},
		{"newline cannot start a fake line", "a\n0 problems", `a\n0 problems`},
		{"carriage return", "a\rb", `a\rb`},
		{"ANSI escape", "\x1b[2K\x1b[1Aok", `\x1b[2K\x1b[1Aok`},
		{"C1 control (CSI)", "a\u009bb", `a\u009bb`},
		{"bidi override", "a\u202etxt.exe", `a\u202etxt.exe`},
		{"zero width", "a\u200bb", `a\u200bb`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"invalid UTF-8", "a\xffb", `a\xffb`},
		{"backslash doubled so escapes are unambiguous", `a\nb`, `a\\nb`},
		{"NUL and DEL", "a\x00b\x7f", `a\x00b\x7f`},
		{"tab", "a\tb", `a\tb`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Escape(tc.in); got != tc.want {
				t.Fatalf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestPrintfEscapesEveryStringArgument(t *testing.T) {
	var b bytes.Buffer
	type stringer struct{ fmtStringer }
	Printf(&b, "%s|%v|%s|%d\n", "k\n1", errors.New("e\x1b[0m"), stringer{"s\r"}, 7)
	want := `k\n1|e\x1b[0m|s\r|7` + "\n"
	if b.String() != want {
		t.Fatalf("Printf wrote %q, want %q", b.String(), want)
	}
}

type fmtStringer string

func (s fmtStringer) String() string { return string(s) }

// FuzzEscape: whatever the input, the output is one line of printable,
// valid UTF-8 that holds no terminal control.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a\nb", "\x1b[31m", "\xff\xfe", "\u202e", `\`, "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Escape(%q) = %q: invalid UTF-8", s, out)
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
				t.Fatalf("Escape(%q) = %q holds %U", s, out, r)
			}
		}
		if !strings.ContainsAny(s, "\\") && utf8.ValidString(s) && !strings.ContainsFunc(s, needsEscape) && out != s {
			t.Fatalf("Escape changed harmless %q to %q", s, out)
		}
	})
}
