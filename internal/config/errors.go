package config

import (
	"fmt"
	"strings"
)

// FieldError is one problem in a configuration. Parse joins all of them
// with errors.Join, so the joined error prints one problem per line and its
// Unwrap() []error method returns them one by one.
//
// Messages never contain the value of a Secret, nor a value that came from
// an environment variable (they show the ${NAME} reference instead).
type FieldError struct {
	// Path is the key path, e.g. "streams[1].source.path". The whole
	// document is "config".
	Path string
	// Line is the 1-based YAML line the problem was found at, or 0.
	Line int
	// Msg says what is wrong.
	Msg string
}

// Error returns "PATH: MSG (line N)".
func (e *FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: %s (line %d)", e.Path, e.Msg, e.Line)
	}
	return e.Path + ": " + e.Msg
}

// rootPath names the whole document in errors.
const rootPath = "config"

// join appends a key to a path. A key that is not a plain name (only an
// unknown key can be one) is quoted like a map key, so that a path stays
// unambiguous and on one line.
func join(path, key string) string {
	if !plainKey(key) {
		return mapKey(path, key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// plainKey reports whether key matches [a-z_][a-z0-9_]*, as every key of
// the configuration does.
func plainKey(key string) bool {
	for i, c := range key {
		if !(c == '_' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return key != ""
}

// oneLine keeps a message on one line: Parse's error prints one problem per
// line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// index appends a list index to a path.
func index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// mapKey appends a map key to a path; the key is quoted, since it may hold
// dots or brackets.
func mapKey(path, key string) string {
	return fmt.Sprintf("%s[%q]", path, key)
}

// parent returns the path one level up, or "" at the top.
func parent(path string) string {
	if strings.HasSuffix(path, "]") {
		// Skip over a quoted map key, which may itself contain '['.
		if strings.HasSuffix(path, `"]`) {
			if i := strings.LastIndex(path, `["`); i >= 0 {
				return path[:i]
			}
		}
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}
