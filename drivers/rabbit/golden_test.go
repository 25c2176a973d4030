package rabbit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// The golden tests check what the driver really publishes on the broker
// against messages Python oslo.messaging 14.0.3 published
// (testdata/oslo-wire): exchange, routing key, AMQP properties and the
// keys of the oslo dict inside the envelope. They observe the broker with
// raw amqp091 queues bound where oslo's messages go.

// capture is one file of testdata/oslo-wire.
type capture struct {
	Exchange   string         `json:"exchange"`
	RoutingKey string         `json:"routing_key"`
	Properties map[string]any `json:"properties"`
	Body       string         `json:"body"`
}

const (
	capTopic  = "vec_topic"
	capServer = "vec_host"
	capReplyQ = "reply_1a98431637314f73b75a10c3c413f51c"
)

func loadCapture(t *testing.T, name string) capture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "oslo-wire", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var c capture
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// rawChannel opens a plain amqp091 connection and channel to the broker.
func rawChannel(t *testing.T) (*amqp.Connection, *amqp.Channel) {
	t.Helper()
	c, err := amqp.Dial(amqp091URI)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return c, ch
}

// uniqueName returns a name no other test uses; the "rt_" prefix lets
// TestMain remove the queues afterwards.
func uniqueName(prefix string) string { return "rt_" + prefix + "_" + ids.Hex()[:12] }

func openTransport(t *testing.T, opts ...transport.Option) *transport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts = append([]transport.Option{transport.WithLogger(drivertest.TestLogger(t))}, opts...)
	tr, err := transport.Open(ctx, brokerURL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// receive waits for one delivery.
func receive(t *testing.T, ds <-chan amqp.Delivery, what string) amqp.Delivery {
	t.Helper()
	select {
	case d := <-ds:
		return d
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s arrived", what)
	}
	panic("unreachable")
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// innerDict returns the oslo dict inside an envelope body, checking that
// the envelope is exactly Python's.
func innerDict(t *testing.T, what string, body []byte) map[string]any {
	t.Helper()
	const prefix = `{"oslo.version": "2.0", "oslo.message": "`
	if !strings.HasPrefix(string(body), prefix) {
		t.Fatalf("%s: body does not start like oslo's envelope: %.80s", what, body)
	}
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("%s: envelope: %v", what, err)
	}
	if len(env) != 2 || env["oslo.version"] != "2.0" {
		t.Fatalf("%s: envelope keys = %v", what, env)
	}
	s, ok := env["oslo.message"].(string)
	if !ok {
		t.Fatalf("%s: oslo.message is %T, want a JSON string", what, env["oslo.message"])
	}
	var inner map[string]any
	if err := json.Unmarshal([]byte(s), &inner); err != nil {
		t.Fatalf("%s: oslo.message: %v", what, err)
	}
	return inner
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// compareDelivery checks a delivery against a capture: exchange and
// routing key (with the capture's names mapped to the test's), AMQP
// properties, and the set of keys of the inner dict.
//
// amqp091 does not put properties that have their zero value on the
// wire: "priority: 0" and "headers: {}" are absent from what the driver
// sends. kombu reads an absent application_headers as {} and an absent
// priority as 0, so absent is equal to those values here.
func compareDelivery(t *testing.T, what string, c capture, d amqp.Delivery, names *strings.Replacer) {
	t.Helper()
	if want := names.Replace(c.Exchange); d.Exchange != want {
		t.Errorf("%s: exchange = %q, want %q", what, d.Exchange, want)
	}
	if want := names.Replace(c.RoutingKey); d.RoutingKey != want {
		t.Errorf("%s: routing key = %q, want %q", what, d.RoutingKey, want)
	}
	p := c.Properties
	if d.ContentType != p["content_type"] || d.ContentEncoding != p["content_encoding"] {
		t.Errorf("%s: content type/encoding = %q/%q, want %v/%v", what, d.ContentType, d.ContentEncoding, p["content_type"], p["content_encoding"])
	}
	if float64(d.DeliveryMode) != p["delivery_mode"] {
		t.Errorf("%s: delivery_mode = %d, want %v", what, d.DeliveryMode, p["delivery_mode"])
	}
	if float64(d.Priority) != p["priority"] {
		t.Errorf("%s: priority = %d, want %v", what, d.Priority, p["priority"])
	}
	if h, _ := p["headers"].(map[string]any); len(d.Headers) != len(h) {
		t.Errorf("%s: headers = %v, want %v", what, d.Headers, h)
	}
	want, hasExp := p["expiration"].(string)
	switch {
	case hasExp && d.Expiration == "":
		t.Errorf("%s: no expiration, want one like %q", what, want)
	case !hasExp && d.Expiration != "":
		t.Errorf("%s: expiration %q on a message that must have none", what, d.Expiration)
	case hasExp:
		ms, err := strconv.Atoi(d.Expiration)
		if err != nil || ms <= 0 || ms > 10000 || ms < 9000 {
			t.Errorf("%s: expiration = %q, want the 10 s timeout in ms like %q", what, d.Expiration, want)
		}
	}
	if d.ReplyTo != "" || d.CorrelationId != "" || d.MessageId != "" || d.Type != "" || d.AppId != "" || d.UserId != "" || !d.Timestamp.IsZero() {
		t.Errorf("%s: properties oslo does not set: %+v", what, d)
	}
	got := sortedKeys(innerDict(t, what, d.Body))
	wantKeys := sortedKeys(innerDict(t, what+" (capture)", []byte(c.Body)))
	if !slices.Equal(got, wantKeys) {
		t.Errorf("%s: inner keys = %v, want %v", what, got, wantKeys)
	}
}

// compareRequests decodes both requests with the core's decoder and
// compares what the oslo peer reads.
func compareRequests(t *testing.T, what string, c capture, d amqp.Delivery) *wire.IncomingRequest {
	t.Helper()
	want, err := wire.DecodeRequest([]byte(c.Body), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.DecodeRequest(d.Body, d.ContentType)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got.Method != want.Method || got.Namespace != want.Namespace || got.Version != want.Version || got.MonitorTimeout != want.MonitorTimeout {
		t.Errorf("%s: request = %+v, want %+v", what, got, want)
	}
	if !jsonEqual(got.Args.Data, want.Args.Data) {
		t.Errorf("%s: args = %s, want %s", what, got.Args.Data, want.Args.Data)
	}
	if !reflect.DeepEqual(got.Context, want.Context) {
		t.Errorf("%s: context = %v, want %v", what, got.Context, want.Context)
	}
	if !hex32.MatchString(got.UniqueID) {
		t.Errorf("%s: _unique_id = %q", what, got.UniqueID)
	}
	if want.MsgID != "" && (!hex32.MatchString(got.MsgID) || !strings.HasPrefix(got.ReplyTo, "reply_") || !hex32.MatchString(strings.TrimPrefix(got.ReplyTo, "reply_"))) {
		t.Errorf("%s: _msg_id = %q, _reply_q = %q", what, got.MsgID, got.ReplyTo)
	}
	return got
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// requestOf rebuilds the request of a capture for the Go client.
func requestOf(t *testing.T, c capture) *wire.Request {
	t.Helper()
	in, err := wire.DecodeRequest([]byte(c.Body), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	var args map[string]any
	if len(in.Args.Data) > 0 {
		if err := json.Unmarshal(in.Args.Data, &args); err != nil {
			t.Fatal(err)
		}
	}
	return &wire.Request{Method: in.Method, Args: args, Namespace: in.Namespace, Version: in.Version, Context: in.Context}
}

// TestGoldenPublishes sends a call, a cast, a direct cast, a fanout cast
// and a notification with the driver and compares what arrives with
// oslo's captures. The call is answered with oslo's captured reply.
func TestGoldenPublishes(t *testing.T) {
	needBroker(t)
	tr := openTransport(t)
	_, ch := rawChannel(t)
	topic := uniqueName("golden")
	names := strings.NewReplacer(capTopic, topic)

	// Where oslo's messages go: the topic exchange with the topic and
	// topic.server keys, the fanout exchange, the notification key. The
	// exchanges are declared as oslo 14.0.3 declares them.
	if err := ch.ExchangeDeclare("openstack", "topic", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(topic+"_fanout", "fanout", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][2]string{{"openstack", topic}, {"openstack", topic + "." + capServer}, {topic + "_fanout", ""}, {"openstack", topic + ".info"}} {
		if err := ch.QueueBind(q.Name, b[1], b[0], false, nil); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("call", func(t *testing.T) {
		c := loadCapture(t, "request_call_get_filesystem_stats")
		type result struct {
			raw []byte
			err error
		}
		done := make(chan result, 1)
		go func() {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			r, err := engine.Of(tr).Call(cctx, target.Target{Topic: topic}, requestOf(t, c), engine.CallOptions{})
			done <- result{r.Data, err}
		}()
		d := receive(t, ds, "call request")
		compareDelivery(t, "call", c, d, names)
		req := compareRequests(t, "call", c, d)
		if req.MonitorTimeout != 0 || !strings.Contains(string(d.Body), `\"_timeout\": null`) {
			t.Errorf("call: _timeout must be null: %s", d.Body)
		}
		// Answer with the reply oslo sent, as a Python server would.
		rc := loadCapture(t, "reply_result_dict")
		in, _ := wire.DecodeReply([]byte(rc.Body), "")
		body := strings.ReplaceAll(rc.Body, in.MsgID, req.MsgID)
		err := ch.PublishWithContext(ctx, "", req.ReplyTo, true, false, amqp.Publishing{
			ContentType: "application/json", ContentEncoding: "utf-8", DeliveryMode: 2, Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil || !jsonEqual(r.raw, []byte(`{"total": 10.5, "used": 2.25, "fs_path": "/var/lib/mysql"}`)) {
			t.Fatalf("call result = %s, %v", r.raw, r.err)
		}
	})
	t.Run("cast", func(t *testing.T) {
		c := loadCapture(t, "request_cast")
		if err := engine.Of(tr).Cast(ctx, target.Target{Topic: topic}, requestOf(t, c), engine.SendOptions{}); err != nil {
			t.Fatal(err)
		}
		d := receive(t, ds, "cast")
		compareDelivery(t, "cast", c, d, names)
		compareRequests(t, "cast", c, d)
	})
	t.Run("direct cast", func(t *testing.T) {
		c := loadCapture(t, "request_direct_cast")
		if err := engine.Of(tr).Cast(ctx, target.Target{Topic: topic, Server: capServer}, requestOf(t, c), engine.SendOptions{}); err != nil {
			t.Fatal(err)
		}
		d := receive(t, ds, "direct cast")
		compareDelivery(t, "direct cast", c, d, names)
		compareRequests(t, "direct cast", c, d)
	})
	t.Run("fanout cast", func(t *testing.T) {
		c := loadCapture(t, "request_fanout_cast")
		if err := engine.Of(tr).Cast(ctx, target.Target{Topic: topic, Fanout: true}, requestOf(t, c), engine.SendOptions{}); err != nil {
			t.Fatal(err)
		}
		d := receive(t, ds, "fanout cast")
		compareDelivery(t, "fanout cast", c, d, names)
		compareRequests(t, "fanout cast", c, d)
	})
	t.Run("notification", func(t *testing.T) {
		c := loadCapture(t, "notification_info")
		n := engine.Of(tr).Driver().(driver.Notifier)
		tg := engine.Of(tr).ResolveTarget(target.Target{Topic: topic + ".info"})
		if err := n.Notify(ctx, tg, &driver.Message{Body: []byte(c.Body)}); err != nil {
			t.Fatal(err)
		}
		d := receive(t, ds, "notification")
		compareDelivery(t, "notification", c, d, strings.NewReplacer("notifications", topic))
		if string(d.Body) != c.Body {
			t.Errorf("notification body changed on the way")
		}
		// The publisher declared the default queue <topic>.info, as oslo's
		// and with its arguments, holding the notification.
		qi, err := ch.QueueDeclare(topic+".info", false, false, false, false, nil)
		if err != nil {
			t.Fatalf("oslo's declare of the notification queue: %v", err)
		}
		if qi.Messages != 1 {
			t.Errorf("notification queue holds %d messages, want 1", qi.Messages)
		}
		ch.QueueDelete(topic+".info", false, false, false)
	})
}

// goldenEndpoint answers the captured requests as capture.py did.
type goldenEndpoint struct{}

type fsArgs struct {
	FSPath string `json:"fs_path"`
}

func (goldenEndpoint) GetFilesystemStats(_ context.Context, a fsArgs) (map[string]any, error) {
	return map[string]any{"total": 10.5, "used": 2.25, "fs_path": a.FSPath}, nil
}

func (goldenEndpoint) Fail(context.Context) error { return errors.New("bad volume size: 0") }

func (goldenEndpoint) Slow(ctx context.Context) (string, error) {
	select {
	case <-time.After(2500 * time.Millisecond):
		return "done", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// TestGoldenReplies publishes oslo's captured requests from a raw client
// (a Python caller) to a Go server on the driver and compares the replies,
// heartbeats and failures it sends with oslo's.
func TestGoldenReplies(t *testing.T) {
	needBroker(t)
	tr := openTransport(t)
	topic := uniqueName("golden")
	srv, err := server.New(tr, target.Target{Topic: topic, Server: capServer},
		[]any{dispatcher.Endpoint(goldenEndpoint{}, dispatcher.Namespace("vec_ns"), dispatcher.Version("1.2"))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Shutdown(ctx)
		srv.Close()
	}()

	_, ch := rawChannel(t)
	// The reply queue as oslo 14.0.3 declares it.
	replyQ := "reply_" + ids.Hex()
	if _, err := ch.QueueDeclare(replyQ, false, false, false, false, amqp.Table{"x-expires": int32(1800000)}); err != nil {
		t.Fatal(err)
	}
	defer ch.QueueDelete(replyQ, false, false, false)
	ds, err := ch.Consume(replyQ, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := strings.NewReplacer(capReplyQ, replyQ)

	// send publishes a captured request as oslo did, to our server.
	send := func(name string) *wire.IncomingRequest {
		c := loadCapture(t, name)
		body := strings.ReplaceAll(c.Body, capReplyQ, replyQ)
		req, err := wire.DecodeRequest([]byte(body), "")
		if err != nil {
			t.Fatal(err)
		}
		err = ch.PublishWithContext(ctx, c.Exchange, strings.Replace(c.RoutingKey, capTopic, topic, 1), false, false, amqp.Publishing{
			ContentType: "application/json", ContentEncoding: "utf-8", DeliveryMode: 2, Expiration: "10000", Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	checkReply := func(what, capName string, req *wire.IncomingRequest, d amqp.Delivery) *wire.IncomingReply {
		t.Helper()
		c := loadCapture(t, capName)
		compareDelivery(t, what, c, d, names)
		r, err := wire.DecodeReply(d.Body, d.ContentType)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		want, _ := wire.DecodeReply([]byte(c.Body), "")
		if r.MsgID != req.MsgID || r.Ending != want.Ending || !hex32.MatchString(r.UniqueID) {
			t.Errorf("%s: reply = %+v, want _msg_id %s and ending %v", what, r, req.MsgID, want.Ending)
		}
		if (r.Failure == nil) != (want.Failure == nil) || (r.Result.IsNull() != want.Result.IsNull()) {
			t.Errorf("%s: result %s / failure %v, want result %s / failure %v", what, r.Result.Data, r.Failure, want.Result.Data, want.Failure)
		}
		return r
	}

	t.Run("result", func(t *testing.T) {
		req := send("request_call_get_filesystem_stats")
		r := checkReply("result reply", "reply_result_dict", req, receive(t, ds, "reply"))
		if !jsonEqual(r.Result.Data, []byte(`{"total": 10.5, "used": 2.25, "fs_path": "/var/lib/mysql"}`)) {
			t.Errorf("result = %s", r.Result.Data)
		}
	})
	t.Run("failure", func(t *testing.T) {
		req := send("request_call_fail")
		d := receive(t, ds, "failure reply")
		r := checkReply("failure reply", "reply_failure_ValueError", req, d)
		// failure is a JSON string holding oslo's exception dict.
		inner := innerDict(t, "failure reply", d.Body)
		s, ok := inner["failure"].(string)
		if !ok {
			t.Fatalf("failure is %T, want a JSON string", inner["failure"])
		}
		var f map[string]any
		if err := json.Unmarshal([]byte(s), &f); err != nil {
			t.Fatal(err)
		}
		if got := sortedKeys(f); !slices.Equal(got, []string{"args", "class", "kwargs", "message", "module", "tb"}) {
			t.Errorf("failure keys = %v", got)
		}
		if r.Failure.Message != "bad volume size: 0" || r.Failure.Module != "builtins" {
			t.Errorf("failure = %+v", r.Failure)
		}
	})
	t.Run("heartbeat", func(t *testing.T) {
		req := send("request_call_slow") // _timeout 2: a heartbeat every second
		beats := 0
		for {
			d := receive(t, ds, "heartbeat or reply")
			r, err := wire.DecodeReply(d.Body, d.ContentType)
			if err != nil {
				t.Fatal(err)
			}
			if r.Ending {
				checkReply("final reply", "reply_result_str", req, d)
				break
			}
			beats++
			checkReply(fmt.Sprintf("heartbeat %d", beats), "reply_call_monitor_heartbeat", req, d)
		}
		if beats < 1 {
			t.Errorf("no heartbeat during a 2.5 s call with _timeout 2")
		}
	})
	t.Run("ping request decodes", func(t *testing.T) {
		// The ping capture has no namespace and no version: our server
		// answers it (it has no ping endpoint, so with NoSuchMethod).
		req := send("request_call_oslo_rpc_server_ping")
		d := receive(t, ds, "ping reply")
		r, err := wire.DecodeReply(d.Body, d.ContentType)
		if err != nil || r.MsgID != req.MsgID || !r.Ending || r.Failure == nil {
			t.Fatalf("ping reply = %+v, %v", r, err)
		}
	})
}
