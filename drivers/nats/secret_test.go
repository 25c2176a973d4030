package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// TestTokenNeverShown opens transports on a token-protected server with a
// wrong token and with the right one: the token appears in no error and no
// log line, Debug included (nats.go's ConnectedUrlRedacted masks passwords
// but not tokens).
func TestTokenNeverShown(t *testing.T) {
	const token, wrong = "S3cr3tT0kenValue", "WrongS3cr3tToken"
	port := startNATS(t, func(o *server.Options) { o.Authorization = token })
	logs := captureLogs(t)
	ctx := ctxFor(t, 20*time.Second)

	bad, err := transport.Open(ctx, fmt.Sprintf("nats://%s@127.0.0.1:%d", wrong, port), transport.WithLogger(logs.log), ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	perr := bad.Ping(pctx)
	cancel()
	if perr == nil || !strings.Contains(strings.ToLower(perr.Error()), "authorization") {
		t.Fatalf("Ping with a wrong token: %v, want an authorization error", perr)
	}
	c, _ := client.New(bad, target.Target{Topic: uniqueTopic(t)}, client.Timeout(time.Second))
	cerr := c.Call(ctx, "echo", nil, nil)
	if !errors.Is(cerr, transport.ErrConnectionLost) {
		t.Errorf("call on a transport whose token is refused: %v, want ErrConnectionLost", cerr)
	}
	bad.Close()

	good, err := transport.Open(ctx, fmt.Sprintf("nats://%s@127.0.0.1:%d", token, port), transport.WithLogger(logs.log))
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := good.Ping(ctx); err != nil {
		t.Fatalf("Ping with the token: %v", err)
	}
	tp := uniqueTopic(t)
	startServer(t, good, target.Target{Topic: tp, Server: "s"}, newEcho("s"))
	gc, _ := client.New(good, target.Target{Topic: tp})
	if err := gc.Call(ctx, "echo", echoArgs{Text: "x"}, nil); err != nil {
		t.Fatal(err)
	}

	for what, text := range map[string]string{
		"Ping error": perr.Error(), "Call error": cerr.Error(), "logs": logs.String(),
		"URL": fmt.Sprintf("%v %+v %#v", good.URL(), *good.URL(), good.URL()),
	} {
		for _, secret := range []string{token, wrong} {
			if strings.Contains(text, secret) {
				t.Errorf("%s show the token %q:\n%s", what, secret, text)
			}
		}
	}
	if !strings.Contains(logs.String(), "nats: connected") {
		t.Errorf("no connection logged:\n%s", logs)
	}
}

func TestScrub(t *testing.T) {
	s := secretsOf(mustParseURL(t, "nats://tok%2Fen@h1,user:p%40ss%20word@h2,u:pw@h3").Hosts)
	for _, tc := range []struct{ in, want string }{
		{"nats: parse \"nats://tok/en@h1:4222\": bad", "nats: parse \"nats://***@h1:4222\": bad"},
		{"token tok/en, escaped tok%2Fen", "token ***, escaped ***"},
		{"password p@ss word or p%40ss+word or p%40ss%20word", "password *** or *** or ***"},
		{"pw is too short to scrub, u too", "pw is too short to scrub, u too"},
		{"tls://user:anything@host", "tls://***@host"},
	} {
		if got := s.scrubString(tc.in); got != tc.want {
			t.Errorf("scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	inner := fmt.Errorf("dial nats://tok/en@h1: %w", context.DeadlineExceeded)
	err := s.scrub(inner)
	if strings.Contains(err.Error(), "tok/en") || !errors.Is(err, context.DeadlineExceeded) || errors.Unwrap(err) != nil {
		t.Fatalf("scrubbed error %q: Is %v, Unwrap %v", err, errors.Is(err, context.DeadlineExceeded), errors.Unwrap(err))
	}
	if plain := errors.New("nothing secret"); s.scrub(plain) != plain {
		t.Fatal("an error without secrets was wrapped")
	}
}
