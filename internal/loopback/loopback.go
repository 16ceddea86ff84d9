// Package loopback tells whether a host name or address stays on this
// machine. It is the one check behind every "plain http only to loopback"
// rule (S3 endpoints, Genesys URLs, the daemon's listen address) and the
// tests' "traffic to 127.0.0.1 only" guard.
package loopback

import (
	"net"
	"strings"
)

// Is reports whether host (a name or an IP address without a port, as
// url.URL.Hostname returns it) is "localhost" or a loopback address
// (127.0.0.0/8, ::1).
func Is(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
