package zmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// logBuffer collects a transport's log lines, every level.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// openLogged opens raw with its log lines going to the returned buffer.
func openLogged(t *testing.T, raw string, opts ...transport.Option) (*transport.Transport, *logBuffer, error) {
	t.Helper()
	logs := &logBuffer{}
	tr, err := transport.Open(context.Background(), raw, append(opts, transport.WithLogger(logs.logger()))...)
	if err == nil {
		t.Cleanup(func() { tr.Close() })
	}
	return tr, logs, err
}

// serveEcho starts an echo server for tg on tr; it reports Start's error.
func serveEcho(t *testing.T, ctx context.Context, tr *transport.Transport, tg target.Target) error {
	t.Helper()
	srv, err := server.New(tr, tg, []any{&drivertest.Echo{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	t.Cleanup(func() { srv.Close() })
	return nil
}

func echo(t *testing.T, tr *transport.Transport, topic string) error {
	t.Helper()
	c, _ := client.New(tr, target.Target{Topic: topic}, client.Timeout(5*time.Second))
	got, err := client.Call[drivertest.EchoResult](context.Background(), c, "echo", drivertest.EchoArgs{Text: "hi"})
	if err == nil && got.Text != "hi" {
		t.Fatalf("echo returned %+v", got)
	}
	return err
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestRedisLazyOpen: Open does not need Redis; until Redis answers, Ping
// and Listen wait within their ctx and then report the connection error,
// and a send that may not retry fails at once with it; once Redis is up,
// everything works without reopening.
func TestRedisLazyOpen(t *testing.T) {
	noLeaks(t)
	r := newPrivateRedis(t, false)
	url := "zmq+redis://" + r.Addr() + "/0"
	start := time.Now()
	tr, _, err := openLogged(t, url)
	if err != nil {
		t.Fatalf("Open with Redis down: %v", err)
	}
	str, _, err := openLogged(t, url)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Open with Redis down took %v", el)
	}
	err = tr.Ping(ctxFor(t, 300*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Ping with Redis down: %v, want the deadline and the dial error", err)
	}
	t.Logf("Ping: %v", err)
	err = serveEcho(t, ctxFor(t, 300*time.Millisecond), str, target.Target{Topic: "lazy", Server: "s"})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("server Start with Redis down: %v, want the deadline and the dial error", err)
	}
	c, _ := client.New(tr, target.Target{Topic: "lazy"}, client.Retry(0))
	start = time.Now()
	if err := c.Cast(context.Background(), "echo", nil); err == nil || !strings.Contains(err.Error(), "connection refused") || time.Since(start) > time.Second {
		t.Fatalf("cast with Retry(0) and Redis down: %v after %v, want the dial error at once", err, time.Since(start))
	}

	r.Start(t)
	start = time.Now()
	if err := tr.Ping(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatalf("Ping once Redis is up: %v", err)
	}
	t.Logf("Ping succeeded %v after Redis started", time.Since(start).Round(time.Millisecond))
	if err := serveEcho(t, ctxFor(t, 10*time.Second), str, target.Target{Topic: "lazy", Server: "s"}); err != nil {
		t.Fatalf("server Start once Redis is up: %v", err)
	}
	if err := echo(t, tr, "lazy"); err != nil {
		t.Fatalf("call once Redis is up: %v", err)
	}
	// A send that may wait (the default) rides out a short outage.
	r.Stop()
	time.Sleep(200 * time.Millisecond)
	c2, _ := client.New(tr, target.Target{Topic: "lazy2"}, client.Timeout(10*time.Second))
	errc := make(chan error, 1)
	start = time.Now()
	go func() { errc <- c2.Cast(context.Background(), "echo", nil) }()
	time.Sleep(time.Second)
	r.Start(t)
	if err := <-errc; !errors.Is(err, transport.ErrNoServers) {
		t.Fatalf("cast during a Redis outage: %v, want ErrNoServers once Redis is back (nobody listens on lazy2)", err)
	}
	t.Logf("cast waited %v for Redis", time.Since(start).Round(time.Millisecond))
}

// TestRedisRestart: after Redis restarts empty, servers register again as
// soon as it answers, not only at their next target_update.
func TestRedisRestart(t *testing.T) {
	noLeaks(t)
	r := newPrivateRedis(t, false)
	r.Start(t)
	url := "zmq+redis://" + r.Addr() + "/0?target_update=20s&target_expire=60s"
	str, _, _ := openLogged(t, url)
	if err := serveEcho(t, ctxFor(t, 10*time.Second), str, target.Target{Topic: "restart", Server: "s"}); err != nil {
		t.Fatal(err)
	}
	tr, _, _ := openLogged(t, url+"&lookup_cache=0")
	if err := echo(t, tr, "restart"); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	time.Sleep(500 * time.Millisecond)
	r.Start(t)
	start := time.Now()
	for {
		err := echo(t, tr, "restart")
		if err == nil {
			break
		}
		if time.Since(start) > 15*time.Second {
			t.Fatalf("no server registered %v after Redis restarted: %v", time.Since(start), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("served again %v after Redis restarted empty (target_update 20s)", time.Since(start).Round(time.Millisecond))
}

// TestRedisTLS: the Redis matchmaker over TLS (a private redis-server with
// a test CA that asks for client certificates) verifies the certificate
// against the system's CAs or redis_ssl_ca_file, and the host name;
// skipping verification takes redis_ssl_insecure and logs a warning.
func TestRedisTLS(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	r := newPrivateRedis(t, true, "--tls-cert-file", pki.ServerCert, "--tls-key-file", pki.ServerKey,
		"--tls-ca-cert-file", pki.CA, "--tls-auth-clients", "yes")
	r.Start(t)
	port := strconv.Itoa(r.Port)
	client := "&redis_ssl_cert_file=" + pki.ClientCert + "&redis_ssl_key_file=" + pki.ClientKey
	for _, tc := range []struct {
		name, url string
		fail      string // "": works; else what the error says (alternatives separated by "|")
		warn      bool   // logs that verification is off
	}{
		{"rediss with the CA", "zmq://?matchmaker=redis&redis_url=rediss://localhost:" + port + "/0&redis_ssl_ca_file=" + pki.CA + client, "", false},
		{"host form with the CA", "zmq+redis://localhost:" + port + "/0?redis_ssl=true&redis_ssl_ca_file=" + pki.CA + client, "", false},
		{"system CAs", "zmq+redis://localhost:" + port + "/0?redis_ssl=true" + client, "certificate signed by unknown authority", false},
		{"unrelated CA", "zmq+redis://localhost:" + port + "/0?redis_ssl=true&redis_ssl_ca_file=" + pki.OtherCA + client, "certificate signed by unknown authority", false},
		{"host name not in the certificate", "zmq+redis://127.0.0.1:" + port + "/0?redis_ssl=true&redis_ssl_ca_file=" + pki.CA + client, "doesn't contain any IP SANs", false},
		{"no client certificate", "zmq+redis://localhost:" + port + "/0?redis_ssl=true&redis_ssl_ca_file=" + pki.CA, "certificate required|reset by peer|EOF", false},
		{"insecure", "zmq+redis://127.0.0.1:" + port + "/0?redis_ssl=true&redis_ssl_insecure=true" + client, "", true},
		{"rediss skip_verify", "zmq://?matchmaker=redis&redis_url=rediss://127.0.0.1:" + port + "/0%3Fskip_verify%3Dtrue" + client, "", true},
		{"plain to the TLS port", "zmq+redis://localhost:" + port + "/0", "deadline", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, logs, err := openLogged(t, tc.url)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			err = tr.Ping(ctxFor(t, 2*time.Second))
			if tc.fail == "" {
				if err != nil {
					t.Fatalf("Ping: %v\n%s", err, logs)
				}
				if err := serveEcho(t, ctxFor(t, 5*time.Second), tr, target.Target{Topic: "tls", Server: "s"}); err != nil {
					t.Fatal(err)
				}
				if err := echo(t, tr, "tls"); err != nil {
					t.Fatal(err)
				}
			} else if err == nil || !containsAny(err.Error(), strings.Split(tc.fail, "|")) {
				t.Fatalf("Ping: %v, want an error with %q", err, tc.fail)
			} else {
				t.Logf("Ping: %v", err)
			}
			warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "without certificate verification")
			if warned != tc.warn {
				t.Fatalf("warning that verification is off: %v, want %v\n%s", warned, tc.warn, logs)
			}
		})
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestRedisSecrets: Redis credentials (in the URL's user info or in
// redis_url) appear in no error and no log line: with a wrong password,
// with an unknown option next to redis_url, with a redis_url that does
// not parse.
func TestRedisSecrets(t *testing.T) {
	noLeaks(t)
	const good, bad = "G00dS3cr3tRedisPW", "WrongS3cr3tRedisPW"
	r := newPrivateRedis(t, false, "--requirepass", good)
	r.Start(t)
	addr := r.Addr()
	check := func(t *testing.T, what, text string) {
		t.Helper()
		for _, pw := range []string{good, bad} {
			if strings.Contains(text, pw) {
				t.Errorf("%s shows a password:\n%s", what, text)
			}
		}
	}
	for _, tc := range []struct {
		name, url string
		openFails bool
		pingOK    bool
	}{
		{"good password", "zmq+redis://:" + good + "@" + addr + "/0", false, true},
		{"good password in redis_url", "zmq://?matchmaker=redis&redis_url=redis://:" + good + "@" + addr + "/0", false, true},
		{"wrong password", "zmq+redis://:" + bad + "@" + addr + "/0", false, false},
		{"wrong password in redis_url", "zmq://?matchmaker=redis&redis_url=redis://:" + bad + "@" + addr + "/0", false, false},
		{"wrong user and password", "zmq://?matchmaker=redis&redis_url=redis://someone:" + bad + "@" + addr + "/0", false, false},
		{"unknown option next to redis_url", "zmq://?matchmaker=redis&redis_url=redis://:" + bad + "@" + addr + "/0&bogus=1", true, false},
		{"redis_url that does not parse", "zmq://?matchmaker=redis&redis_url=redis://:" + bad + "@" + addr + ":x/0", true, false},
		{"unknown option inside redis_url", "zmq://?matchmaker=redis&redis_url=redis://:" + bad + "@" + addr + "/0%3Fbogus%3D1", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, logs, err := openLogged(t, tc.url)
			if tc.openFails {
				if err == nil {
					t.Fatal("Open succeeded")
				}
				t.Logf("Open: %v", err)
				check(t, "the Open error", err.Error())
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			err = tr.Ping(ctxFor(t, time.Second))
			if (err == nil) != tc.pingOK {
				t.Fatalf("Ping: %v", err)
			}
			if err != nil {
				t.Logf("Ping: %v", err)
				check(t, "the Ping error", err.Error())
				err = serveEcho(t, ctxFor(t, 500*time.Millisecond), tr, target.Target{Topic: "secret", Server: "s"})
				if err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
					t.Fatalf("server Start with a wrong password: %v, want WRONGPASS", err)
				}
				check(t, "the Start error", err.Error())
				c, _ := client.New(tr, target.Target{Topic: "secret"}, client.Timeout(500*time.Millisecond))
				err = c.Call(context.Background(), "echo", nil, nil)
				check(t, "the call error", err.Error())
			}
			tr.Close()
			check(t, "the log", logs.String())
			check(t, "the transport URL", fmt.Sprintf("%v %+v %#v", tr.URL(), tr.URL(), tr.URL()))
		})
	}
}
