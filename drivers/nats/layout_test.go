package nats

import (
	"bytes"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/target"
)

// TestUnwrappedMessages checks that RPC requests and replies go on NATS as
// the bare message dict, without oslo's 2.0 envelope (no Python peer reads
// this wire), and that a server still takes an enveloped request, as older
// senders of this library send it.
func TestUnwrappedMessages(t *testing.T) {
	e := startEmbedded(t)
	spy, err := natsgo.Connect(e.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close()
	seen := make(chan *natsgo.Msg, 64)
	if _, err := spy.ChanSubscribe(">", seen); err != nil {
		t.Fatal(err)
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}

	tg := target.Target{Exchange: "openstack", Topic: uniqueTopic(t)}
	ech := newEcho("s1")
	startServer(t, openTransport(t, e.URL()), target.Target{Exchange: tg.Exchange, Topic: tg.Topic, Server: "s1"}, ech)
	c, err := client.New(openTransport(t, e.URL()), tg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 20*time.Second)
	if got, err := client.Call[echoResult](ctx, c, "echo", echoArgs{Text: "new"}); err != nil || got.Text != "new" {
		t.Fatalf("call: %+v, %v", got, err)
	}

	var request, reply *natsgo.Msg
	for request == nil || reply == nil {
		select {
		case m := <-seen:
			switch {
			case strings.HasPrefix(m.Subject, "oslo.rpc."):
				request = m
			case request != nil && strings.HasPrefix(m.Subject, strings.SplitN(request.Reply, ".", 3)[0]):
				reply = m
			}
		case <-ctx.Done():
			t.Fatalf("saw request %v and reply %v", request, reply)
		}
	}
	if !bytes.HasPrefix(request.Data, []byte(`{"method": "echo", "args": {"text":"new"}`)) || bytes.Contains(request.Data, []byte("oslo.version")) {
		t.Errorf("request on the wire: %s", request.Data)
	}
	if !bytes.HasPrefix(reply.Data, []byte(`{"result": {"text":"new","server":"s1"}, "failure": null, "ending": true`)) {
		t.Errorf("reply on the wire: %s", reply.Data)
	}

	// A cast in the 2.0 envelope, as an older sender writes it.
	old := `{"oslo.version": "2.0", "oslo.message": "{\"method\": \"record\", \"args\": {\"text\": \"old\"}, \"_unique_id\": \"u1\"}"}`
	if err := spy.Publish(request.Subject, []byte(old)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ech.casts:
		if got != "old" {
			t.Fatalf("enveloped cast received as %q", got)
		}
	case <-ctx.Done():
		t.Fatal("the enveloped cast did not arrive")
	}
}
