package rabbit

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// probeDriver records the driver options transport.Open hands to a
// driver, so that the option functions can be tested without a broker.
type probeDriver struct{}

var (
	probeMu  sync.Mutex
	probeOut []any
)

func init() { transport.Register("rabbitoptionprobe", probeDriver{}) }

func (probeDriver) Open(_ context.Context, _ *driver.URL, cfg driver.Config) (driver.Conn, error) {
	probeOut = cfg.Options
	return nil, errors.New("probe")
}

// driverOpts returns the driver options carried by opts.
func driverOpts(t *testing.T, opts ...transport.Option) []any {
	t.Helper()
	probeMu.Lock()
	defer probeMu.Unlock()
	probeOut = nil
	transport.Open(context.Background(), "rabbitoptionprobe://", opts...)
	return probeOut
}

func TestOptionDefaults(t *testing.T) {
	o, err := parseOptions(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := options{
		transientTTL: 1800, heartbeatTimeout: 60, heartbeatRate: 3, failover: "round-robin",
		reconnectDelay: time.Second, retryInterval: time.Second, retryBackoff: 2 * time.Second,
		intervalMax: 30 * time.Second, missingConsumerRetry: 60 * time.Second, directMandatory: true,
		sslVerifyHostname: true, loginMethod: "AMQPLAIN", connPoolSize: 30, connPoolMinSize: 2, connPoolTTL: 1200,
		publishChannels: defaultPublishChannels, maxMessageSize: DefaultMaxMessageSize, decompressBudget: DefaultDecompressBudget,
	}
	if *o != want {
		t.Fatalf("defaults:\n got %+v\nwant %+v", *o, want)
	}
}

func TestOptionsFromQuery(t *testing.T) {
	tests := []struct {
		name    string
		query   map[string]string
		opts    []transport.Option
		check   func(o *options) bool
		wantErr string
	}{
		{name: "durable", query: map[string]string{"amqp_durable_queues": "true"}, check: func(o *options) bool { return o.durableQueues && o.durable() }},
		{name: "bool spellings", query: map[string]string{"amqp_auto_delete": "Yes", "rabbit_ha_queues": "1", "ssl": "off"},
			check: func(o *options) bool { return o.autoDelete && o.haQueues && !o.ssl }},
		{name: "quorum makes durable", query: map[string]string{"rabbit_quorum_queue": "true", "rabbit_quorum_delivery_limit": "5"},
			check: func(o *options) bool { return o.quorum && o.durable() && o.quorumDeliveryLimit == 5 }},
		{name: "14.0 misspelling", query: map[string]string{"rabbit_quroum_max_memory_length": "10", "rabbit_quroum_max_memory_bytes": "2048"},
			check: func(o *options) bool { return o.quorumMaxMemoryLength == 10 && o.quorumMaxMemoryBytes == 2048 }},
		{name: "deprecated name", query: map[string]string{"kombu_reconnect_timeout": "5"}, check: func(o *options) bool { return o.missingConsumerRetry == 5*time.Second }},
		{name: "float seconds", query: map[string]string{"kombu_reconnect_delay": "0.5"}, check: func(o *options) bool { return o.reconnectDelay == 500*time.Millisecond }},
		{name: "reconnect delay max", query: map[string]string{"kombu_reconnect_delay": "5"}, wantErr: "kombu_reconnect_delay"},
		{name: "ttl", query: map[string]string{"rabbit_transient_queues_ttl": "60"}, check: func(o *options) bool { return o.transientTTL == 60 }},
		{name: "ttl negative", query: map[string]string{"rabbit_transient_queues_ttl": "-1"}, wantErr: "below the minimum"},
		{name: "prefetch", query: map[string]string{"rabbit_qos_prefetch_count": "100"},
			check: func(o *options) bool { return o.prefetchFor(8) == 100 && o.prefetchFor(0) == 100 }},
		{name: "prefetch unlimited as oslo", query: map[string]string{"rabbit_qos_prefetch_count": "0"}, check: func(o *options) bool { return o.prefetchFor(8) == 0 }},
		{name: "prefetch from capacity", check: func(o *options) bool { return o.prefetchFor(8) == 8 && o.prefetchFor(0) == defaultCapacity }},
		{name: "max message size", query: map[string]string{"max_message_size": "1048576", "decompress_budget": "4096"},
			check: func(o *options) bool { return o.maxMessageSize == 1<<20 && o.decompressBudget == 1<<20 }},
		{name: "max message size too small", query: map[string]string{"max_message_size": "10"}, wantErr: "max_message_size"},
		{name: "insecure TLS", query: map[string]string{"ssl": "true", "ssl_insecure_skip_verify": "true"}, check: func(o *options) bool { return o.sslInsecure }},
		{name: "heartbeat alias", query: map[string]string{"heartbeat": "30"}, check: func(o *options) bool { return o.heartbeatTimeout == 30 }},
		{name: "shuffle", query: map[string]string{"kombu_failover_strategy": "shuffle"}, check: func(o *options) bool { return o.failover == "shuffle" }},
		{name: "bad failover", query: map[string]string{"kombu_failover_strategy": "random"}, wantErr: "round-robin, shuffle"},
		{name: "gzip", query: map[string]string{"kombu_compression": "gzip"}, check: func(o *options) bool { return o.compression == "gzip" }},
		{name: "bz2 send unsupported", query: map[string]string{"kombu_compression": "bz2"}, wantErr: "bz2"},
		{name: "login plain", query: map[string]string{"rabbit_login_method": "plain"}, check: func(o *options) bool { return o.loginMethod == "PLAIN" }},
		{name: "login bad", query: map[string]string{"rabbit_login_method": "RABBIT-CR-DEMO"}, wantErr: "rabbit_login_method"},
		{name: "ssl version", query: map[string]string{"ssl_version": "TLSv1_2"}, check: func(o *options) bool { return o.sslVersion == "TLSv1_2" }},
		{name: "ssl version bad", query: map[string]string{"ssl_version": "sslv3"}, wantErr: "invalid SSL version"},
		{name: "mandatory off", query: map[string]string{"direct_mandatory_flag": "false"}, check: func(o *options) bool { return !o.directMandatory }},
		{name: "cancel on failover", query: map[string]string{"enable_cancel_on_failover": "true"},
			check: func(o *options) bool { return o.consumerArgs()["x-cancel-on-ha-failover"] == true }},
		{name: "pool options accepted", query: map[string]string{"rpc_conn_pool_size": "10", "conn_pool_ttl": "60"}, check: func(o *options) bool { return o.connPoolSize == 10 }},
		{name: "queue manager unsupported", query: map[string]string{"use_queue_manager": "true"}, wantErr: "not supported"},
		{name: "quorum and HA", query: map[string]string{"rabbit_quorum_queue": "true", "rabbit_ha_queues": "true"}, wantErr: "both enabled"},
		{name: "transient quorum and HA", query: map[string]string{"rabbit_transient_quorum_queue": "true", "rabbit_ha_queues": "true"}, wantErr: "both enabled"},
		{name: "cert without key", query: map[string]string{"ssl_cert_file": "/x.pem"}, wantErr: "together"},
		{name: "not a number", query: map[string]string{"heartbeat_timeout_threshold": "soon"}, wantErr: "not an integer"},
		{name: "not a bool", query: map[string]string{"ssl": "maybe"}, wantErr: "not a boolean"},
		{name: "unknown key", query: map[string]string{"rabbit_max_retries": "3"},
			wantErr: `unknown URL query parameter(s) rabbit_max_retries; known: amqp_auto_delete, amqp_durable_queues`},
		{name: "go options", opts: []transport.Option{DurableQueues(true), PrefetchCount(7), HeartbeatTimeout(90 * time.Second),
			FailoverStrategy("shuffle"), ReconnectDelay(250 * time.Millisecond), MissingConsumerRetryTimeout(2 * time.Second),
			Compression("gzip"), LoginMethod("PLAIN"), ConnectionName("nova-api"), QuorumQueues(true), QuorumDeliveryLimit(3),
			TransientQueuesTTL(10 * time.Minute), DirectMandatory(false), CancelOnFailover(true), PublishChannels(2),
			MaxMessageSize(1 << 20), DecompressBudget(8 << 20), TLSInsecureSkipVerify(true)},
			check: func(o *options) bool {
				return o.durableQueues && o.prefetch == 7 && o.heartbeatTimeout == 90 && o.failover == "shuffle" &&
					o.reconnectDelay == 250*time.Millisecond && o.missingConsumerRetry == 2*time.Second && o.compression == "gzip" &&
					o.loginMethod == "PLAIN" && o.connectionName == "nova-api" && o.quorum && o.quorumDeliveryLimit == 3 &&
					o.transientTTL == 600 && !o.directMandatory && o.cancelOnFailover && o.publishChannels == 2 &&
					o.maxMessageSize == 1<<20 && o.decompressBudget == 8<<20 && o.sslInsecure
			}},
		{name: "query overrides go", opts: []transport.Option{DurableQueues(true), PrefetchCount(7)},
			query: map[string]string{"amqp_durable_queues": "false"},
			check: func(o *options) bool { return !o.durableQueues && o.prefetch == 7 }},
		{name: "param", opts: []transport.Option{Param("rabbit_qos_prefetch_count", "9")}, check: func(o *options) bool { return o.prefetch == 9 }},
		{name: "param unknown", opts: []transport.Option{Param("nope", "1")}, wantErr: `unknown option "nope"`},
		{name: "go option invalid", opts: []transport.Option{FailoverStrategy("first")}, wantErr: "kombu_failover_strategy"},
		{name: "tls config", opts: []transport.Option{TLSConfig(&tls.Config{ServerName: "x"})}, check: func(o *options) bool { return o.ssl && o.tlsConfig.ServerName == "x" }},
		{name: "go quorum and HA", opts: []transport.Option{QuorumQueues(true), HAQueues(true)}, wantErr: "both enabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.query, driverOpts(t, tt.opts...))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "rabbit: ") {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(o) {
				t.Fatalf("options = %+v", *o)
			}
		})
	}
}

func TestUnknownDriverOptionType(t *testing.T) {
	_, err := parseOptions(nil, []any{42})
	if err == nil || !strings.Contains(err.Error(), "unknown driver option of type int") {
		t.Fatalf("err = %v", err)
	}
}

func TestQueueArguments(t *testing.T) {
	def, _ := parseOptions(nil, nil)
	if args := def.topicQueue("t").args; args != nil {
		t.Fatalf("default topic queue args = %v, want none", args)
	}
	if args := def.transientQueue("reply_x").args; len(args) != 1 || args["x-expires"] != int32(1800000) {
		t.Fatalf("default transient queue args = %v", args)
	}
	q, _ := parseOptions(map[string]string{"rabbit_quorum_queue": "true", "rabbit_quorum_delivery_limit": "3",
		"rabbit_quorum_max_memory_length": "100", "rabbit_quorum_max_memory_bytes": "4096"}, nil)
	want := amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int32(3), "x-max-in-memory-length": int32(100), "x-max-in-memory-bytes": int32(4096)}
	if got := q.topicQueue("t"); !got.durable || !tablesEqual(got.args, want) {
		t.Fatalf("quorum topic queue = %+v", got)
	}
	if got := q.transientQueue("f"); got.durable || got.args["x-queue-type"] != nil {
		t.Fatalf("transient queue with quorum = %+v (14.0 declares no quorum transient queues)", got)
	}
	tq, _ := parseOptions(map[string]string{"rabbit_transient_quorum_queue": "true", "rabbit_transient_queues_ttl": "0"}, nil)
	if got := tq.transientQueue("f"); !got.durable || got.args["x-queue-type"] != "quorum" || got.args["x-expires"] != nil {
		t.Fatalf("transient quorum queue = %+v", got)
	}
	if x := tq.fanoutExchange("t"); !x.durable || !x.autoDelete || x.name != "t_fanout" || x.kind != "fanout" {
		t.Fatalf("fanout exchange = %+v", x)
	}
	ha, _ := parseOptions(map[string]string{"rabbit_ha_queues": "true", "amqp_auto_delete": "true"}, nil)
	if got := ha.topicQueue("t"); !got.autoDelete || got.args["x-ha-policy"] != "all" {
		t.Fatalf("HA queue = %+v", got)
	}
	if got := ha.transientQueue("r"); got.autoDelete || got.args["x-ha-policy"] != "all" || got.args["x-expires"] != int32(1800000) {
		t.Fatalf("HA transient queue = %+v", got)
	}
	if x := ha.topicExchange("openstack"); x.durable || !x.autoDelete || x.kind != "topic" {
		t.Fatalf("topic exchange = %+v", x)
	}
}

func tablesEqual(a, b amqp.Table) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
