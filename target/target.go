// Package target describes where an RPC message goes and which endpoints
// accept it: the Go form of oslo.messaging's Target.
//
// A Target is a plain value. The fields a role needs differ:
//
//	role                   required           optional
//	RPC server             Topic, Server      Exchange
//	endpoint (dispatcher)  -                  Namespace, Version, LegacyNamespaces
//	client                 Topic              everything else
//	notifier / listener    Topic              Exchange
//
// Versions are "X.Y" or "X.Y.Z" strings; [Compatible] applies oslo's rules.
// An empty Namespace is oslo's null namespace and an empty Version is oslo's
// None.
package target

import (
	"errors"
	"strconv"
	"strings"
)

// Target identifies a destination (client side) or a set of accepted
// messages (server and endpoint side).
type Target struct {
	// Exchange groups topics. Empty means the transport's control exchange
	// ("openstack" unless changed).
	Exchange string
	// Topic names the service, for example "trove-taskmanager".
	Topic string
	// Namespace scopes method names on an endpoint. Empty is the null
	// namespace.
	Namespace string
	// Version is the API version a client requests or an endpoint
	// implements, "X.Y" or "X.Y.Z".
	Version string
	// Server addresses one server of a topic. On a server target it names
	// the server.
	Server string
	// Fanout sends a cast to every server listening on Topic.
	Fanout bool
	// LegacyNamespaces are extra namespaces an endpoint also accepts.
	LegacyNamespaces []string
}

// AcceptedNamespaces returns Namespace followed by LegacyNamespaces: the
// namespaces an endpoint with this target accepts.
func (t Target) AcceptedNamespaces() []string {
	return append([]string{t.Namespace}, t.LegacyNamespaces...)
}

// Accepts reports whether ns is one of the target's accepted namespaces.
func (t Target) Accepts(ns string) bool {
	if t.Namespace == ns {
		return true
	}
	for _, l := range t.LegacyNamespaces {
		if l == ns {
			return true
		}
	}
	return false
}

// String formats the target as oslo does, listing the fields that are set:
// <Target topic=compute, server=host-1>.
func (t Target) String() string {
	var b strings.Builder
	b.WriteString("<Target")
	sep := " "
	add := func(k, v string) {
		b.WriteString(sep)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		sep = ", "
	}
	if t.Exchange != "" {
		add("exchange", t.Exchange)
	}
	if t.Topic != "" {
		add("topic", t.Topic)
	}
	if t.Namespace != "" {
		add("namespace", t.Namespace)
	}
	if t.Version != "" {
		add("version", t.Version)
	}
	if t.Server != "" {
		add("server", t.Server)
	}
	if t.Fanout {
		add("fanout", "True")
	}
	if len(t.LegacyNamespaces) > 0 {
		add("legacy_namespaces", "["+strings.Join(t.LegacyNamespaces, ", ")+"]")
	}
	b.WriteByte('>')
	return b.String()
}

// ErrInvalidTarget is matched by every [*InvalidTargetError].
var ErrInvalidTarget = errors.New("target: invalid target")

// InvalidTargetError reports a target that cannot be used in a role. Reason
// is oslo's text, for example "A call cannot be used with fanout".
type InvalidTargetError struct {
	Reason string
	Target Target
}

// Error implements the error interface.
func (e *InvalidTargetError) Error() string {
	return "target: " + e.Reason + ": " + e.Target.String()
}

// Is makes errors.Is(err, ErrInvalidTarget) hold.
func (e *InvalidTargetError) Is(target error) bool { return target == ErrInvalidTarget }

// ValidateServer checks the target of an RPC server: it needs Topic and Server.
func (t Target) ValidateServer() error {
	if t.Topic == "" || t.Server == "" {
		return &InvalidTargetError{Reason: "A server's target must have topic and server names specified", Target: t}
	}
	return nil
}

// ValidateSend checks a client target for a cast: it needs Topic, and its
// Version, when set, must parse.
func (t Target) ValidateSend() error {
	if t.Topic == "" {
		return &InvalidTargetError{Reason: "A topic is required to send", Target: t}
	}
	if t.Version != "" {
		if _, err := ParseVersion(t.Version); err != nil {
			return err
		}
	}
	return nil
}

// ValidateCall checks a client target for a call: as [Target.ValidateSend],
// and a call cannot go to a fanout target.
func (t Target) ValidateCall() error {
	if err := t.ValidateSend(); err != nil {
		return err
	}
	if t.Fanout {
		return &InvalidTargetError{Reason: "A call cannot be used with fanout", Target: t}
	}
	return nil
}

// ValidateListener checks a notification target: it needs Topic.
func (t Target) ValidateListener() error {
	if t.Topic == "" {
		return &InvalidTargetError{Reason: "A topic is required to listen for notifications", Target: t}
	}
	return nil
}

// Version is a parsed "X.Y" or "X.Y.Z" version. Rev is 0 when absent.
type Version struct {
	Major, Minor, Rev int
	// HasRev records whether the text had a third component.
	HasRev bool
}

// String formats the version as it was written ("1.2" or "1.2.3").
func (v Version) String() string {
	s := strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor)
	if v.HasRev {
		s += "." + strconv.Itoa(v.Rev)
	}
	return s
}

// VersionError reports a version string that is not "X.Y" or "X.Y.Z".
type VersionError struct{ Version string }

// Error implements the error interface.
func (e *VersionError) Error() string {
	return "target: Version must contain a major and minor integer. Got " + e.Version
}

// ParseVersion parses "X.Y" or "X.Y.Z" where each part is a non-negative
// decimal integer of at most 9 digits. It does not allocate unless it
// fails.
func ParseVersion(s string) (Version, error) {
	var n [3]int
	part, digits := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 9 {
				return Version{}, &VersionError{Version: s}
			}
			n[part] = n[part]*10 + int(c-'0')
			digits++
		case c == '.' && digits > 0 && part < 2:
			part++
			digits = 0
		default:
			return Version{}, &VersionError{Version: s}
		}
	}
	if part == 0 || digits == 0 {
		return Version{}, &VersionError{Version: s}
	}
	return Version{Major: n[0], Minor: n[1], Rev: n[2], HasRev: part == 2}, nil
}

// Compatible reports whether an implementation at version have can serve a
// request for version want, with oslo's version_is_compatible rules: an
// empty have accepts anything; an empty want is refused by a non-empty have;
// otherwise the majors must be equal and want's minor must not exceed
// have's, and with equal minors want's revision must not exceed have's.
// A version that does not parse is not compatible.
func Compatible(have, want string) bool {
	if have == "" {
		return true
	}
	if want == "" {
		return false
	}
	h, err := ParseVersion(have)
	if err != nil {
		return false
	}
	w, err := ParseVersion(want)
	if err != nil {
		return false
	}
	if h.Major != w.Major || w.Minor > h.Minor {
		return false
	}
	if w.Minor == h.Minor && w.Rev > h.Rev {
		return false
	}
	return true
}
