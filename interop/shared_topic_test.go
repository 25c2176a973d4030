package interop

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/rabbit"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// TestPythonAndGoServersShareTopic runs Python and Go servers on one topic:
// competing consumers of the topic queue. They declare the same exchanges
// and queues in turn (Python first, then Go, then Python again), which
// RabbitMQ accepts only if the declarations are identical (otherwise
// PRECONDITION_FAILED). Calls from a Go and from a Python client are all
// answered, and every server gets some; fanout casts reach all of them.
//
// It runs with the default options, with gzip compression, and with
// durable quorum queues on a control exchange of its own (options must
// match on both sides).
func TestPythonAndGoServersShareTopic(t *testing.T) {
	needPython(t)
	for _, tc := range []struct {
		name    string
		pyArgs  []string
		goOpts  []transport.Option
		durable bool
		qArgs   amqp.Table
		// ownExchange gives the test a control exchange of its own, for
		// options that change the exchange's declaration.
		ownExchange bool
	}{
		{name: "Defaults"},
		{
			// Every message both ways is zlib-compressed, as kombu does.
			name:   "Gzip",
			pyArgs: []string{"--rabbit-option", "kombu_compression=gzip"},
			goOpts: []transport.Option{rabbit.Compression("gzip")},
		},
		{
			name:        "DurableQuorum",
			durable:     true,
			qArgs:       amqp.Table{"x-queue-type": "quorum"},
			ownExchange: true,
			// The control exchange becomes durable: it must be one no
			// other test declares non-durable.
			pyArgs: []string{"--rabbit-option", "amqp_durable_queues=true", "--rabbit-option", "rabbit_quorum_queue=true"},
			goOpts: []transport.Option{rabbit.DurableQueues(true), rabbit.QuorumQueues(true)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := uniqueTopic("shared")
			pyArgs, goOpts := tc.pyArgs, tc.goOpts
			exchange := transport.DefaultControlExchange
			if tc.ownExchange {
				exchange = topic + "_exchange"
				pyArgs = append(slices.Clone(pyArgs), "--control-exchange", exchange)
				goOpts = append(slices.Clone(goOpts), transport.ControlExchange(exchange))
				t.Cleanup(func() { deleteExchange(t, exchange) })
			}
			sharedTopic(t, topic, pyArgs, goOpts)
			// What both declared is what oslo declares for these options:
			// declaring it again with oslo's flags and arguments succeeds.
			checkDeclared(t, "exchange", exchange, func(ch *amqp.Channel) error {
				return ch.ExchangeDeclare(exchange, "topic", tc.durable, false, false, false, nil)
			})
			checkDeclared(t, "queue", topic, func(ch *amqp.Channel) error {
				_, err := ch.QueueDeclare(topic, tc.durable, false, false, false, tc.qArgs)
				return err
			})
			checkDeclared(t, "exchange", topic+"_fanout", func(ch *amqp.Channel) error {
				return ch.ExchangeDeclare(topic+"_fanout", "fanout", false, true, false, false, nil)
			})
			checkDeclared(t, "queue", topic+".go-1", func(ch *amqp.Channel) error {
				_, err := ch.QueueDeclare(topic+".go-1", tc.durable, false, false, false, tc.qArgs)
				return err
			})
		})
	}
}

func sharedTopic(t *testing.T, topic string, pyArgs []string, goOpts []transport.Option) {
	deleteQueues(t, serverQueues(topic, "py-1", "go-1", "py-2")...)
	server := func(name string) *peer {
		return startPeer(t, name, "rpc_server.py", append([]string{"--url", brokerURL, "--topic", topic, "--server", name}, pyArgs...)...)
	}
	py1 := server("py-1")
	awaitReady(t, py1)
	tr := openTransport(t, goOpts...)
	casts := make(chan castEvent, 16)
	startGoServer(t, tr, topic, "go-1", casts)
	py2 := server("py-2")
	awaitReady(t, py2)
	awaitConsumers(t, topic, 3)
	everyone := []string{"go-1", "py-1", "py-2"}

	c, err := client.New(tr, target.Target{Topic: topic, Namespace: "interop", Version: "1.2"}, client.Timeout(15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := serializer.WithRequestContext(context.Background(), serializer.RequestContext{"user": "go-user"})

	t.Run("GoClient", func(t *testing.T) {
		served := map[string]int{}
		for range 30 {
			name, err := client.Call[string](ctx, c, "whoami", nil)
			if err != nil {
				t.Fatal(err)
			}
			served[name]++
		}
		if got := slices.Sorted(maps.Keys(served)); !slices.Equal(got, everyone) {
			t.Errorf("30 calls served by %v, want every server", served)
		}
		// The answers do not depend on which server gave them.
		args := map[string]any{"volume": map[string]any{
			"id": "vol-1", "name": "data ✓", "size_gb": 10, "bytes": 1 << 60, "bootable": true, "ratio": 0.25,
			"owner": "me", "tags": map[string]any{"a": "b"}, "metadata": map[string]any{"k": []any{1, nil}},
			"attachments": []any{map[string]any{"server": "s", "device": "/dev/vdb", "read_only": false, "options": map[string]any{}}},
		}}
		for range 6 {
			got, err := client.Call[map[string]any](ctx, c, "describe_volume", args)
			if err != nil || !sameJSON(t, got, args["volume"]) {
				t.Errorf("describe_volume: %s, %v", js(got), err)
			}
			err = c.Call(ctx, "fail_value", map[string]any{"message": "bad volume size: 0"}, nil)
			remoteError(t, err, "builtins", "ValueError", "bad volume size: 0")
			err = c.Call(ctx, "no_such_method", nil, nil)
			remoteError(t, err, "oslo_messaging.rpc.dispatcher", "NoSuchMethod", "Endpoint does not support RPC method no_such_method")
		}
	})

	t.Run("PythonClient", func(t *testing.T) {
		res := byScenario(runScript(t, 60*time.Second, "rpc_client.py",
			append(append([]string{"--url", brokerURL, "--topic", topic, "--calls", "30"}, pyArgs...), "spread", "nested", "fail_value", "ping")...))
		served := map[string]int{}
		for _, name := range anyStrings(res["spread"]["value"]) {
			served[name]++
		}
		if got := slices.Sorted(maps.Keys(served)); !slices.Equal(got, everyone) {
			t.Errorf("30 calls from Python served by %v, want every server", served)
		}
		if v := res["nested"].obj("value"); v["equal"] != true {
			t.Errorf("nested: %s", js(res["nested"]))
		}
		if e := res["fail_value"].obj("error"); e["class"] != "ValueError" || e["message"] != "bad volume size: 0" {
			t.Errorf("fail_value: %s", js(res["fail_value"]))
		}
		if res["ping"]["value"] != "pong" {
			t.Errorf("ping: %s", js(res["ping"]))
		}
	})

	t.Run("Fanout", func(t *testing.T) {
		if err := c.Prepare(client.Fanout(true)).Cast(ctx, "record", map[string]any{"text": "fanout to all"}); err != nil {
			t.Fatal(err)
		}
		awaitEvents(t, 1, "cast", "text", "fanout to all", py1)
		awaitEvents(t, 1, "cast", "text", "fanout to all", py2)
		select {
		case e := <-casts:
			if e.Text != "fanout to all" || e.User != "go-user" {
				t.Errorf("Go server got cast %+v", e)
			}
		case <-time.After(10 * time.Second):
			t.Error("the Go server did not get the fanout cast")
		}
	})
}

// checkDeclared runs declare on a channel of its own and fails t if the
// broker refuses it (PRECONDITION_FAILED when the object exists with other
// flags or arguments).
func checkDeclared(t *testing.T, kind, name string, declare func(*amqp.Channel) error) {
	t.Helper()
	c, err := amqpDial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := declare(ch); err != nil {
		t.Errorf("%s %s is not declared as oslo declares it: %v", kind, name, err)
	}
}

// deleteExchange deletes an exchange a test declared.
func deleteExchange(t testing.TB, name string) {
	c, err := amqpDial()
	if err != nil {
		t.Logf("deleting exchange %s: %v", name, err)
		return
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		t.Logf("deleting exchange %s: %v", name, err)
		return
	}
	if err := ch.ExchangeDelete(name, false, false); err != nil {
		t.Logf("deleting exchange %s: %v", name, err)
	}
}
