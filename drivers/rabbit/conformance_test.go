package rabbit

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// The conformance suite runs with a small max_message_size and
// decompression budget, so that its oversize messages and compression
// bombs stay cheap.
const conformanceMaxSize = 8 << 20

func TestConformance(t *testing.T) {
	needBroker(t)
	drivertest.Run(t, drivertest.Config{
		URL:            func(testing.TB) string { return brokerURL },
		Notifications:  true,
		MaxMessageSize: conformanceMaxSize,
		Options:        []transport.Option{MaxMessageSize(conformanceMaxSize), DecompressBudget(conformanceMaxSize)},
		Attacks: []drivertest.Attack{
			{Name: "BombsOverMaxMessageSize", Send: func(t *testing.T, tg target.Target) {
				// 8 bodies of 270 KB that decompress to 256 MiB each:
				// refused without being held in memory.
				publishRaw(t, tg, 8, gzipBomb(256), amqp.Table{compressionHeader: contentGzip})
			}},
			{Name: "BombsUnderMaxMessageSize", Send: func(t *testing.T, tg target.Target) {
				// 12 casts that decompress to 6 MiB, just under
				// max_message_size: handled, one at a time (the budget is
				// max_message_size).
				publishRaw(t, tg, 12, zlibBomb(t, 6<<20), amqp.Table{compressionHeader: contentGzip})
			}},
			{Name: "CorruptCompressedBodies", Send: func(t *testing.T, tg target.Target) {
				publishRaw(t, tg, 16, []byte("\x78\x9c not zlib at all"), amqp.Table{compressionHeader: contentGzip})
				publishRaw(t, tg, 16, []byte("BZh9 not bzip2"), amqp.Table{compressionHeader: contentBzip2})
				publishRaw(t, tg, 16, []byte("{}"), amqp.Table{compressionHeader: "application/x-lzma"})
			}},
		},
	})
}

const (
	bombHead = `{"oslo.version": "2.0", "oslo.message": "{\"method\": \"echo\", \"args\": {\"text\": \"`
	bombTail = `\"}}"}`
)

// zlibBomb returns a zlib-compressed oslo cast to "echo" (a method the
// suite's servers have) whose text pads it to size bytes decompressed.
func zlibBomb(t *testing.T, size int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	w.Write([]byte(bombHead))
	pad := bytes.Repeat([]byte(" "), 1<<20)
	for n := size - len(bombHead) - len(bombTail); n > 0; n -= len(pad) {
		w.Write(pad[:min(n, len(pad))])
	}
	w.Write([]byte(bombTail))
	w.Close()
	return b.Bytes()
}

// gzipMiB is one gzip member holding 1 MiB of spaces.
var gzipMiB = sync.OnceValue(func() []byte { return gzipped(bytes.Repeat([]byte(" "), 1<<20)) })

func gzipped(p []byte) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w.Write(p)
	w.Close()
	return b.Bytes()
}

// gzipBomb returns a gzip body (members in a row, which gzip readers
// read as one stream) holding an oslo cast padded to mib MiB.
func gzipBomb(mib int) []byte {
	body := gzipped([]byte(bombHead))
	for range mib {
		body = append(body, gzipMiB()...)
	}
	return append(body, gzipped([]byte(bombTail))...)
}

// publishRaw publishes body n times to the topic of tg with amqp091, as
// an attacker with access to the broker would.
func publishRaw(t *testing.T, tg target.Target, n int, body []byte, headers amqp.Table) {
	t.Helper()
	_, ch := rawChannel(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range n {
		err := ch.PublishWithContext(ctx, tg.Exchange, tg.Topic, false, false, amqp.Publishing{
			ContentType: jsonContentType, ContentEncoding: "utf-8", Headers: headers, Body: body})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("published %d messages of %d bytes to %s", n, len(body), tg.Topic)
}
