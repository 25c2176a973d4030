package nats

import (
	"context"
	"crypto/tls"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

func mustParseURL(t *testing.T, s string) *driver.URL {
	t.Helper()
	u, err := transport.ParseURL(s)
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", s, err)
	}
	return u
}

// driverOpts unwraps transport options into what the driver receives.
func driverOpts(opts ...transport.Option) []any {
	var out []any
	for _, o := range opts {
		// Each exported option is transport.WithDriverOption(option.Func[config]).
		out = append(out, unwrapOption(o))
	}
	return out
}

func TestServerURLs(t *testing.T) {
	tests := []struct {
		url        string
		want       []string
		user, pass string
	}{
		{"nats://", []string{"nats://127.0.0.1:4222"}, "", ""},
		{"nats:///", []string{"nats://127.0.0.1:4222"}, "", ""},
		{"nats://h1", []string{"nats://h1:4222"}, "", ""},
		{"nats://h1:4333,h2", []string{"nats://h1:4333", "nats://h2:4222"}, "", ""},
		{"nats://u1:p1@h1:1,u2:p2@h2:2", []string{"nats://u1:p1@h1:1", "nats://u2:p2@h2:2"}, "", ""},
		{"nats://u:p@h1,u:p@h2", []string{"nats://u:p@h1:4222", "nats://u:p@h2:4222"}, "u", "p"},
		{"nats://tok@h1", []string{"nats://tok@h1:4222"}, "", ""},
		{"nats://u:p%2Fw%40x@h1", []string{"nats://u:p%2Fw%40x@h1:4222"}, "u", "p/w@x"},
		{"nats://[::1]:4222,::1", []string{"nats://[::1]:4222", "nats://[::1]:4222"}, "", ""},
	}
	for _, tt := range tests {
		c, err := parseConfig(mustParseURL(t, tt.url), nil)
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		if !reflect.DeepEqual(c.servers, tt.want) || c.user != tt.user || c.password != tt.pass {
			t.Errorf("%s: servers %q user %q pass %q; want %q %q %q", tt.url, c.servers, c.user, c.password, tt.want, tt.user, tt.pass)
		}
	}
}

func TestRedactedServers(t *testing.T) {
	got := redactedServers([]string{"nats://u:secret@h1:1", "nats://h2:2"})
	if strings.Contains(got, "secret") || got != "nats://***@h1:1,nats://h2:2" {
		t.Fatalf("redactedServers = %q", got)
	}
}

func TestQueryParams(t *testing.T) {
	c, err := parseConfig(mustParseURL(t, "nats://h/?subject_prefix=a.b&name=svc&connect_timeout=3&reconnect_wait=250ms"+
		"&max_reconnects=7&ping_interval=1m&listener_buffer=10&large_message_ttl=0.5&tls=yes&tls_ca_file=/ca&tls_cert_file=/c"+
		"&tls_key_file=/k&tls_server_name=nats.example&tls_insecure=false&creds_file=/creds&notify_max_age=0&notify_max_bytes=-1"+
		"&notify_max_msgs=100&notify_replicas=3&notify_storage=memory&notify_ack_wait=5s&notify_max_deliver=9"+
		"&notify_inactive_threshold=1h&notify_prefetch=2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	want.servers = []string{"nats://h:4222"}
	want.prefix, want.name = "a.b", "svc"
	want.connectTimeout, want.reconnectWait, want.maxReconnects = 3*time.Second, 250*time.Millisecond, 7
	want.pingInterval, want.listenerBuffer, want.largeTTL = time.Minute, 10, 500*time.Millisecond
	want.tls, want.tlsCAFile, want.tlsCertFile, want.tlsKeyFile = true, "/ca", "/c", "/k"
	want.tlsServerName, want.credsFile = "nats.example", "/creds"
	want.notify = notifyConfig{maxAge: 0, maxBytes: -1, maxMsgs: 100, replicas: 3, memory: true,
		ackWait: 5 * time.Second, maxDeliver: 9, inactive: time.Hour, prefetch: 2}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("config\n got %+v\nwant %+v", c, want)
	}
	if len(c.natsOpts()) == 0 {
		t.Fatal("no nats.go options")
	}
}

func TestQueryParamErrors(t *testing.T) {
	tests := []struct{ url, want string }{
		{"nats://h/?bogus=1&zzz=2", "unknown URL query parameter(s) bogus, zzz; known: connect_timeout, creds_file,"},
		{"nats://h/?connect_timeout=soon", "connect_timeout=\"soon\": not a duration"},
		{"nats://h/?connect_timeout=0", "connect_timeout=\"0\": not a positive duration"},
		{"nats://h/?reconnect_wait=-1s", "reconnect_wait=\"-1s\": not a positive duration"},
		{"nats://h/?max_reconnects=x", "max_reconnects=\"x\": not an integer"},
		{"nats://h/?max_reconnects=-2", "-2 is below the minimum -1"},
		{"nats://h/?tls=maybe", "tls=\"maybe\": not a boolean"},
		{"nats://h/?notify_storage=disk", `want "file" or "memory"`},
		{"nats://h/?notify_replicas=0", "0 is below the minimum 1"},
		{"nats://h/?subject_prefix=a..b", "empty token"},
		{"nats://h/?subject_prefix=a.>", "forbid"},
		{"nats://h/vhost", "virtual host \"vhost\""},
		{"nats://h/?tls_cert_file=/c", "tls_cert_file and tls_key_file go together"},
	}
	for _, tt := range tests {
		_, err := parseConfig(mustParseURL(t, tt.url), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "nats: ") {
			t.Errorf("%s: err = %v, want it to contain %q", tt.url, err, tt.want)
		}
	}
}

func TestUnknownQueryListsAll(t *testing.T) {
	_, err := parseConfig(mustParseURL(t, "nats://h/?bogus=1"), nil)
	for _, k := range queryParams.Names() {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error %q does not list %s", err, k)
		}
	}
}

func TestOptions(t *testing.T) {
	tc := &tls.Config{ServerName: "x"}
	opts := driverOpts(SubjectPrefix("p"), ConnectionName("n"), ConnectTimeout(time.Second), ReconnectWait(0),
		MaxReconnects(3), PingInterval(time.Second), ListenerBuffer(5), LargeMessageTTL(time.Minute), TLSConfig(tc),
		CredentialsFile("/f"), NotifyMaxAge(time.Hour), NotifyMaxBytes(10), NotifyMaxMsgs(11), NotifyReplicas(2),
		NotifyMemoryStorage(true), NotifyAckWait(time.Second), NotifyMaxDeliver(4), NotifyInactiveThreshold(time.Minute),
		NotifyPrefetch(3), NATSOptions())
	c, err := parseConfig(mustParseURL(t, "nats://h"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.prefix != "p" || c.name != "n" || c.connectTimeout != time.Second || c.reconnectWait != 0 || c.maxReconnects != 3 ||
		c.pingInterval != time.Second || c.listenerBuffer != 5 || c.largeTTL != time.Minute || c.tlsConfig != tc || !c.tls ||
		c.credsFile != "/f" {
		t.Errorf("connection settings: %+v", c)
	}
	want := notifyConfig{maxAge: time.Hour, maxBytes: 10, maxMsgs: 11, replicas: 2, memory: true, ackWait: time.Second,
		maxDeliver: 4, inactive: time.Minute, prefetch: 3}
	if c.notify != want {
		t.Errorf("notify = %+v, want %+v", c.notify, want)
	}
	// The URL wins over options.
	c, err = parseConfig(mustParseURL(t, "nats://h/?subject_prefix=url"), driverOpts(SubjectPrefix("opt")))
	if err != nil || c.prefix != "url" {
		t.Errorf("prefix = %q, %v; want the URL's", c.prefix, err)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, o := range []transport.Option{SubjectPrefix("a..b"), ConnectTimeout(0), ReconnectWait(-1), ListenerBuffer(0),
		LargeMessageTTL(0), NotifyMaxAge(-1), NotifyReplicas(0), NotifyAckWait(0), NotifyInactiveThreshold(-1), NotifyPrefetch(0)} {
		_, err := parseConfig(mustParseURL(t, "nats://h"), driverOpts(o))
		if err == nil || !strings.HasPrefix(err.Error(), "nats: ") {
			t.Errorf("%T: err = %v", unwrapOption(o), err)
		}
	}
	_, err := parseConfig(mustParseURL(t, "nats://h"), []any{42})
	if err == nil || !strings.Contains(err.Error(), "unknown driver option of type int") {
		t.Errorf("foreign option: err = %v", err)
	}
}

// TestOpenRejectsBadURL checks that transport.Open fails for a URL that
// cannot work, before connecting, and does not fail for a server that
// cannot be reached (it connects in the background, see TestLazyOpen).
func TestOpenRejectsBadURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct{ url, want string }{
		{"nats://127.0.0.1:1/?bogus=1", "bogus"},
		{"nats://127.0.0.1:1/?tls_ca_file=/nonexistent/ca.pem", "rootCA"},
		{"nats://127.0.0.1:1/?tls_cert_file=/x", "tls_cert_file and tls_key_file go together"},
	} {
		if _, err := transport.Open(ctx, tc.url); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q): err = %v, want %q", tc.url, err, tc.want)
		}
	}
	tr, err := transport.Open(ctx, "nats://127.0.0.1:1/", ConnectTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatalf("Open of an unreachable server: %v", err)
	}
	tr.Close()
	// Unless the user turns nats.go's retries of the first connection off.
	_, err = transport.Open(ctx, "nats://127.0.0.1:1/", NATSOptions(natsgo.RetryOnFailedConnect(false)))
	if err == nil || !strings.Contains(err.Error(), "nats: connecting to nats://127.0.0.1:1") || errors.Is(err, transport.ErrInvalidURL) {
		t.Fatalf("Open without retries of an unreachable server: %v", err)
	}
}

// captureDriver records the driver options transport.Open hands it, so
// that tests can see what the exported option functions produce.
type captureDriver struct{}

var captured = make(chan []any, 1)

var errCaptured = errors.New("captured")

func (captureDriver) Open(_ context.Context, _ *driver.URL, cfg driver.Config) (driver.Conn, error) {
	captured <- cfg.Options
	return nil, errCaptured
}

func init() { transport.Register("natsoptcapture", captureDriver{}) }

// unwrapOption returns the value a driver receives for o.
func unwrapOption(o transport.Option) any {
	if _, err := transport.Open(context.Background(), "natsoptcapture://", o); !errors.Is(err, errCaptured) {
		panic(err)
	}
	opts := <-captured
	if len(opts) != 1 {
		panic("want one driver option")
	}
	return opts[0]
}
