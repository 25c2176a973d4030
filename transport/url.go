package transport

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/oslo-go/messaging/internal/urlfmt"
	"github.com/oslo-go/messaging/transport/driver"
)

// URL is a parsed transport URL; see driver.URL.
type URL = driver.URL

// Host is one broker address in a URL.
type Host = driver.Host

// ErrInvalidURL is matched (with errors.Is) by every error ParseURL returns.
var ErrInvalidURL = errors.New("transport: invalid transport URL")

// InvalidURLError reports a URL that cannot be parsed (oslo's
// InvalidTransportURL). It matches ErrInvalidURL.
type InvalidURLError struct {
	// URL is the string as given to ParseURL, passwords included; Error
	// redacts them.
	URL string
	// Reason says what is wrong, for example "No scheme specified".
	Reason string
}

// Error returns "transport: invalid transport URL " + the URL with its
// passwords replaced by "***" + ": " + Reason. The URL is Go-quoted when it
// is empty or holds spaces, control characters or invalid UTF-8.
//
// Passwords are found as ParseURL finds them, with two extra guesses for
// URLs that failed because a password holds an unencoded "/", "?", "#" or
// ",": the host list is taken to run up to the last "@", and an item with a
// ":" but no "@" is joined with the following items up to one with an "@".
// A password that also holds an unencoded "@" may still show in part.
func (e *InvalidURLError) Error() string {
	r := redactRaw(e.URL)
	if needsQuote(r) {
		r = strconv.Quote(r)
	}
	return "transport: invalid transport URL " + r + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidURL) hold.
func (e *InvalidURLError) Is(target error) bool { return target == ErrInvalidURL }

// ParseURL parses a transport URL with the rules of oslo.messaging's
// TransportURL.parse:
//
//	scheme://[user[:pass]@]host[:port][,[user[:pass]@]host[:port]...][/virtual_host][?key=value&...]
//
// In detail:
//
//   - The scheme is the text before the first ":" (a letter, then letters,
//     digits, "+", "-", "."), lower-cased as Python's urlparse does; a
//     string without one fails with "No scheme specified".
//   - The host list is the text after "//" up to the first "/", "?" or "#";
//     it is split on ","; empty items are skipped. An item's credentials are
//     the text before its last "@", split on the first ":" into user name
//     and password, each percent-decoded. The rest is host[:port],
//     "[ipv6]" or "[ipv6]:port", or an IPv6 address without brackets and
//     without port (a host with two or more colons). Both forms must hold
//     a valid IPv6 address (with an optional "%zone"). Ports are decimal,
//     0 to 65535. Host names are kept as written (not decoded, not
//     lower-cased). An item with credentials but no host is allowed.
//   - A path starting with "/" gives the virtual host: the percent-decoded
//     rest of the path ("rabbit:///" gives "", "rabbit:////" gives "/").
//   - The query is parsed as Python's parse_qs does: "+" is a space,
//     items without "=" or with an empty value are dropped, repeated keys
//     are joined with ",". Query is never nil.
//   - A "#fragment" is ignored.
//
// Where Go differs from Python: control characters anywhere, a leading
// space and spaces in the host list are rejected (Python strips or keeps
// them); percent-decoding keeps invalid UTF-8 bytes as they are (Python
// substitutes U+FFFD); text other than ":port" after "]" is rejected
// (Python ignores it); "[" or "]" inside a host name is rejected; IPv6
// addresses are checked in every host, bracketed or not (recent Pythons
// check only the last host, and only when bracketed, so "h:5672:1" is a
// host name there and an error here); and an item that
// yields no host name, port or credentials (such as ":0" or "@") is skipped like an empty item, since a zero [Host] cannot be
// written back.
func ParseURL(s string) (*URL, error) {
	fail := func(reason string) (*URL, error) {
		return nil, &InvalidURLError{URL: s, Reason: reason}
	}
	if s == "" {
		return fail("No scheme specified")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return fail(fmt.Sprintf("control character %U at byte %d", rune(c), i))
		}
	}
	if s[0] == ' ' {
		return fail("leading space")
	}
	scheme, rest, ok := splitScheme(s)
	if !ok {
		return fail("No scheme specified")
	}
	u := &URL{Scheme: strings.ToLower(scheme), Query: map[string]string{}}

	var netloc string
	if strings.HasPrefix(rest, "//") {
		rest = rest[2:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		netloc, rest = rest[:end], rest[end:]
	}
	rest, _, _ = strings.Cut(rest, "#")
	path, query, _ := strings.Cut(rest, "?")

	if strings.IndexByte(netloc, ' ') >= 0 {
		return fail("space in the host list")
	}
	for _, item := range strings.Split(netloc, ",") {
		if item == "" {
			continue
		}
		h, reason := parseHost(item)
		if reason != "" {
			if !strings.Contains(item, "@") && strings.Contains(s, "@") {
				reason += ` (percent-encode "/", "?", "#", "," and "@" in user names and passwords)`
			}
			return fail(reason)
		}
		if h == (Host{}) {
			continue
		}
		u.Hosts = append(u.Hosts, h)
	}

	if strings.HasPrefix(path, "/") {
		u.VirtualHost = unquote(path[1:])
		u.HasVirtualHost = true
	}

	parseQuery(query, u.Query)
	return u, nil
}

// splitScheme splits s at its first ":" when what comes before is a scheme,
// as Python's urlsplit does.
func splitScheme(s string) (scheme, rest string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i <= 0 || !isLetter(s[0]) {
		return "", s, false
	}
	for j := 1; j < i; j++ {
		c := s[j]
		if !isLetter(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return "", s, false
		}
	}
	return s[:i], s[i+1:], true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// parseHost parses one item of the host list. It returns a non-empty reason
// when the item is invalid; reasons never quote the item, which may hold a
// mangled password.
func parseHost(item string) (h Host, reason string) {
	hostport := item
	if at := strings.LastIndexByte(item, '@'); at >= 0 {
		user, pass, _ := strings.Cut(item[:at], ":")
		h.Username, h.Password = unquote(user), unquote(pass)
		hostport = item[at+1:]
	}
	if hostport == "" {
		return h, ""
	}
	var port string
	hasPort := false
	switch {
	case hostport[0] == '[':
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return h, `IPv6 host without closing "]"`
		}
		h.Hostname = hostport[1:end]
		if !isIPv6(h.Hostname) {
			return h, "invalid IPv6 address in brackets"
		}
		if after := hostport[end+1:]; after != "" {
			if after[0] != ':' {
				return h, `text other than ":port" after "]" of an IPv6 host`
			}
			port, hasPort = after[1:], true
		}
	case strings.Count(hostport, ":") == 1:
		h.Hostname, port, _ = strings.Cut(hostport, ":")
		hasPort = true
	default:
		// No colon: a plain host. Two or more: an IPv6 address without
		// brackets, which cannot have a port.
		h.Hostname = hostport
		if strings.IndexByte(hostport, ':') >= 0 && !isIPv6(hostport) {
			return h, `host with several ":" is not an IPv6 address`
		}
	}
	if strings.ContainsAny(h.Hostname, "[]") {
		return h, `unbalanced "[" or "]" in a host`
	}
	if hasPort {
		p, reason := parsePort(port)
		if reason != "" {
			return h, reason
		}
		h.Port = p
	}
	return h, ""
}

// isIPv6 reports whether s is an IPv6 address, with an optional zone.
func isIPv6(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6()
}

// parsePort parses a decimal port number in 0..65535.
func parsePort(s string) (int, string) {
	if s == "" {
		return 0, "invalid port: empty"
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, "invalid port: not a decimal number"
		}
		n = n*10 + int(s[i]-'0')
		if n > 65535 {
			return 0, "invalid port: out of range 0-65535"
		}
	}
	return n, ""
}

// parseQuery adds the parameters of q to m as Python's parse_qs does with
// keep_blank_values false, joining repeated keys with ",".
func parseQuery(q string, m map[string]string) {
	for item := range strings.SplitSeq(q, "&") {
		k, v, ok := strings.Cut(item, "=")
		if !ok || v == "" {
			continue
		}
		k = unquote(strings.ReplaceAll(k, "+", " "))
		v = unquote(strings.ReplaceAll(v, "+", " "))
		if old, dup := m[k]; dup {
			v = old + "," + v
		}
		m[k] = v
	}
}

// unquote percent-decodes s as Python's urllib.parse.unquote does: a "%"
// not followed by two hex digits is kept as it is. Decoded bytes are kept
// even when they are not valid UTF-8.
func unquote(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
		}
		b = append(b, c)
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// FormatURL formats u back to its string form as oslo's TransportURL.__str__
// does: user names and passwords percent-encoded, IPv6 hosts in brackets,
// "/" and the percent-encoded virtual host when HasVirtualHost (or
// VirtualHost is set), then "?" and the query sorted by key. ParseURL gives
// back an equal URL for every URL it returned. Query parameters with empty
// values are written but, as in oslo, dropped when parsed. FormatURL(nil)
// is "". The result holds the URL's secrets: do not log it.
func FormatURL(u *URL) string {
	if u == nil {
		return ""
	}
	return u.Unredacted()
}

// RedactURL is FormatURL with the secrets replaced by "***", for logs and
// errors: passwords, user names given without a password (a NATS token),
// the values of query parameters whose name says secret (password, token,
// ...) and the credentials of URLs in query values (redis_url). The String
// and LogValue methods of a URL give the same.
func RedactURL(u *URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}

// redactRaw hides the passwords of a URL that may not parse; see
// InvalidURLError.Error.
func redactRaw(s string) string {
	start := 0
	if i := strings.Index(s, "//"); i >= 0 {
		start = i + 2
	}
	from := start
	if at := strings.LastIndexByte(s[start:], '@'); at >= 0 {
		from += at
	}
	end := len(s)
	if i := strings.IndexAny(s[from:], "/?#"); i >= 0 {
		end = from + i
	}
	items := strings.Split(s[start:end], ",")
	out := make([]string, 0, len(items))
	for i := 0; i < len(items); i++ {
		item := items[i]
		if strings.Contains(item, ":") && !strings.Contains(item, "@") {
			// Perhaps a password with an unencoded ",": join up to the
			// next item with credentials.
			for j := i + 1; j < len(items); j++ {
				if strings.Contains(items[j], "@") {
					item = strings.Join(items[i:j+1], ",")
					i = j
					break
				}
			}
		}
		out = append(out, redactItem(item))
	}
	return s[:start] + strings.Join(out, ",") + redactRawQuery(s[end:])
}

// redactItem replaces the credentials of one host item with "***": the
// password, or a user name given alone.
func redactItem(item string) string {
	at := strings.LastIndexByte(item, '@')
	if at < 0 {
		return item
	}
	colon := strings.IndexByte(item[:at], ':')
	if colon < 0 {
		return urlfmt.Mask + item[at:]
	}
	return item[:colon+1] + urlfmt.Mask + item[at:]
}

// redactRawQuery masks, in the unparsed rest of a URL, the values of
// secret keys and the credentials of URLs in values.
func redactRawQuery(rest string) string {
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		return rest
	}
	frag := ""
	if h := strings.IndexByte(rest[q:], '#'); h >= 0 {
		rest, frag = rest[:q+h], rest[q+h:]
	}
	items := strings.Split(rest[q+1:], "&")
	for i, item := range items {
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			continue
		}
		dv := unquote(strings.ReplaceAll(v, "+", " "))
		if rv := urlfmt.RedactValue(unquote(k), dv); rv != dv {
			items[i] = k + "=" + rv
		}
	}
	return rest[:q+1] + strings.Join(items, "&") + frag
}

// needsQuote reports whether s should be Go-quoted in an error message.
func needsQuote(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if r == ' ' || !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}
