package bot

import (
	"net"
	"strings"
)

// IsLoopback reports whether host is "localhost" or a loopback address: the only hosts casebot
// talks to without TLS. Other names are not resolved, because what a name resolves to can
// change after the check.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
