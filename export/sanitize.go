package export

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxSegment is the longest path segment SanitizePath emits, in bytes; a
// longer one is cut and given a hash of the whole (filesystems allow 255).
const maxSegment = 200

// SanitizePath turns a name from outside (a file path at the source, an
// edge log path) into a relative object key path. It is injective: two
// different names never give the same result. It keeps UTF-8 text and
// spaces as they are and escapes, per slash-separated segment:
//
//   - '%', '~' and '\' as %25, %7E and %5C;
//   - control characters (C0, DEL, C1) and invalid UTF-8 bytes as %XX;
//   - a segment "." or ".." as %2E or %2E%2E, and an empty segment (from a
//     leading, trailing or doubled slash) as %2F;
//   - a segment longer than 200 bytes is cut at a character boundary and
//     ends in "~" and 16 hex digits of the SHA-256 of the whole segment
//     (a '~' can appear in no other way).
//
// The result never is or contains "..", never starts with "/", and holds no
// control characters.
func SanitizePath(name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = sanitizeSegment(s)
	}
	return strings.Join(segs, "/")
}

func sanitizeSegment(s string) string {
	switch s {
	case "":
		return "%2F"
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, "%%%02X", s[i])
		case r == '%' || r == '~' || r == '\\' || r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			for _, c := range []byte(s[i : i+size]) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	out := b.String()
	if len(out) <= maxSegment {
		return out
	}
	sum := sha256.Sum256([]byte(s))
	cut := maxSegment - 17
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	// Do not split a %XX escape.
	if j := strings.LastIndexByte(out[:cut], '%'); j >= 0 && j > cut-3 {
		cut = j
	}
	return out[:cut] + "~" + hex.EncodeToString(sum[:8])
}

// keyHashLen is the number of hex digits of the SHA-256 of the whole name
// that ends a key shortened by ObjectKey.
const keyHashLen = 32

// ObjectKey returns prefix + SanitizePath(name) when that fits in limit
// bytes. A longer key is cut, at a character boundary outside any %XX
// escape, to leave room for "~~" and 32 hex digits of the SHA-256 of the
// whole name. "~~" appears in no unshortened key (SanitizePath escapes '~'
// and its own segment marker is a single '~'), so the scheme stays
// injective. It reports false when even the shortened key cannot fit (a
// prefix too long for limit).
func ObjectKey(prefix, name string, limit int) (string, bool) {
	key := prefix + SanitizePath(name)
	if len(key) <= limit {
		return key, true
	}
	room := limit - len(prefix) - 2 - keyHashLen
	if room < 0 {
		return "", false
	}
	rel := key[len(prefix):]
	cut := room
	// The hash ends the last segment kept, which must stay within
	// maxSegment bytes too.
	if seg := strings.LastIndexByte(rel[:cut], '/') + 1; cut-seg > maxSegment-2-keyHashLen {
		cut = seg + maxSegment - 2 - keyHashLen
	}
	for cut > 0 && !utf8.RuneStart(rel[cut]) {
		cut--
	}
	if j := strings.LastIndexByte(rel[:cut], '%'); j >= 0 && j > cut-3 {
		cut = j
	}
	// A segment's own "~" marker at the cut would read as part of "~~".
	rel = strings.TrimRight(rel[:cut], "~")
	sum := sha256.Sum256([]byte(name))
	return prefix + rel + "~~" + hex.EncodeToString(sum[:keyHashLen/2]), true
}
