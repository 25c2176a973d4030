package driver

import "strings"

// URL is a parsed transport URL (oslo's TransportURL):
//
//	scheme://[user:pass@]host:port[,[user2:pass2@]host2:port2]/virtual_host?key=value
//
// Package transport parses it; drivers read it.
type URL struct {
	// Scheme is the full scheme, for example "rabbit" or "zmq+redis".
	Scheme string
	// Hosts are the listed hosts in order, each with its own credentials.
	Hosts []Host
	// VirtualHost is the percent-decoded path after the first "/":
	// "rabbit:///" gives "", "rabbit:////" gives "/", "rabbit:///x" gives "x".
	VirtualHost string
	// HasVirtualHost reports whether the URL had a path at all.
	HasVirtualHost bool
	// Query holds the query parameters; repeated keys are joined with ","
	// and parameters with empty values are dropped, as oslo does.
	Query map[string]string
}

// Host is one broker address with its credentials.
type Host struct {
	Hostname string // IPv6 addresses without brackets
	Port     int    // 0 when not given
	Username string
	Password string
}

// Driver returns the driver name: the scheme up to the first "+"
// ("kombu+memory" gives "kombu").
func (u *URL) Driver() string {
	d, _, _ := strings.Cut(u.Scheme, "+")
	return d
}
