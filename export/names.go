package export

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// EscapeName turns a slash-separated source path that may hold bytes that
// are not UTF-8 (file names on Unix are bytes) into text that keeps every
// byte, so that two different names never record as one. JSON, and so a
// manifest, can only hold UTF-8: a raw name would be recorded with U+FFFD in
// place of each bad byte, and two files could share an ID.
//
// A valid UTF-8 name is returned as it is, so IDs recorded before this
// scheme still match. In a name that is not, each segment that is not
// valid UTF-8 is written as a segment "." followed by the segment with '%'
// as %25 and each byte that is not part of a UTF-8 character as %XX:
//
//	logs/caf\xe9.log  ->  logs/./caf%E9.log
//
// A listed path never has a "." segment, so the escaped form can be told
// from any real name, and UnescapeName gives the name back.
func EscapeName(name string) string {
	if utf8.ValidString(name) {
		return name
	}
	segs := strings.Split(name, "/")
	out := make([]string, 0, len(segs)+1)
	for _, s := range segs {
		if utf8.ValidString(s) {
			out = append(out, s)
			continue
		}
		var b strings.Builder
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size <= 1:
				fmt.Fprintf(&b, "%%%02X", s[i])
			case r == '%':
				b.WriteString("%25")
			default:
				b.WriteString(s[i : i+size])
			}
			i += size
		}
		out = append(out, ".", b.String())
	}
	return strings.Join(out, "/")
}

// UnescapeName reverses EscapeName. It reports false for text that
// EscapeName cannot have produced.
func UnescapeName(escaped string) (string, bool) {
	segs := strings.Split(escaped, "/")
	out := make([]string, 0, len(segs))
	for i := 0; i < len(segs); i++ {
		if segs[i] != "." {
			out = append(out, segs[i])
			continue
		}
		i++
		if i == len(segs) {
			return "", false
		}
		s, ok := unescapeSegment(segs[i])
		if !ok {
			return "", false
		}
		out = append(out, s)
	}
	name := strings.Join(out, "/")
	if EscapeName(name) != escaped {
		return "", false
	}
	return name, true
}

func unescapeSegment(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+3 > len(s) {
			return "", false
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), true
}
