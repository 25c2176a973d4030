package zmq

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/transport/driver"
)

// TestUnwrappedMessages checks that RPC messages go on ZeroMQ as the bare
// message dict, without oslo's 2.0 envelope: no Python peer reads this
// wire.
func TestUnwrappedMessages(t *testing.T) {
	url := "zmq:///" + t.Name()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := openConn(t, url).Listen(ctx, tgt("layout", "s1"), driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := client.New(openTr(t, url), tgt("layout", ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Cast(ctx, "record", map[string]string{"text": "x"}); err != nil {
		t.Fatal(err)
	}
	in, err := l.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if body := in.Message().Body; !bytes.HasPrefix(body, []byte(`{"method": "record", "args": {"text":"x"}`)) || bytes.Contains(body, []byte("oslo.version")) {
		t.Fatalf("cast on the wire: %s", body)
	}
}
