package nats

import (
	"errors"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/oslo-go/messaging/transport/driver"
)

// secrets are the credentials of a Conn's URL (passwords, and tokens: user
// names without a password), in the forms they may take in a text: as
// given and percent-encoded. Error texts of nats.go may hold them, for
// example in the URL of a server (url.Error, or ConnectedUrlRedacted,
// which masks passwords but not tokens), so the driver scrubs every error
// it logs or returns.
type secrets []string

// minSecret is the shortest credential scrubbed from texts; shorter ones
// would mangle every message and protect nothing.
const minSecret = 3

func secretsOf(hosts []driver.Host) secrets {
	seen := map[string]bool{}
	var s secrets
	add := func(v string) {
		for _, f := range []string{v, url.QueryEscape(v), url.PathEscape(v), url.UserPassword("", v).String()[1:]} {
			if len(f) >= minSecret && !seen[f] {
				seen[f] = true
				s = append(s, f)
			}
		}
	}
	for _, h := range hosts {
		if h.Password != "" {
			add(h.Password)
		} else if h.Username != "" {
			add(h.Username) // a token
		}
	}
	// Longest first, so that a secret holding another is replaced whole.
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	return s
}

// userinfo matches the credentials of a URL in a text.
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^@/\s"']+@`)

// scrubString replaces the secrets in t, and the credentials of any URL in
// it, with "***".
func (s secrets) scrubString(t string) string {
	for _, v := range s {
		t = strings.ReplaceAll(t, v, "***")
	}
	if strings.Contains(t, "@") {
		t = userinfo.ReplaceAllString(t, "${1}***@")
	}
	return t
}

// scrub returns err, or an error with the same meaning for errors.Is and
// errors.As whose text holds no secret.
func (s secrets) scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := s.scrubString(msg); clean != msg {
		return &scrubbedError{msg: clean, err: err}
	}
	return err
}

// scrubbedError hides the text of an error that held a secret. It has no
// Unwrap, which would hand out the original text; Is and As look through
// it.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string        { return e.msg }
func (e *scrubbedError) Is(target error) bool { return errors.Is(e.err, target) }
func (e *scrubbedError) As(target any) bool   { return errors.As(e.err, target) }
