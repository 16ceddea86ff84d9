package cli

import (
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/dustin/go-humanize/english"
)

// Size writes a byte count in binary units: "0 B", "1.5 KiB", "2.0 GiB".
func Size(n int64) string {
	if n < 0 {
		return "-" + humanize.IBytes(uint64(-n))
	}
	return humanize.IBytes(uint64(n))
}

// Rate writes n bytes over d as a rate: "12 MiB/s" (empty for no time).
func Rate(n int64, d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return humanize.IBytes(uint64(float64(max(n, 0))/d.Seconds())) + "/s"
}

// Count writes n with its noun, singular or plural: "1 file", "2 files",
// "0 problems". plural may be empty for a regular noun (noun + "s").
func Count(n int, noun, plural string) string {
	return english.Plural(n, noun, plural)
}

// Duration writes d without zero units: "1h", "5m", "1h30m", "24h", "90s".
func Duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
