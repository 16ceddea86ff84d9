package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s safe to print on one line of a terminal: control
// characters (newlines, ESC and the rest of C0 and C1), Unicode format
// characters (bidirectional overrides, zero-width characters), line and
// paragraph separators and invalid UTF-8 are written as Go escapes
// (\n, \x1b, \u202e), and a backslash as \\, so an escape in the output
// always means the input held that character. Printable text, including
// non-ASCII letters, is kept as it is.
func Escape(s string) string {
	i := strings.IndexFunc(s, needsEscape)
	if i < 0 && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case r == '\\':
			b.WriteString(`\\`)
		case needsEscape(r):
			q := fmt.Sprintf("%+q", string(r)) // "\n", "\x1b", "\u202e"
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}

func needsEscape(r rune) bool {
	return r == '\\' || r < 0x20 || (r >= 0x7f && r < 0xa0) ||
		unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || r == utf8.RuneError
}

// Printf writes format to w with every string, error and fmt.Stringer
// argument escaped (see Escape). Every text printer of the commands goes
// through it, so a string read from a store cannot end a line early,
// start a fake one or send terminal escapes. The format itself is trusted.
func Printf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format, escapeArgs(args)...) //nolint:errcheck // terminal output
}

func escapeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = Escape(v)
		case error:
			out[i] = Escape(v.Error())
		case fmt.Stringer:
			out[i] = Escape(v.String())
		default:
			out[i] = a
		}
	}
	return out
}
