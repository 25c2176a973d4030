package driver

import (
	"log/slog"
	"strings"

	"github.com/oslo-go/messaging/internal/urlfmt"
)

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

func (u URL) parts() urlfmt.URL {
	hosts := make([]urlfmt.Host, len(u.Hosts))
	for i, h := range u.Hosts {
		hosts[i] = urlfmt.Host(h)
	}
	return urlfmt.URL{Scheme: u.Scheme, Hosts: hosts, VirtualHost: u.VirtualHost, HasVirtualHost: u.HasVirtualHost, Query: u.Query}
}

// String returns the URL with its secrets replaced by "***" (see
// transport.RedactURL), so that printing a URL never shows a password.
func (u URL) String() string { return urlfmt.Format(u.parts(), true) }

// GoString is String, for %#v.
func (u URL) GoString() string { return "driver.URL(" + u.String() + ")" }

// LogValue makes slog log the redacted form.
func (u URL) LogValue() slog.Value { return slog.StringValue(u.String()) }

// Unredacted returns the URL with its secrets, as transport.FormatURL
// does. Do not log it.
func (u URL) Unredacted() string { return urlfmt.Format(u.parts(), false) }

// String returns the host as it appears in a URL, its secrets replaced by
// "***".
func (h Host) String() string { return urlfmt.FormatHost(urlfmt.Host(h), true) }

// GoString is String, for %#v.
func (h Host) GoString() string { return "driver.Host(" + h.String() + ")" }

// LogValue makes slog log the redacted form.
func (h Host) LogValue() slog.Value { return slog.StringValue(h.String()) }
