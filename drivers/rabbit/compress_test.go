package rabbit

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// bz2Cast is testdata/oslo-wire/request_cast.json's body compressed with
// Python's bz2.compress, as kombu_compression=bz2 sends it.
const bz2Cast = "QlpoOTFBWSZTWSP0FEEAAMjbgAQAUAd/8AAEv/f/ajAA+q1DUym1MU2RpDE09GpoZDQEqp+mU2pigGCBoAADESNRk0GJoAyBmkJ9syKBRSSCQSLbiBNfxcgF/rEBl+oJSSnrGNfkQtIX9MpI+mz5tgk82aHKk8kQ6uOYmZG4acoKUa4iNMnlY99BEJYQeE5AwCBSPuFQERpNSDOzcJasvgxrQbaDt5pJmmLwE7LrJTBGOZBm09/aXYglgtySWgtnPbdpnhWlLgo7UINap+mdHxiYLVCWomt7g+qwtQXAVKsJzkIUUPyWDWcIYtdSsoPFYcpz6jhw/AhWwPGfolG+DWIzg/vZUjblP4u5IpwoSBH6CiCA"

func TestDecompress(t *testing.T) {
	want := []byte(loadCapture(t, "request_cast").Body)
	bz, _ := base64.StdEncoding.DecodeString(bz2Cast)
	z, kind, err := compress("gzip", want)
	if err != nil || kind != "application/x-gzip" {
		t.Fatal(kind, err)
	}
	// kombu's "gzip" is zlib.compress: RFC 1950.
	if zr, err := zlib.NewReader(bytes.NewReader(z)); err != nil {
		t.Fatalf("not zlib: %v", err)
	} else if got, _ := io.ReadAll(zr); !bytes.Equal(got, want) {
		t.Fatal("zlib round trip")
	}
	o, _ := parseOptions(nil, nil)
	f := newInflater(o)
	ctx := context.Background()
	decompress := func(h amqp.Table, body []byte) ([]byte, error) { return f.inflate(ctx, h, body, nil) }
	for _, tt := range []struct {
		header any
		body   []byte
	}{
		{nil, want},
		{"application/x-gzip", z},
		{"application/x-bz2", bz},
	} {
		h := amqp.Table{}
		if tt.header != nil {
			h[compressionHeader] = tt.header
		}
		got, err := decompress(h, tt.body)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("decompress(%v): %q, %v", tt.header, got, err)
		}
	}
	if _, err := decompress(amqp.Table{compressionHeader: "application/x-lzma"}, want); err == nil {
		t.Error("unknown compression accepted")
	}
	if _, err := decompress(amqp.Table{compressionHeader: "application/x-gzip"}, want); err == nil {
		t.Error("garbage gzip accepted")
	}
}

// TestCompression checks kombu_compression on the wire and that bodies
// compressed by Python (bz2) are read.
func TestCompression(t *testing.T) {
	needBroker(t)
	_, ch := rawChannel(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A Go client and server that both compress.
	tr := openTransport(t, Compression("gzip"))
	str := openTransport(t, Compression("gzip"))
	topic := uniqueName("gzip")
	startEcho(t, str, topic)
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch.QueueBind(q.Name, topic, "openstack", false, nil)
	ds, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := client.New(tr, target.Target{Topic: topic}, client.Timeout(10*time.Second))
	text := strings.Repeat("compressible ", 100)
	if got, err := client.Call[string](ctx, c, "echo", faultArgs{Text: text}); err != nil || got != text {
		t.Fatalf("call through compressing transports: %.40q, %v", got, err)
	}
	d := receive(t, ds, "compressed request")
	if d.Headers[compressionHeader] != "application/x-gzip" || d.ContentType != "application/json" || d.ContentEncoding != "utf-8" {
		t.Fatalf("compressed request properties: %+v", d.Headers)
	}
	zr, err := zlib.NewReader(bytes.NewReader(d.Body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if _, err := wire.DecodeRequest(plain, ""); err != nil || len(plain) <= len(d.Body) {
		t.Fatalf("decompressed request: %v (%d bytes from %d)", err, len(plain), len(d.Body))
	}

	// A bz2 body from Python reaches a Go listener decompressed.
	l, err := engine.Of(tr).Driver().Listen(ctx, engine.Of(tr).ResolveTarget(target.Target{Topic: topic + "_bz2", Server: "s"}), driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	bz, _ := base64.StdEncoding.DecodeString(bz2Cast)
	err = ch.PublishWithContext(ctx, "openstack", topic+"_bz2", false, false, amqp.Publishing{
		ContentType: "application/json", ContentEncoding: "utf-8", DeliveryMode: 2,
		Headers: amqp.Table{compressionHeader: "application/x-bz2"}, Body: bz})
	if err != nil {
		t.Fatal(err)
	}
	in, err := l.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(in.Message().Body) != loadCapture(t, "request_cast").Body {
		t.Fatalf("bz2 body: %.60s", in.Message().Body)
	}
	ch.QueueDelete(topic+"_bz2", false, false, false)
	ch.QueueDelete(topic+"_bz2.s", false, false, false)
}

// FuzzInflate feeds the inflater arbitrary bodies under each compression
// header: it must never panic, never return more than its limit, and give
// back to its budget what it does not hand out.
func FuzzInflate(f *testing.F) {
	var z, g bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(`{"oslo.version": "2.0", "oslo.message": "{}"}`))
	zw.Close()
	gw := gzip.NewWriter(&g)
	gw.Write(bytes.Repeat([]byte("a"), 5000))
	gw.Close()
	bz, _ := base64.StdEncoding.DecodeString(bz2Cast)
	for _, seed := range []struct {
		kind string
		body []byte
	}{{contentGzip, z.Bytes()}, {contentGzip, g.Bytes()}, {contentBzip2, bz}, {"zlib", []byte("\x78\x9c")}, {"", []byte("{}")}} {
		f.Add(seed.kind, seed.body)
	}
	const limit = 4096
	fl := &inflater{limit: limit, budget: newBudget(1 << 40), wait: 0}
	f.Fuzz(func(t *testing.T, kind string, body []byte) {
		h := amqp.Table{}
		if kind != "" {
			h[compressionHeader] = kind
		}
		before := fl.budget.held()
		out, err := fl.inflate(context.Background(), h, body, nil)
		if err != nil {
			if held := fl.budget.held(); held > before {
				t.Fatalf("a refused body kept %d bytes of the budget", held-before)
			}
			return
		}
		if kind != "" && len(out) > limit {
			t.Fatalf("%d bytes out, limit %d", len(out), limit)
		}
	})
}
