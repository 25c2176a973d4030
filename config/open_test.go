package config

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/drivers/nats"
	"github.com/oslo-go/messaging/drivers/nats/embedded"
	_ "github.com/oslo-go/messaging/drivers/rabbit"
	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
	"github.com/oslo-go/messaging/drivers/zmq"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// novaConf has options for every driver, as a deployment's file may.
const novaConf = `[DEFAULT]
transport_url = rabbit://nova:s3cret@127.0.0.1:5672/
control_exchange = nova
rpc_conn_pool_size = 10
[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 30
amqp_durable_queues = true
rabbit_use_ssl = false
rabbit_quroum_max_memory_length = 5
publish_channels = 3
kombu_reconnect_delay = 0.5
[oslo_messaging_nats]
subject_prefix = nova
connect_timeout = 3
[oslo_messaging_zmq]
rpc_zmq_bind_address = 0.0.0.0
static_targets = compute=10.0.0.5:9501
static_targets = compute.h5=10.0.0.5:9501
target_expire = 30
`

func TestTransportURL(t *testing.T) {
	c := mustLoad(t, novaConf)
	tests := []struct {
		url  string
		want map[string]string
	}{
		{"", map[string]string{"rpc_conn_pool_size": "10", "heartbeat_timeout_threshold": "30", "amqp_durable_queues": "true",
			"ssl": "false", "rabbit_quroum_max_memory_length": "5", "publish_channels": "3", "kombu_reconnect_delay": "0.5"}},
		{"rabbit://h/?heartbeat=60&amqp_durable_queues=false&rabbit_quorum_max_memory_length=1", map[string]string{
			"heartbeat": "60", "amqp_durable_queues": "false", "rabbit_quorum_max_memory_length": "1", "rpc_conn_pool_size": "10",
			"ssl": "false", "publish_channels": "3", "kombu_reconnect_delay": "0.5"}},
		{"nats://127.0.0.1:4222", map[string]string{"subject_prefix": "nova", "connect_timeout": "3s"}},
		{"zmq://?target_expire=1m", map[string]string{"bind_address": "0.0.0.0", "static_targets": "compute=10.0.0.5:9501,compute.h5=10.0.0.5:9501", "target_expire": "1m"}},
		{"zmq+redis://127.0.0.1:6379/0?zmq_target_expire=40", map[string]string{"bind_address": "0.0.0.0",
			"static_targets": "compute=10.0.0.5:9501,compute.h5=10.0.0.5:9501", "zmq_target_expire": "40"}},
		{"fake:///x", map[string]string{}},
	}
	for _, tt := range tests {
		u, err := c.transportURL(tt.url, "")
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		if !reflect.DeepEqual(u.Query, tt.want) {
			t.Errorf("%s: query %v\nwant %v", tt.url, u.Query, tt.want)
		}
	}
	_, err := c.transportURL("no scheme", "")
	if !errors.Is(err, transport.ErrInvalidURL) {
		t.Errorf("a bad URL: %v", err)
	}
	bad := mustLoad(t, "[DEFAULT]\ntransport_url = rabbit://u:hunter2@h:99999/\n")
	if _, err := bad.transportURL("", ""); err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "[DEFAULT] transport_url") {
		t.Errorf("a bad transport_url: %v", err)
	}
}

// TestDriverDefaults checks that the defaults shown for the NATS and
// ZeroMQ groups are the drivers'.
func TestDriverDefaults(t *testing.T) {
	c := mustLoad(t, "")
	for _, tt := range []struct {
		group, name string
		want        any
	}{
		{NATSGroup, "subject_prefix", nats.DefaultSubjectPrefix},
		{NATSGroup, "connect_timeout", nats.DefaultConnectTimeout},
		{NATSGroup, "reconnect_wait", nats.DefaultReconnectWait},
		{NATSGroup, "max_reconnects", int64(nats.DefaultMaxReconnects)},
		{NATSGroup, "listener_buffer", int64(nats.DefaultListenerBuffer)},
		{NATSGroup, "large_message_ttl", nats.DefaultLargeMessageTTL},
		{NATSGroup, "notify_max_age", nats.DefaultNotifyMaxAge},
		{NATSGroup, "notify_max_bytes", int64(nats.DefaultNotifyMaxBytes)},
		{NATSGroup, "notify_max_msgs", int64(nats.DefaultNotifyMaxMsgs)},
		{NATSGroup, "notify_replicas", int64(nats.DefaultNotifyReplicas)},
		{NATSGroup, "notify_ack_wait", nats.DefaultNotifyAckWait},
		{NATSGroup, "notify_prefetch", int64(nats.DefaultNotifyPrefetch)},
		{ZMQGroup, "redis_prefix", zmq.DefaultRedisPrefix},
		{ZMQGroup, "bind_address", zmq.DefaultBindAddress},
		{ZMQGroup, "target_expire", zmq.DefaultTargetExpire},
		{ZMQGroup, "target_update", zmq.DefaultTargetUpdate},
		{ZMQGroup, "heartbeat_interval", zmq.DefaultHeartbeatInterval},
		{ZMQGroup, "heartbeat_timeout", zmq.DefaultHeartbeatTimeout},
		{ZMQGroup, "dial_timeout", zmq.DefaultDialTimeout},
		{ZMQGroup, "max_message_size", int64(zmq.DefaultMaxMessageSize)},
	} {
		if got := mustValue(t, c, tt.group, tt.name); got != tt.want {
			t.Errorf("[%s] %s = %#v, the driver's default is %#v", tt.group, tt.name, got, tt.want)
		}
	}
}

func TestOpenTransportControlExchange(t *testing.T) {
	ctx := context.Background()
	c := mustLoad(t, "[DEFAULT]\ntransport_url = fake:///"+t.Name()+"\ncontrol_exchange = nova\n")
	for _, tt := range []struct {
		url  string
		opts []transport.Option
		want string
	}{
		{"", nil, "nova"},
		{"", []transport.Option{transport.ControlExchange("mine")}, "mine"},
		{"fake:///x?control_exchange=url", []transport.Option{transport.ControlExchange("mine")}, "url"},
	} {
		tr, err := c.OpenTransportURL(ctx, tt.url, tt.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got := tr.ControlExchange(); got != tt.want {
			t.Errorf("%q: control exchange %q, want %q", tt.url, got, tt.want)
		}
		tr.Close()
	}
}

func TestOpenNotificationTransport(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct{ conf, want string }{
		{"[DEFAULT]\ntransport_url = fake:///rpc\n", "fake:///rpc"},
		{"[DEFAULT]\ntransport_url = fake:///rpc\n[oslo_messaging_notifications]\ntransport_url =\n", "fake:///rpc"},
		{"[DEFAULT]\ntransport_url = fake:///rpc\n[oslo_messaging_notifications]\ntransport_url = fake:///n\n", "fake:///n"},
		{"[DEFAULT]\ntransport_url = fake:///rpc\nnotification_transport_url = fake:///old\n", "fake:///old"},
	} {
		tr, err := mustLoad(t, tt.conf).OpenNotificationTransport(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := transport.FormatURL(tr.URL()); got != tt.want {
			t.Errorf("%q: %s, want %s", tt.conf, got, tt.want)
		}
		tr.Close()
	}
}

func TestNewNotifier(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "fake:///" + t.Name()
	c := mustLoad(t, "[DEFAULT]\ntransport_url = "+url+"\ncontrol_exchange = nova\n[oslo_messaging_notifications]\n"+
		"driver = messagingv2\ndriver = test\ntopics = a, b\nretry = 3\n")
	tr, err := c.OpenNotificationTransport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var rec notify.Recorder
	listeners := map[string]*engine.NotificationListener{}
	for _, topic := range []string{"a", "b"} {
		l, err := engine.Of(tr).ListenNotifications(ctx, []target.Target{{Topic: topic + ".info"}}, "", driver.ListenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		listeners[topic] = l
	}
	n, err := c.NewNotifier(tr, notify.Record(&rec), notify.PublisherID("compute.h1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Info(ctx, "compute.instance.create.end", map[string]any{"id": 1}); err != nil {
		t.Fatal(err)
	}
	got := rec.Notifications()
	if len(got) != 1 || got[0].Retry != 3 || got[0].PublisherID != "compute.h1" {
		t.Errorf("recorded %+v", got)
	}
	for topic, l := range listeners {
		d, err := l.Next(ctx)
		if err != nil {
			t.Fatalf("topic %s: %v", topic, err)
		}
		if d.EventType != "compute.instance.create.end" {
			t.Errorf("topic %s: %+v", topic, d)
		}
		d.Ack()
	}

	// No driver (oslo's default): nothing is sent.
	quiet, err := mustLoad(t, "[DEFAULT]\ntransport_url = "+url+"\n").NewNotifier(tr)
	if err != nil {
		t.Fatal(err)
	}
	if quiet.IsEnabled() || !reflect.DeepEqual(quiet.Drivers(), []string{"noop"}) {
		t.Errorf("drivers %v", quiet.Drivers())
	}
	// No topics: the messaging drivers have nowhere to send.
	none, err := mustLoad(t, "[oslo_messaging_notifications]\ndriver = messagingv2\ndriver = log\ntopics =\n").NewNotifier(tr)
	if err != nil || !reflect.DeepEqual(none.Drivers(), []string{"log"}) {
		t.Errorf("drivers %v, %v", none.Drivers(), err)
	}
	// routing_config is read for the routing driver.
	_, err = mustLoad(t, "[oslo_messaging_notifications]\ndriver = routing\n[DEFAULT]\nrouting_notifier_config = /nonexistent.yaml\n").NewNotifier(tr)
	if err == nil || !strings.Contains(err.Error(), "nonexistent.yaml") {
		t.Errorf("routing_config: %v", err)
	}
}

func TestVersionCap(t *testing.T) {
	aliases := map[string]string{"latest": "", "zed": "1.8", "auto": "1.9"}
	c := mustLoad(t, "[upgrade_levels]\ncompute = zed\nconductor = 1.10\nscheduler =\ncells = auto\nnetwork = mitaka\n",
		Define(UpgradeLevelsGroup, Opt{Name: "taskmanager", Default: "latest"}))
	for service, want := range map[string]string{"compute": "1.8", "conductor": "1.10", "scheduler": "", "cells": "1.9", "taskmanager": "", "absent": ""} {
		if got, err := c.VersionCap(service, aliases); got != want || err != nil {
			t.Errorf("VersionCap(%s) = %q, %v; want %q", service, got, err, want)
		}
	}
	_, err := c.VersionCap("network", aliases)
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Option != "network" || ve.Line != 6 || !strings.Contains(err.Error(), "auto, latest, zed") {
		t.Errorf("an unknown alias: %v", err)
	}
}

func TestHelperOptions(t *testing.T) {
	c := mustLoad(t, "[DEFAULT]\nrpc_response_timeout = 5\nexecutor_thread_pool_size = 3\nrpc_ping_enabled = true\n")
	if len(c.ClientOptions()) != 1 || len(c.ServerOptions()) != 2 || len(c.ListenerOptions()) != 1 {
		t.Errorf("%d %d %d", len(c.ClientOptions()), len(c.ServerOptions()), len(c.ListenerOptions()))
	}
	blank := mustLoad(t, "[DEFAULT]\nrpc_response_timeout =\nexecutor_thread_pool_size =\n")
	if len(blank.ClientOptions()) != 0 || len(blank.ServerOptions()) != 0 || len(blank.ListenerOptions()) != 0 {
		t.Error("blank values give no options")
	}
}

// pinger answers ping for the drivers' tests.
type pinger struct{}

func (pinger) Echo(_ context.Context, a map[string]any) (map[string]any, error) { return a, nil }

// callThrough serves a topic on tr with the configuration's server
// options and calls it with its client options.
func callThrough(t *testing.T, c *Config, tr *transport.Transport) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	topic := fmt.Sprintf("config_test_%d", time.Now().UnixNano())
	srv, err := server.New(tr, target.Target{Topic: topic, Server: "h1"}, []any{pinger{}}, c.ServerOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, err := client.New(tr, target.Target{Topic: topic}, c.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.Call[map[string]any](ctx, cl, "echo", map[string]any{"x": "y"})
	if err != nil || got["x"] != "y" {
		t.Fatalf("echo: %v %v", got, err)
	}
	if pong, err := client.Call[string](ctx, cl, "oslo_rpc_server_ping", nil); err != nil || pong != "pong" {
		t.Errorf("ping (rpc_ping_enabled): %q %v", pong, err)
	}
}

// TestOpenNATSWithRabbitOptions opens a NATS transport from a file that
// also configures RabbitMQ and ZeroMQ: their options are ignored.
func TestOpenNATSWithRabbitOptions(t *testing.T) {
	ns, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	c := mustLoad(t, strings.Replace(novaConf, "transport_url = rabbit://nova:s3cret@127.0.0.1:5672/", "transport_url = "+ns.URL(), 1)+
		"[DEFAULT]\nrpc_ping_enabled = true\nrpc_response_timeout = 10\n")
	tr, err := c.OpenTransport(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if tr.ControlExchange() != "nova" || tr.URL().Query["subject_prefix"] != "nova" {
		t.Errorf("%s %v", tr.ControlExchange(), tr.URL().Query)
	}
	callThrough(t, c, tr)
}

// TestOpenRabbit opens the broker with a file's [oslo_messaging_rabbit]
// options and serves a call through it.
func TestOpenRabbit(t *testing.T) {
	rabbittest.Need(t)
	c := mustLoad(t, "[DEFAULT]\ntransport_url = rabbit://guest:guest@127.0.0.1:5672/\nrpc_ping_enabled = true\n"+
		"[oslo_messaging_rabbit]\nheartbeat_timeout_threshold = 20\nrabbit_transient_queues_ttl = 60\nkombu_failover_strategy = shuffle\n"+
		"[oslo_messaging_nats]\nsubject_prefix = ignored\n")
	tr, err := c.OpenTransport(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if q := tr.URL().Query; q["heartbeat_timeout_threshold"] != "20" || q["kombu_failover_strategy"] != "shuffle" || q["subject_prefix"] != "" {
		t.Errorf("query %v", q)
	}
	callThrough(t, c, tr)
}

// TestRabbitTakesEveryOption sets every [oslo_messaging_rabbit] option of
// oslo.messaging 14.0.3 (to its default) and the DEFAULT pool options in
// a file: the driver must accept them all.
func TestRabbitTakesEveryOption(t *testing.T) {
	rabbittest.Need(t)
	var b strings.Builder
	b.WriteString("[DEFAULT]\ntransport_url = rabbit://guest:guest@127.0.0.1:5672/\nrpc_conn_pool_size = 30\nconn_pool_min_size = 2\nconn_pool_ttl = 1200\n")
	b.WriteString("[oslo_messaging_rabbit]\n")
	defaults := mustLoad(t, "")
	for _, o := range defaults.Opts(RabbitGroup) {
		v := mustValue(t, defaults, RabbitGroup, o.Name)
		if v == nil {
			v = "gzip" // kombu_compression
		}
		fmt.Fprintf(&b, "%s = %s\n", o.Name, pyStr(v))
	}
	c := mustLoad(t, b.String())
	u, err := c.transportURL("", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Query) != len(rabbitOpts)+3 {
		t.Errorf("%d parameters: %v", len(u.Query), u.Query)
	}
	tr, err := c.OpenTransport(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
}

// TestNATSAndZMQTakeEveryOption sets every option of the NATS and ZeroMQ
// groups that has a default, to it: the drivers must accept them all.
func TestNATSAndZMQTakeEveryOption(t *testing.T) {
	ns, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	defaults := mustLoad(t, "")
	for group, url := range map[string]string{NATSGroup: ns.URL(), ZMQGroup: "zmq:///" + t.Name()} {
		var b strings.Builder
		fmt.Fprintf(&b, "[DEFAULT]\ntransport_url = %s\n[%s]\n", url, group)
		n := 0
		for _, o := range defaults.Opts(group) {
			v := mustValue(t, defaults, group, o.Name)
			if l, ok := v.([]string); v == nil || ok && len(l) == 0 {
				continue
			}
			fmt.Fprintf(&b, "%s = %s\n", o.Name, pyStr(v))
			n++
		}
		c := mustLoad(t, b.String())
		tr, err := c.OpenTransport(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", group, err)
		}
		if len(tr.URL().Query) != n {
			t.Errorf("%s: %d of %d options passed: %v", group, len(tr.URL().Query), n, tr.URL().Query)
		}
		tr.Close()
	}
}

// TestOpenErrorHidesSecrets checks that a secret driver option passed in
// the URL query does not show in the error of a failed open.
func TestOpenErrorHidesSecrets(t *testing.T) {
	c := mustLoad(t, "[DEFAULT]\ntransport_url = zmq://\n[oslo_messaging_zmq]\nmatchmaker = redis\nredis_url = redis://:hunter2@127.0.0.1:1/0\n")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tr, err := c.OpenTransport(ctx)
	if err == nil {
		// The driver connects in the background: the error comes from Ping.
		defer tr.Close()
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		defer pcancel()
		if err = tr.Ping(pctx); err == nil {
			t.Fatal("Ping succeeded against a Redis that is not there")
		}
		if strings.Contains(fmt.Sprint(tr.URL()), "hunter2") {
			t.Errorf("the URL prints the secret: %v", tr.URL())
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("%v", err)
	}
}
