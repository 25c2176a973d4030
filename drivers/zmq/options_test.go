package zmq

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// captureDriver records the driver options transport.Open hands it, so
// that the exported options can be unwrapped.
type captureDriver struct{ got chan []any }

var capture = captureDriver{got: make(chan []any, 1)}

func init() { transport.Register("zmqoptcapture", capture) }

func (d captureDriver) Open(_ context.Context, _ *driver.URL, cfg driver.Config) (driver.Conn, error) {
	d.got <- cfg.Options
	return nil, errors.New("capture only")
}

func parse(t *testing.T, raw string, opts ...driverOption) (*config, error) {
	t.Helper()
	u, err := transport.ParseURL(raw)
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", raw, err)
	}
	anys := make([]any, len(opts))
	for i, o := range opts {
		anys[i] = o
	}
	return parseConfig(u, anys)
}

// opt unwraps one of the exported options into the driverOption it passes
// to WithDriverOption.
func opt(t *testing.T, o transport.Option) driverOption {
	t.Helper()
	transport.Open(context.Background(), "zmqoptcapture://", o)
	got := <-capture.got
	if len(got) != 1 {
		t.Fatalf("option wrapped %d driver options", len(got))
	}
	return got[0].(driverOption)
}

func TestParseDefaults(t *testing.T) {
	c, err := parse(t, "zmq://")
	if err != nil {
		t.Fatal(err)
	}
	if c.matchmaker != matchmakerInproc || c.bindAddress != DefaultBindAddress || c.minPort != 0 ||
		c.targetExpire != DefaultTargetExpire || c.targetUpdate != DefaultTargetUpdate || c.lookupCache != 0 ||
		c.heartbeatInterval != DefaultHeartbeatInterval || c.heartbeatTimeout != DefaultHeartbeatTimeout ||
		c.maxMessageSize != DefaultMaxMessageSize {
		t.Fatalf("defaults = %+v", c)
	}
	c, err = parse(t, "zmq:///ns1")
	if err != nil || c.namespace != "ns1" {
		t.Fatalf("namespace: %+v, %v", c, err)
	}
}

func TestParseRedis(t *testing.T) {
	c, err := parse(t, "zmq+redis://:secret@10.0.0.5:6380/3?redis_prefix=p:")
	if err != nil {
		t.Fatal(err)
	}
	want := redisURLParts{addr: "10.0.0.5:6380", password: "secret", db: "3"}
	if c.matchmaker != matchmakerRedis || c.redis != want || c.redisPrefix != "p:" || c.lookupCache != DefaultRedisLookupCache {
		t.Fatalf("config = %+v", c)
	}
	o, _, err := redisOptions(c.redis, c.redisTLS)
	if err != nil || o.Addr != "10.0.0.5:6380" || o.Password != "secret" || o.DB != 3 {
		t.Fatalf("redis options = %+v, %v", o, err)
	}
	c, err = parse(t, "zmq+redis://")
	if err != nil || c.redis.addr != "127.0.0.1:6379" {
		t.Fatalf("default redis: %+v, %v", c.redis, err)
	}
	c, err = parse(t, "zmq://?matchmaker=redis&redis_url=redis://h:1/2&lookup_cache=0")
	if err != nil || c.redis.url != "redis://h:1/2" || c.lookupCache != 0 {
		t.Fatalf("redis_url: %+v, %v", c, err)
	}
	o, _, err = redisOptions(c.redis, c.redisTLS)
	if err != nil || o.Addr != "h:1" || o.DB != 2 {
		t.Fatalf("redis_url options = %+v, %v", o, err)
	}
	c, err = parse(t, "zmq://127.0.0.1:7000?matchmaker=redis")
	if err != nil || c.redis.addr != "127.0.0.1:7000" {
		t.Fatalf("host with matchmaker=redis: %+v, %v", c, err)
	}
	c, err = parse(t, "zmq://", opt(t, RedisMatchmaker("redis://r:9/0")))
	if err != nil || c.matchmaker != matchmakerRedis || c.redis.url != "redis://r:9/0" {
		t.Fatalf("RedisMatchmaker: %+v, %v", c, err)
	}
}

func TestParseStatic(t *testing.T) {
	c, err := parse(t, "zmq://?static_targets=compute=127.0.0.1:5001;tcp://127.0.0.1:5002&static_targets=compute.h1=127.0.0.1:5001")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"compute": {"127.0.0.1:5001", "127.0.0.1:5002"}, "compute.h1": {"127.0.0.1:5001"}}
	if c.matchmaker != matchmakerStatic || !reflect.DeepEqual(c.static, want) {
		t.Fatalf("static = %v (%s)", c.static, c.matchmaker)
	}
	f := filepath.Join(t.TempDir(), "targets.json")
	os.WriteFile(f, []byte(`{"compute": ["h2:6000"], "compute.h2": ["tcp://h2:6000"]}`), 0o644)
	c, err = parse(t, "zmq://?matchmaker=static&static_file="+f)
	if err != nil || !reflect.DeepEqual(c.static, map[string][]string{"compute": {"h2:6000"}, "compute.h2": {"h2:6000"}}) {
		t.Fatalf("static_file: %v, %v", c.static, err)
	}
	c, err = parse(t, "zmq://", opt(t, StaticMatchmaker(map[string][]string{"a": {"h:1"}})))
	if err != nil || c.matchmaker != matchmakerStatic || c.static["a"][0] != "h:1" {
		t.Fatalf("StaticMatchmaker: %+v, %v", c, err)
	}
}

func TestParseOptions(t *testing.T) {
	c, err := parse(t, "zmq://?bind_address=*&advertise_host=node1&min_port=5000&max_port=5010&target_expire=300&target_update=0.5"+
		"&heartbeat_interval=200ms&heartbeat_timeout=1s&dial_timeout=3s&max_message_size=4096&lookup_cache=250ms")
	if err != nil {
		t.Fatal(err)
	}
	if c.bindAddress != "0.0.0.0" || c.advertise != "node1" || c.minPort != 5000 || c.maxPort != 5010 ||
		c.targetExpire != 300*time.Second || c.targetUpdate != 500*time.Millisecond ||
		c.heartbeatInterval != 200*time.Millisecond || c.heartbeatTimeout != time.Second ||
		c.dialTimeout != 3*time.Second || c.maxMessageSize != 4096 || c.lookupCache != 250*time.Millisecond {
		t.Fatalf("config = %+v", c)
	}
	if h, err := c.advertiseHost(); err != nil || h != "node1" {
		t.Fatalf("advertise host = %q, %v", h, err)
	}
	// oslo's option names.
	c, err = parse(t, "zmq://?rpc_zmq_min_port=49153&rpc_zmq_max_port=65535&zmq_target_expire=60&zmq_target_update=20&rpc_zmq_bind_address=127.0.0.1&rpc_zmq_host=me")
	if err != nil || c.minPort != 49153 || c.maxPort != 65535 || c.targetExpire != time.Minute || c.advertise != "me" {
		t.Fatalf("oslo names: %+v, %v", c, err)
	}
	// Go options, then the query overrides them.
	c, err = parse(t, "zmq://?target_expire=9s",
		opt(t, TargetExpire(time.Minute)), opt(t, TargetUpdate(2*time.Second)), opt(t, PortRange(7000, 7001)),
		opt(t, BindAddress("127.0.0.2")), opt(t, AdvertiseHost("x")), opt(t, Heartbeat(time.Second, 4*time.Second)),
		opt(t, DialTimeout(time.Second)), opt(t, MaxMessageSize(2048)), opt(t, LookupCache(time.Second)), opt(t, RedisPrefix("q:")))
	if err != nil || c.targetExpire != 9*time.Second || c.targetUpdate != 2*time.Second || c.minPort != 7000 ||
		c.bindAddress != "127.0.0.2" || c.advertise != "x" || c.heartbeatTimeout != 4*time.Second ||
		c.dialTimeout != time.Second || c.maxMessageSize != 2048 || c.lookupCache != time.Second || c.redisPrefix != "q:" {
		t.Fatalf("Go options: %+v, %v", c, err)
	}
	mm := memMatchmakerFor("custom")
	c, err = parse(t, "zmq://", opt(t, WithMatchmaker(mm)))
	if err != nil || c.custom != mm || c.matchmaker != "" {
		t.Fatalf("WithMatchmaker: %+v, %v", c, err)
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"zmq://?bogus=1&other=2":                                     "unknown URL query parameter(s) bogus, other; known: advertise_host, bind_address",
		"zmq+sentinel://h:1":                                         "unsupported scheme",
		"zmq://?matchmaker=etcd":                                     "want inproc, redis or static",
		"zmq+redis://?matchmaker=static":                             "scheme zmq+redis with matchmaker=static",
		"zmq+redis://h1,h2":                                          "one Redis server",
		"zmq+redis://h1?redis_url=redis://h2":                        "not both",
		"zmq://h1":                                                   "the inproc matchmaker takes none",
		"zmq://?redis_url=redis://h":                                 "redis_url given",
		"zmq://?matchmaker=static":                                   "without static_targets",
		"zmq://?static_targets=nohost":                               "key=host:port",
		"zmq://?static_targets=a=h:0":                                "bad port",
		"zmq://?static_targets=a=h:1&matchmaker=inproc":              "with the inproc matchmaker",
		"zmq://?static_file=/nonexistent/file":                       "static_file",
		"zmq://?min_port=10":                                         "port range",
		"zmq://?min_port=10&max_port=5":                              "port range",
		"zmq://?min_port=x":                                          "not an integer",
		"zmq://?target_expire=-1":                                    "target_expire=\"-1\": not a positive duration",
		"zmq://?target_expire=soon":                                  "not a duration",
		"zmq://?target_expire=5s&target_update=5s":                   "must be shorter",
		"zmq://?heartbeat_interval=2s&heartbeat_timeout=1s":          "must be longer",
		"zmq://?max_message_size=10":                                 "at least 1024",
		"zmq+redis:///x":                                             "not a number",
		"zmq+redis://?redis_ssl_ca_file=/x":                          "without redis_ssl=true",
		"zmq://?redis_ssl=true":                                      "redis_ssl options given with the inproc matchmaker",
		"zmq+redis://?redis_ssl=true&redis_ssl_ca_file=/nonexistent": "redis_ssl_ca_file",
		"zmq+redis://?redis_ssl=true&redis_ssl_cert_file=/x":         "go together",
		"zmq+redis://?redis_ssl=yes please":                          "redis_ssl",
	}
	for raw, want := range cases {
		c, err := parse(t, raw)
		if err == nil && c.matchmaker == matchmakerRedis {
			_, _, err = redisOptions(c.redis, c.redisTLS)
		}
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "zmq: ") {
			t.Errorf("%s: err = %v, want one with %q", raw, err, want)
		}
	}
	if _, err := parseConfig(&transport.URL{Scheme: "zmq"}, []any{42}); err == nil || !strings.Contains(err.Error(), "unknown driver option of type int") {
		t.Errorf("foreign option: %v", err)
	}
	for _, o := range []transport.Option{TargetExpire(0), Heartbeat(0, time.Second), DialTimeout(-1), LookupCache(-1), WithMatchmaker(nil)} {
		if _, err := parse(t, "zmq://", opt(t, o)); err == nil {
			t.Errorf("bad Go option accepted")
		}
	}
}
