// Package urlfmt formats transport URLs, with or without their secrets,
// for package transport (FormatURL, RedactURL) and package transport/driver
// (the String and LogValue methods of URL and Host), which cannot import
// each other.
package urlfmt

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Mask replaces every secret in redacted output.
const Mask = "***"

// Host is one host of a URL.
type Host struct {
	Hostname string
	Port     int
	Username string
	Password string
}

// URL is the parts of a transport URL.
type URL struct {
	Scheme         string
	Hosts          []Host
	VirtualHost    string
	HasVirtualHost bool
	Query          map[string]string
}

// Format writes u as oslo's TransportURL.__str__ does. With redact,
// secrets become Mask: passwords, user names given without a password
// (NATS tokens, Redis passwords written as the user), the values of query
// keys that name a secret (password, token, secret, credential, ...) and
// the credentials of URLs inside query values (redis_url).
func Format(u URL, redact bool) string {
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteString("://")
	for i, h := range u.Hosts {
		if i > 0 {
			b.WriteByte(',')
		}
		writeHost(&b, h, redact)
	}
	if u.HasVirtualHost || u.VirtualHost != "" {
		b.WriteByte('/')
		b.WriteString(Quote(u.VirtualHost, "/"))
	}
	if len(u.Query) > 0 {
		keys := make([]string, 0, len(u.Query))
		for k := range u.Query {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i == 0 {
				b.WriteByte('?')
			} else {
				b.WriteByte('&')
			}
			v := u.Query[k]
			if redact {
				v = RedactValue(k, v)
			}
			b.WriteString(QuotePlus(k))
			b.WriteByte('=')
			if v == Mask {
				b.WriteString(Mask)
			} else {
				b.WriteString(QuotePlus(v))
			}
		}
	}
	return b.String()
}

// FormatHost writes one host, as it appears in a URL, without the "@"
// when it has no credentials.
func FormatHost(h Host, redact bool) string {
	var b strings.Builder
	writeHost(&b, h, redact)
	return b.String()
}

func writeHost(b *strings.Builder, h Host, redact bool) {
	if h.Username != "" || h.Password != "" {
		switch {
		case redact && h.Password == "":
			b.WriteString(Mask) // a user name alone is often a token
		case redact:
			b.WriteString(Quote(h.Username, ""))
			b.WriteString(":" + Mask)
		default:
			b.WriteString(Quote(h.Username, ""))
			if h.Password != "" {
				b.WriteByte(':')
				b.WriteString(Quote(h.Password, ""))
			}
		}
		b.WriteByte('@')
	}
	if strings.Contains(h.Hostname, ":") {
		b.WriteByte('[')
		b.WriteString(h.Hostname)
		b.WriteByte(']')
	} else {
		b.WriteString(h.Hostname)
	}
	if h.Port != 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(h.Port))
	}
}

// secretWords mark query keys whose values are secrets.
var secretWords = []string{"password", "passwd", "pwd", "secret", "token", "credential", "auth", "nkey", "seed"}

// IsSecretKey reports whether a query key names a secret.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// RedactValue returns the value of query key k with its secrets masked:
// Mask for a secret key, the value with the credentials of a URL in it
// masked, or the value itself.
func RedactValue(k, v string) string {
	if IsSecretKey(k) {
		return Mask
	}
	if !strings.Contains(v, "@") {
		return v
	}
	if pu, err := url.Parse(v); err == nil && pu.User != nil && pu.Host != "" {
		pu.User = url.User(Mask)
		s := pu.String()
		return strings.Replace(s, url.QueryEscape(Mask)+"@", Mask+"@", 1)
	}
	// Not a URL we can parse: hide everything up to the last "@".
	return Mask + v[strings.LastIndexByte(v, '@'):]
}

// Quote percent-encodes s as Python's urllib.parse.quote(s, safe) does:
// letters, digits, "_.-~" and the bytes in safe are kept.
func Quote(s, safe string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("_.-~", c) >= 0 || strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// QuotePlus is Python's urllib.parse.quote_plus: Quote with spaces as "+".
func QuotePlus(s string) string {
	return strings.ReplaceAll(Quote(s, " "), " ", "+")
}
