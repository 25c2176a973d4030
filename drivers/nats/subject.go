package nats

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Subject layout. Every field (exchange, topic, server, message id) is one
// subject token, escaped by appendToken; see doc.go.
const (
	// DefaultSubjectPrefix is the first token(s) of every subject the
	// driver uses, except reply inboxes.
	DefaultSubjectPrefix = "oslo"

	// queueGroup is the queue group of the topic and server subscriptions.
	// Queue groups are scoped by subject, so one name serves all targets.
	queueGroup = "rpc"

	// escapeChar starts an escape in a token. It is not "%": nats-server
	// puts consumer names in format strings.
	escapeChar = '~'

	// nameSep joins escaped tokens into JetStream names, which cannot hold
	// "."; appendToken never writes it.
	nameSep = "+"

	// blobToken is the last token of the subject a Conn serves chunks of
	// its large messages on, under its reply inbox. appendToken never
	// produces it ("~" is always followed by two hex digits, or alone).
	blobToken = "~B"

	// maxNameLen bounds stream and consumer names; JetStream allows 255
	// bytes. Longer names are shortened with a hash (see shortName).
	maxNameLen = 255
)

// isSafe reports whether c is kept as it is in a subject token; every
// other byte becomes ~XX.
func isSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

const upperHex = "0123456789ABCDEF"

// tokenLen returns the length of s escaped by appendToken.
func tokenLen(s string) int {
	if s == "" {
		return 1
	}
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !isSafe(s[i]) {
			n += 2
		}
	}
	return n
}

// appendToken appends s escaped as one subject token: bytes other than
// A-Z a-z 0-9 "-" "_" become "~" and two upper-case hex digits, and the
// empty string becomes "~". The result is never empty and never holds ".",
// "*", ">", "%", "+", "=", white space or non-ASCII bytes, and distinct
// strings give distinct tokens.
func appendToken(b []byte, s string) []byte {
	if s == "" {
		return append(b, escapeChar)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isSafe(c) {
			b = append(b, c)
		} else {
			b = append(b, escapeChar, upperHex[c>>4], upperHex[c&0x0f])
		}
	}
	return b
}

// escapeToken returns s escaped as one subject token (see appendToken).
func escapeToken(s string) string {
	n := tokenLen(s)
	if n == len(s) {
		return s
	}
	return string(appendToken(make([]byte, 0, n), s))
}

var errBadToken = errors.New("nats: malformed escaped subject token")

// unescapeToken reverses escapeToken.
func unescapeToken(tok string) (string, error) {
	if tok == string(escapeChar) {
		return "", nil
	}
	if strings.IndexByte(tok, escapeChar) < 0 {
		for i := 0; i < len(tok); i++ {
			if !isSafe(tok[i]) {
				return "", errBadToken
			}
		}
		return tok, nil
	}
	b := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c == escapeChar:
			if i+2 >= len(tok) {
				return "", errBadToken
			}
			hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
			if hi < 0 || lo < 0 || isSafe(byte(hi<<4|lo)) {
				return "", errBadToken // not what appendToken writes
			}
			b = append(b, byte(hi<<4|lo))
			i += 2
		case isSafe(c):
			b = append(b, c)
		default:
			return "", errBadToken
		}
	}
	return string(b), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// validatePrefix checks a subject prefix: one or more non-empty tokens
// separated by ".", without wildcards or white space.
func validatePrefix(p string) error {
	if p == "" {
		return errors.New("nats: empty subject prefix")
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return fmt.Errorf("nats: subject prefix %q has an empty token", p)
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c <= ' ' || c == 0x7f || c == '*' || c == '>' {
				return fmt.Errorf("nats: subject prefix %q holds %q, which subjects forbid", p, c)
			}
		}
		if tok == "*" || tok == ">" {
			return fmt.Errorf("nats: subject prefix %q holds a wildcard", p)
		}
	}
	return nil
}

// subjects builds the subjects of one subject prefix.
type subjects struct {
	prefix string // for example "oslo"
}

// build joins the prefix, the fixed kind token and the escaped fields.
func (s subjects) build(kind string, fields ...string) string {
	n := len(s.prefix) + 1 + len(kind)
	for _, f := range fields {
		n += 1 + tokenLen(f)
	}
	b := make([]byte, 0, n)
	b = append(b, s.prefix...)
	b = append(b, '.')
	b = append(b, kind...)
	for _, f := range fields {
		b = append(b, '.')
		b = appendToken(b, f)
	}
	return string(b)
}

// topic is the subject of a topic's competing consumers:
// <prefix>.rpc.<exchange>.<topic>.
func (s subjects) topic(exchange, topic string) string { return s.build("rpc", exchange, topic) }

// server is the subject of one server of a topic:
// <prefix>.rpc.<exchange>.<topic>.<server>.
func (s subjects) server(exchange, topic, server string) string {
	return s.build("rpc", exchange, topic, server)
}

// fanout is the subject every server of a topic receives, in any
// exchange: <prefix>.fanout.<topic>.
func (s subjects) fanout(topic string) string { return s.build("fanout", topic) }

// notify is the subject of notifications of one topic (priority
// included): <prefix>.notify.<exchange>.<topic>.
func (s subjects) notify(exchange, topic string) string { return s.build("notify", exchange, topic) }

// notifyStreamSubject is the subject the notification stream of an
// exchange captures: <prefix>.notify.<exchange>.*.
func (s subjects) notifyStreamSubject(exchange string) string {
	return s.build("notify", exchange) + ".*"
}

// streamName is the JetStream stream of the notifications of an exchange:
// <escaped prefix>+notify+<escaped exchange>.
func (s subjects) streamName(exchange string) string {
	return shortName(escapeToken(s.prefix) + nameSep + "notify" + nameSep + escapeToken(exchange))
}

// consumerName is the durable consumer of a notification topic for a
// pool: <escaped topic> for the default pool, <escaped topic>+<escaped
// pool> for a named pool.
func consumerName(topic, pool string) string {
	if pool == "" {
		return shortName(escapeToken(topic))
	}
	return shortName(escapeToken(topic) + nameSep + escapeToken(pool))
}

// shortName keeps names within JetStream's limit: a longer name is cut and
// ends with "=" and a hash of the whole name. Names made of escaped tokens
// never hold "=", so a shortened name cannot equal a name left as it is.
func shortName(name string) string {
	if len(name) <= maxNameLen {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:12])
	return name[:maxNameLen-1-len(h)] + "=" + h
}

// replySubject is the reply subject of a call: <inbox>.<escaped msg id>,
// followed by "=<ms>" when the request expires (its expiration in whole
// milliseconds, rounded up, like an AMQP expiration). Escaped tokens never
// hold "=", so the suffix is unambiguous; carrying it in the subject spares
// a NATS header, which nats.go parses at a cost on every message.
func replySubject(inbox, msgID string, expiration time.Duration) string {
	// One allocation per call: the bytes are built on the stack when they
	// fit, then copied into the string.
	var stack [128]byte
	b := stack[:0]
	if n := len(inbox) + 1 + tokenLen(msgID) + 21; n > len(stack) {
		b = make([]byte, 0, n)
	}
	b = append(b, inbox...)
	b = append(b, '.')
	b = appendToken(b, msgID)
	if expiration > 0 {
		ms := (expiration + time.Millisecond - 1) / time.Millisecond
		b = append(b, '=')
		b = strconv.AppendInt(b, int64(ms), 10)
	}
	return string(b)
}

// parseReplyToken splits the last token of a reply subject into the
// message id and the expiration (zero when absent).
func parseReplyToken(token string) (msgID string, expiration time.Duration, err error) {
	if tok, exp, ok := strings.Cut(token, "="); ok {
		token = tok
		if ms, perr := strconv.ParseInt(exp, 10, 64); perr == nil && ms > 0 {
			expiration = time.Duration(ms) * time.Millisecond
		}
	}
	msgID, err = unescapeToken(token)
	return msgID, expiration, err
}
