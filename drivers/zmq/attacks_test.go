package zmq

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// attacks are the ZeroMQ driver's own hostile inputs for drivertest: raw
// TCP and ZMTP sent straight to a server's socket, as anyone who can reach
// it could. url gives the URL of the subtest (to find the server).
func attacks(url func(testing.TB) string) []drivertest.Attack {
	return []drivertest.Attack{
		{Name: "OversizeFrame", Send: func(t *testing.T, tg target.Target) {
			// A frame that says it is 2^62 bytes long: the server must not
			// allocate it, and closes the connection.
			nc, _ := rawClient(t, url(t), tg.Topic, true)
			hdr := []byte{flagLong}
			hdr = binary.BigEndian.AppendUint64(hdr, 1<<62)
			nc.Write(append(hdr, "not that much"...))
			expectClosed(t, nc)
		}},
		{Name: "GarbageGreeting", Send: func(t *testing.T, tg target.Target) {
			nc, _ := rawClient(t, url(t), tg.Topic, false)
			junk := make([]byte, 64<<10)
			rand.Read(junk)
			nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
			nc.Write(junk)
			expectClosed(t, nc)
		}},
		{Name: "IdleConnections", Send: func(t *testing.T, tg target.Target) {
			// Connections that never finish the handshake: closed after
			// dial_timeout; meanwhile the server serves.
			for range 100 {
				rawClient(t, url(t), tg.Topic, false)
			}
		}},
		{Name: "CastFlood", Send: func(t *testing.T, tg target.Target) {
			// 64 MB of 16 KB casts on one connection, as fast as the
			// server lets them in (it stops reading when its inbox is
			// full), for at most 3 s.
			nc, _ := rawClient(t, url(t), tg.Topic, true)
			body := `{"oslo.version": "2.0", "oslo.message": "{\"method\": \"echo\", \"args\": {\"text\": \"` + strings.Repeat("x", 16<<10) + `\"}}"}`
			msg := appendRequest(nil, kindCast, "", "", 0, tg.Topic, "", []byte(body))
			nc.SetWriteDeadline(time.Now().Add(3 * time.Second))
			for range 4096 {
				if _, err := nc.Write(msg); err != nil {
					break
				}
			}
		}},
	}
}

// rawClient connects to the server of topic (the URL's matchmaker knows
// it), with the ZMTP handshake done as a DEALER when handshake is set. The
// connection is closed when t ends.
func rawClient(t *testing.T, url, topic string, handshaken bool) (net.Conn, *bufio.Reader) {
	t.Helper()
	tr, err := transport.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := Lookup(tr, Key{Topic: topic})
	tr.Close()
	if err != nil || len(addrs) == 0 {
		t.Fatalf("no server of %s: %v, %v", topic, addrs, err)
	}
	nc, err := net.DialTimeout("tcp", addrs[0], 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	br := bufio.NewReader(nc)
	if handshaken {
		if err := handshake(nc, br, zmq4.Dealer, "attacker", 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return nc, br
}

// expectClosed fails t unless the server closes nc within 5 s.
func expectClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, nc)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the server kept the connection open")
	}
}
