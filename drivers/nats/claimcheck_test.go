package nats

import (
	"runtime"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/target"
)

// hostileClaimChecks publishes to the topic of tg, on the server at url,
// messages whose Oslo-Blob header points at a chunk subject that never
// answers, claims sizes up to 1 GiB, or names a subject that is no chunk
// subject. It returns once the server has them.
func hostileClaimChecks(t testing.TB, url, prefix string, tg target.Target) {
	t.Helper()
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// Answers nothing: a fetch from it waits for its timeout.
	sub, err := nc.SubscribeSync("_INBOX.evil." + blobToken)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	subj := subjects{prefix: prefix}.topic(tg.Exchange, tg.Topic)
	for _, h := range []string{
		"_INBOX.evil.~B 1 104857600", // 100 MiB, under max_message_size
		"_INBOX.evil.~B 2 104857600",
		"evil.blob 1 1073741824", // not a chunk subject
		"evil.blob 1 1073741824",
		"_INBOX.evil.~B 3 1073741824", // over max_message_size
		"_INBOX.evil.~B 4 -1",
		"_INBOX.evil.~B",
	} {
		for _, reply := range []string{"", "_INBOX.evil.reply.m1=60000"} {
			m := &natsgo.Msg{Subject: subj, Reply: reply, Header: natsgo.Header{hdrBlob: []string{h}}, Data: []byte("{")}
			if err := nc.PublishMsg(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestHostileClaimChecks sends claim checks that point at a subject that
// never answers or claim huge bodies: the server goes on answering good
// calls at once, and no buffer is sized from the claims.
func TestHostileClaimChecks(t *testing.T) {
	e := startEmbedded(t)
	tr, srvTr := openTransport(t, e.URL()), openTransport(t, e.URL())
	tp := uniqueTopic(t)
	startServer(t, srvTr, target.Target{Topic: tp, Server: "s1"}, newEcho("s1"))
	c, _ := client.New(tr, target.Target{Topic: tp}, client.Timeout(5*time.Second))
	ctx := ctxFor(t, 30*time.Second)
	if err := c.Call(ctx, "echo", echoArgs{Text: "before"}, nil); err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	hostileClaimChecks(t, e.URL(), DefaultSubjectPrefix, target.Target{Exchange: "openstack", Topic: tp})
	var slowest time.Duration
	for i := range 20 {
		start := time.Now()
		got, err := client.Call[echoResult](ctx, c, "echo", echoArgs{Text: "probe"})
		if err != nil || got.Text != "probe" {
			t.Fatalf("good call %d after the hostile claim checks: %+v, %v", i, got, err)
		}
		el := time.Since(start)
		if el > time.Second {
			t.Fatalf("good call %d took %v after the hostile claim checks", i, el)
		}
		slowest = max(slowest, el)
		time.Sleep(10 * time.Millisecond)
	}
	runtime.ReadMemStats(&ms)
	grew := int64(ms.HeapAlloc) - int64(base)
	t.Logf("20 good calls after 14 hostile claim checks: slowest %v; heap %+d KiB", slowest, grew>>10)
	if grew > 32<<20 {
		t.Fatalf("the heap grew by %d MiB: a buffer was sized from a claim", grew>>20)
	}
}

// TestFetchBodyBounds checks the receiver's rules for a claim check
// against a sender that lies about its body.
func TestFetchBodyBounds(t *testing.T) {
	e := startEmbedded(t)
	cn, _ := openConn(t, e.URL(), MaxMessageSize(1<<20))
	c := cn.(*conn)
	peer, err := natsgo.Connect(e.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	chunk := strings.Repeat("x", 2000)
	// A sender that answers every chunk request with 2000 bytes, or with
	// 10 bytes for id "small".
	sub, err := peer.Subscribe("_INBOX.peer."+blobToken, func(m *natsgo.Msg) {
		data := chunk
		if strings.HasPrefix(string(m.Data), "small ") {
			data = "0123456789"
		}
		m.Respond([]byte(data))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	peer.Flush()
	ctx := ctxFor(t, 10*time.Second)
	for _, tc := range []struct {
		header, want string
	}{
		{"_INBOX.peer.~B ok 6001", ""},
		{"_INBOX.peer.~B long 5000", "longer than its announced"},
		{"_INBOX.peer.~B small 5000", "chunks of 10 bytes"},
		{"_INBOX.peer.~B big 2000000", "over max_message_size"},
		{"_INBOX.peer.x big 2000", "not a chunk subject"},
		{"_INBOX.*.~B big 2000", "not a chunk subject"},
		{"_INBOX.nobody.~B gone 2000", "sender is gone"},
	} {
		m := &natsgo.Msg{Header: natsgo.Header{hdrBlob: []string{tc.header}}, Data: []byte("y")}
		ref, err := c.parseBlobRef(m)
		var body []byte
		if err == nil {
			body, err = c.fetchBody(ctx, m, ref)
		}
		switch {
		case tc.want == "" && (err != nil || len(body) != 6001 || cap(body) > 2*6001):
			t.Errorf("%s: %d bytes (capacity %d), %v", tc.header, len(body), cap(body), err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.header, err, tc.want)
		}
	}
}

// claimCheckAttack is the conformance suite's attack for the driver.
func claimCheckAttack(url func(testing.TB) string, prefix string) drivertest.Attack {
	return drivertest.Attack{
		Name: "HostileClaimChecks",
		Send: func(t *testing.T, tg target.Target) { hostileClaimChecks(t, url(t), prefix, tg) },
	}
}

// FuzzParseBlobRef checks that no Oslo-Blob header gets past the checks
// made before anything is fetched.
func FuzzParseBlobRef(f *testing.F) {
	f.Add("_INBOX.abc.~B 0123 2000000", 1000)
	f.Add("evil.blob 1 1073741824", 1)
	f.Fuzz(func(t *testing.T, header string, dataLen int) {
		dataLen = min(max(dataLen, 0), 1<<20)
		c := &conn{cfg: config{maxMessageSize: 4 << 20}}
		m := &natsgo.Msg{Header: natsgo.Header{hdrBlob: []string{header}}, Data: make([]byte, dataLen)}
		ref, err := c.parseBlobRef(m)
		if err != nil {
			return
		}
		if ref.size < dataLen || ref.size <= 0 || ref.size > c.cfg.maxMessageSize ||
			!strings.HasSuffix(ref.subject, "."+blobToken) || strings.ContainsAny(ref.subject, "*> \t") || ref.id == "" {
			t.Fatalf("header %q accepted as %+v", header, ref)
		}
	})
}
