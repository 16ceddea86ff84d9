package config

import (
	"fmt"
	"log/slog"
)

// redacted is what a Secret prints as, whichever way it is printed.
const redacted = "[REDACTED]"

// Secret holds a credential. Every way of printing or encoding it (fmt with
// any verb, encoding/json, YAML, encoding.TextMarshaler, log/slog) yields
// "[REDACTED]"; only Reveal returns the value.
type Secret string

// Reveal returns the secret value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

// String returns "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString returns "[REDACTED]", for %#v.
func (s Secret) GoString() string { return redacted }

// Format prints "[REDACTED]" for every verb, so that %d, %x or a wrong verb
// cannot print the underlying string.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = fmt.Fprintf(f, "%q", redacted)
		return
	}
	_, _ = f.Write([]byte(redacted))
}

// LogValue makes log/slog print "[REDACTED]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON encodes the secret as the JSON string "[REDACTED]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[REDACTED]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalYAML encodes the secret as "[REDACTED]".
func (s Secret) MarshalYAML() (any, error) { return redacted, nil }
