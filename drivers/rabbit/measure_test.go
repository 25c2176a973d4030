//go:build measure

// The measurements of RELIABILITY.md at the driver's defaults, too slow
// for every run (a private node, 50,000 messages, bombs of 500 MiB):
//
//	go test -tags measure -run Measure -v ./drivers/rabbit/

package rabbit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// peakWatch samples the heap until stopped; it returns the peak heap and
// the process's peak RSS (VmHWM).
func peakWatch() (stop func() (heap uint64, rss string)) {
	var peak atomic.Uint64
	var peakRSS atomic.Int64
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			b, _ := os.ReadFile("/proc/self/status")
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
					var n int64
					fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &n)
					peakRSS.Store(n)
				}
			}
		}
	}()
	return func() (uint64, string) { close(done); return peak.Load(), fmt.Sprintf("%d MiB", peakRSS.Load()/1024) }
}

// slowestOf makes n good calls and returns the time the slowest took.
func slowestOf(t *testing.T, c *client.Client, n int) time.Duration {
	t.Helper()
	var worst time.Duration
	for i := range n {
		s := time.Now()
		if err := echo(c, 30*time.Second, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
		worst = max(worst, time.Since(s))
	}
	return worst
}

// sleepEP handles casts in 1 s.
type sleepEP struct{ n atomic.Int64 }

func (e *sleepEP) Work(ctx context.Context, _ faultArgs) error {
	e.n.Add(1)
	time.Sleep(time.Second)
	return nil
}

func TestMeasureBacklog(t *testing.T) {
	node := needPrivateNode(t)
	url := fmt.Sprintf("rabbit://guest:guest@127.0.0.1:%d/", node.port)
	for _, tc := range []struct {
		name string
		opts []transport.Option
	}{{"default prefetch (MaxConcurrency 64)", nil}, {"rabbit_qos_prefetch_count=0", []transport.Option{PrefetchCount(0)}}} {
		topic := uniqueName("backlog")
		amqpURL := fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", node.port)
		conn, _ := amqp.Dial(amqpURL)
		ch, _ := conn.Channel()
		ch.ExchangeDeclare("openstack", "topic", false, false, false, false, nil)
		ch.QueueDeclare(topic, false, false, false, false, nil)
		ch.QueueBind(topic, topic, "openstack", false, nil)
		body := []byte(`{"oslo.version": "2.0", "oslo.message": "{\"method\": \"work\", \"args\": {\"text\": \"` + strings.Repeat("x", 10<<10) + `\"}}"}`)
		ch.Confirm(false)
		for i := range 50000 {
			dc, _ := ch.PublishWithDeferredConfirm("openstack", topic, false, false, amqp.Publishing{ContentType: jsonContentType, Body: body})
			if i%1000 == 999 {
				dc.Wait()
			}
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		stop := peakWatch()
		tr := openTransportURL(t, url, tc.opts...)
		ep := &sleepEP{}
		ctx := context.Background()
		srv := startServer(ctx, t, tr, topic, ep)
		time.Sleep(8 * time.Second)
		heap, hwm := stop()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		qi, _ := ch.QueueDeclarePassive(topic, false, false, false, false, nil)
		t.Logf("%s: 50000 x 10 KB backlog, 1 s handlers: %d handled in 8 s, %d on the broker; heap peak +%d MiB, live after GC +%d MiB; VmHWM %s",
			tc.name, ep.n.Load(), qi.Messages, (heap-base)>>20, (int64(ms.HeapAlloc)-int64(base))>>20, hwm)
		if tc.opts == nil && heap-base > 64<<20 {
			t.Errorf("heap grew by %d MiB with the default prefetch", (heap-base)>>20)
		}
		srv.Close()
		tr.Close()
		ch.QueueDelete(topic, false, false, false)
		conn.Close()
	}
}

func TestMeasureBombs(t *testing.T) {
	needBroker(t)
	for _, tc := range []struct {
		name string
		mib  int
		n    int
	}{{"8 bombs of 500 MiB", 500, 8}, {"8 bombs of 120 MiB (under max_message_size)", 120, 8}} {
		topic := uniqueName("bomb")
		tr := openTransport(t)
		c, _ := client.New(openTransport(t), target.Target{Topic: topic}, client.Timeout(30*time.Second))
		startEcho(t, tr, topic)
		bomb := gzipBomb(tc.mib)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		stop := peakWatch()
		start := time.Now()
		publishRaw(t, target.Target{Exchange: "openstack", Topic: topic}, tc.n, bomb, amqp.Table{compressionHeader: contentGzip})
		worst := slowestOf(t, c, 10) // while the bombs are dealt with
		time.Sleep(3 * time.Second)
		heap, hwm := stop()
		t.Logf("%s (%d KB each on the wire): slowest of 10 good calls %v; heap peak +%d MiB; VmHWM %s; %v",
			tc.name, len(bomb)>>10, worst.Round(time.Millisecond), (heap-base)>>20, hwm, time.Since(start).Round(time.Millisecond))
		// Two bodies of the default budget (256 MiB) and the core's copies.
		if heap-base > 768<<20 || worst > 3*time.Second {
			t.Errorf("%s: heap +%d MiB, slowest good call %v", tc.name, (heap-base)>>20, worst)
		}
	}
}

func TestMeasureBogusReplies(t *testing.T) {
	needBroker(t)
	topic := uniqueName("bogus")
	startEcho(t, openTransport(t), topic)
	c, _ := client.New(openTransport(t), target.Target{Topic: topic})
	inj := openTransport(t)
	e := engine.Of(inj)
	tg := e.ResolveTarget(target.Target{Topic: topic})
	for i := range 64 {
		id := ids.Hex()
		body := `{"oslo.version": "2.0", "oslo.message": "{\"method\": \"echo\", \"args\": {\"text\": \"` + strings.Repeat("x", 200) + `\"}, \"_msg_id\": \"` + id + `\", \"_reply_q\": \"reply_gone_` + fmt.Sprint(i) + `\"}"}`
		e.Driver().Send(context.Background(), tg, &driver.Message{Body: []byte(body), MsgID: id, ReplyTo: "x", Expiration: time.Minute})
	}
	start := time.Now()
	worst := slowestOf(t, c, 30)
	t.Logf("64 calls with missing reply queues, then 30 good calls: all answered in %v, slowest %v", time.Since(start).Round(time.Millisecond), worst.Round(time.Millisecond))
	if worst > time.Second {
		t.Errorf("slowest good call %v", worst)
	}
}

func TestMeasureOversize(t *testing.T) {
	needBroker(t)
	topic := uniqueName("over")
	startEcho(t, openTransport(t), topic)
	c, _ := client.New(openTransport(t), target.Target{Topic: topic}, client.Timeout(60*time.Second))
	big := faultArgs{Text: strings.Repeat("x", 130<<20)}
	s := time.Now()
	err := c.Call(context.Background(), "echo", big, nil)
	t.Logf("130 MiB call: %v after %v", err, time.Since(s).Round(time.Millisecond))
	if !errors.Is(err, transport.ErrMessageTooLarge) {
		t.Error(err)
	}
	s = time.Now()
	err = c.Cast(context.Background(), "record", big)
	t.Logf("130 MiB cast: %v after %v", err, time.Since(s).Round(time.Millisecond))
	if !errors.Is(err, transport.ErrMessageTooLarge) {
		t.Error(err)
	}
	// Against the broker's limit (driver's limit raised).
	c2, _ := client.New(openTransport(t, MaxMessageSize(256<<20)), target.Target{Topic: topic}, client.Timeout(60*time.Second))
	s = time.Now()
	err = c2.Cast(context.Background(), "record", big)
	t.Logf("130 MiB cast, driver limit 256 MiB, broker's 128 MiB: %v after %v", err, time.Since(s).Round(time.Millisecond))
	if !errors.Is(err, transport.ErrMessageTooLarge) {
		t.Error(err)
	}
}
