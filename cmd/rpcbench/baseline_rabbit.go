package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/transport"
)

// rabbitBaseline is request-reply written directly on amqp091-go, for
// comparison with the rabbit driver, in two variants (decision 10):
//
//   - "bare", the bar of the overhead figures: the minimal amqp091
//     request-reply. Requests are published to the default exchange with
//     the queue as routing key, transient, without publisher confirms;
//     consumers auto-ack; replies go to the caller's exclusive reply queue
//     by correlation id. Bodies are the payload's bytes (the -size cargo,
//     its first 8 bytes the send time), echoed back: no JSON work.
//   - "oslo-work": amqp091 doing on the wire what the driver must do for
//     oslo compatibility: requests through the topic exchange, persistent,
//     with an expiration on calls; every publish waits for its publisher
//     confirm; the server acknowledges each request; replies go mandatory
//     through the default exchange to the caller's reply queue; requests
//     and replies carry the oslo JSON envelope and are encoded and decoded.
//     It isolates the library's own cost from the price of the semantics.
type rabbitBaseline struct{}

func init() {
	for _, scheme := range []string{"rabbit", "kombu"} {
		registerBaseline(scheme, rabbitBaseline{})
	}
}

func (rabbitBaseline) Run(ctx context.Context, cfg Config) ([]Result, error) {
	uri, err := amqpURI(cfg.URL)
	if err != nil {
		return nil, err
	}
	return variants("amqp091", func(oslo bool, name string) (Result, error) { return runRawRabbit(ctx, cfg, uri, oslo, name) })
}

// variants runs a baseline's two variants, "bare" then "oslo-work".
func variants(client string, run func(oslo bool, name string) (Result, error)) ([]Result, error) {
	var out []Result
	for _, oslo := range []bool{false, true} {
		name := "bare"
		if oslo {
			name = "oslo-work"
		}
		r, err := run(oslo, name)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", name, client, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// amqpURI turns the first host of a transport URL into an amqp091 URI.
func amqpURI(raw string) (string, error) {
	u, err := transport.ParseURL(raw)
	if err != nil {
		return "", err
	}
	h := transport.Host{Hostname: "localhost", Port: 5672, Username: "guest", Password: "guest"}
	if len(u.Hosts) > 0 {
		h = u.Hosts[0]
		if h.Port == 0 {
			h.Port = 5672
		}
		if h.Username == "" {
			h.Username, h.Password = "guest", "guest"
		}
	}
	vhost := u.VirtualHost
	if vhost == "" {
		vhost = "/"
	}
	host := h.Hostname
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("amqp://%s@%s:%d/%s", url.UserPassword(h.Username, h.Password), host, h.Port, url.PathEscape(vhost)), nil
}

// rawEnvelope wraps a payload as the driver's messages are wrapped, so the
// bodies have the same size and the same decoding work.
type rawEnvelope struct {
	Version string `json:"oslo.version"`
	Message string `json:"oslo.message"`
}

type rawRequest struct {
	Method string  `json:"method"`
	Args   Payload `json:"args"`
}

type rawReply struct {
	Result  int64 `json:"result"`
	Failure any   `json:"failure"`
	Ending  bool  `json:"ending"`
}

func encodeEnvelope(v any) ([]byte, error) {
	inner, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(rawEnvelope{Version: "2.0", Message: string(inner)})
}

func decodeEnvelope(body []byte, v any) error {
	var env rawEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return err
	}
	return json.Unmarshal([]byte(env.Message), v)
}

// rawBody is the body of a request: the bare payload bytes, or the oslo
// JSON envelope.
func rawBody(oslo bool, method string, p *Payload) ([]byte, error) {
	if oslo {
		return encodeEnvelope(rawRequest{Method: method, Args: *p})
	}
	b := make([]byte, max(len(p.Cargo), 8))
	copy(b, p.Cargo)
	binary.BigEndian.PutUint64(b, uint64(p.SentNs))
	return b, nil
}

// sentAt returns the send time a request body carries.
func sentAt(oslo bool, body []byte) (int64, bool) {
	if !oslo {
		if len(body) < 8 {
			return 0, false
		}
		return int64(binary.BigEndian.Uint64(body)), true
	}
	var req rawRequest
	if decodeEnvelope(body, &req) != nil {
		return 0, false
	}
	return req.Args.SentNs, true
}

// replyBody answers a request body: the same bytes (bare), or an oslo
// reply carrying the send time.
func replyBody(oslo bool, req []byte) ([]byte, bool) {
	if !oslo {
		return req, true
	}
	sent, ok := sentAt(true, req)
	if !ok {
		return nil, false
	}
	body, err := encodeEnvelope(rawReply{Result: sent, Ending: true})
	return body, err == nil
}

// checkReply checks that a reply answers p.
func checkReply(oslo bool, body []byte, p *Payload) error {
	var got int64
	if oslo {
		var rep rawReply
		if err := decodeEnvelope(body, &rep); err != nil {
			return err
		}
		got = rep.Result
	} else if len(body) >= 8 {
		got = int64(binary.BigEndian.Uint64(body))
	}
	if got != p.SentNs {
		return fmt.Errorf("reply carried %d, want %d", got, p.SentNs)
	}
	return nil
}

// rawPublisher publishes on one channel, in confirm mode with oslo
// semantics; publishers hold the channel only while writing.
type rawPublisher struct {
	ch   *amqp.Channel
	oslo bool
}

func (p rawPublisher) publish(ctx context.Context, exchange, key string, mandatory bool, msg amqp.Publishing) error {
	if !p.oslo {
		return p.ch.PublishWithContext(ctx, exchange, key, false, false, msg)
	}
	msg.DeliveryMode, msg.ContentEncoding = amqp.Persistent, "utf-8"
	dc, err := p.ch.PublishWithDeferredConfirm(exchange, key, mandatory, false, msg)
	if err != nil {
		return err
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("publish nacked")
	}
	return nil
}

func rawChannel(conn *amqp.Connection, confirm bool) (*amqp.Channel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if confirm {
		if err := ch.Confirm(false); err != nil {
			return nil, err
		}
		// Returns must be drained or amqp091 blocks.
		go func(rc <-chan amqp.Return) {
			for range rc {
			}
		}(ch.NotifyReturn(make(chan amqp.Return, 16)))
	}
	return ch, nil
}

func runRawRabbit(ctx context.Context, cfg Config, uri string, oslo bool, name string) (Result, error) {
	var conns []*amqp.Connection
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dial := func() (*amqp.Connection, error) {
		c, err := amqp.Dial(uri)
		if err == nil {
			conns = append(conns, c)
		}
		return c, err
	}
	setup, err := dial()
	if err != nil {
		return Result{}, err
	}
	sch, err := setup.Channel()
	if err != nil {
		return Result{}, err
	}
	exchange, queue := "openstack", cfg.Topic+"_raw_"+name
	if !oslo {
		exchange = ""
	}
	if oslo {
		if err := sch.ExchangeDeclare(exchange, "topic", false, false, false, false, nil); err != nil {
			return Result{}, err
		}
	}
	fanoutExchange := cfg.Topic + "_raw_" + name + "_fanout"
	if cfg.Mode == "fanout" {
		if err := sch.ExchangeDeclare(fanoutExchange, "fanout", false, true, false, false, nil); err != nil {
			return Result{}, err
		}
	}
	sink := NewSink()
	var cleanup []string
	defer func() {
		for _, q := range cleanup {
			sch.QueueDelete(q, false, false, false)
		}
	}()
	for i := range cfg.Servers {
		q := queue
		if cfg.Mode == "fanout" {
			q = fmt.Sprintf("%s_fanout_%d", queue, i)
		}
		if _, err := sch.QueueDeclare(q, false, false, false, false, nil); err != nil {
			return Result{}, err
		}
		cleanup = append(cleanup, q)
		switch {
		case cfg.Mode == "fanout":
			err = sch.QueueBind(q, "", fanoutExchange, false, nil)
		case oslo:
			err = sch.QueueBind(q, q, exchange, false, nil)
		}
		if err != nil {
			return Result{}, err
		}
		if err := startRawServer(ctx, dial, q, cfg.Mode, oslo, sink); err != nil {
			return Result{}, err
		}
	}

	cconn, err := dial()
	if err != nil {
		return Result{}, err
	}
	cch, err := rawChannel(cconn, oslo)
	if err != nil {
		return Result{}, err
	}
	pub := rawPublisher{ch: cch, oslo: oslo}
	var send SendFunc
	switch cfg.Mode {
	case "call":
		replies := newRawReplies()
		rconn, err := dial()
		if err != nil {
			return Result{}, err
		}
		rch, err := rconn.Channel()
		if err != nil {
			return Result{}, err
		}
		rq, err := rch.QueueDeclare("", false, true, true, false, amqp.Table{"x-expires": int32(1800000)})
		if err != nil {
			return Result{}, err
		}
		ds, err := rch.Consume(rq.Name, "", true, true, false, false, nil)
		if err != nil {
			return Result{}, err
		}
		go replies.consume(ds)
		expiration := strconv.FormatInt(cfg.Timeout.Milliseconds(), 10)
		send = func(ctx context.Context, p *Payload) error {
			body, err := rawBody(oslo, "info", p)
			if err != nil {
				return err
			}
			id, w := replies.register()
			defer replies.forget(id)
			msg := amqp.Publishing{ContentType: "application/json", CorrelationId: id, ReplyTo: rq.Name, Body: body}
			if oslo {
				msg.Expiration = expiration
			}
			if err := pub.publish(ctx, exchange, queue, false, msg); err != nil {
				return err
			}
			select {
			case b := <-w:
				return checkReply(oslo, b, p)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	default:
		ex, key := exchange, queue
		if cfg.Mode == "fanout" {
			ex, key = fanoutExchange, ""
		}
		send = func(ctx context.Context, p *Payload) error {
			body, err := rawBody(oslo, "note", p)
			if err != nil {
				return err
			}
			return pub.publish(ctx, ex, key, false, amqp.Publishing{ContentType: "application/json", Body: body})
		}
	}
	return drive(ctx, cfg, name, send, sink)
}

// startRawServer consumes q: calls are answered, casts counted in sink.
func startRawServer(ctx context.Context, dial func() (*amqp.Connection, error), q, mode string, oslo bool, sink *Sink) error {
	conn, err := dial()
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	ds, err := ch.Consume(q, "", !oslo, false, false, false, nil)
	if err != nil {
		return err
	}
	pch, err := rawChannel(conn, oslo)
	if err != nil {
		return err
	}
	pub := rawPublisher{ch: pch, oslo: oslo}
	go func() {
		for d := range ds {
			if oslo {
				d.Ack(false) // acknowledged before handling, as oslo does
			}
			if mode != "call" {
				if sent, ok := sentAt(oslo, d.Body); ok {
					sink.Add(sent)
				}
				continue
			}
			go func(d amqp.Delivery) {
				body, ok := replyBody(oslo, d.Body)
				if !ok {
					return
				}
				pub.publish(ctx, "", d.ReplyTo, oslo, amqp.Publishing{ContentType: "application/json", CorrelationId: d.CorrelationId, Body: body})
			}(d)
		}
	}()
	return nil
}

// rawReplies correlates replies with calls by correlation id.
type rawReplies struct {
	next    atomic.Uint64
	mu      sync.Mutex
	waiting map[string]chan []byte
}

func newRawReplies() *rawReplies { return &rawReplies{waiting: map[string]chan []byte{}} }

func (r *rawReplies) register() (string, chan []byte) {
	id := strconv.FormatUint(r.next.Add(1), 10)
	w := make(chan []byte, 1)
	r.mu.Lock()
	r.waiting[id] = w
	r.mu.Unlock()
	return id, w
}

func (r *rawReplies) forget(id string) {
	r.mu.Lock()
	delete(r.waiting, id)
	r.mu.Unlock()
}

func (r *rawReplies) consume(ds <-chan amqp.Delivery) {
	for d := range ds {
		r.mu.Lock()
		w := r.waiting[d.CorrelationId]
		r.mu.Unlock()
		if w != nil {
			select {
			case w <- d.Body:
			default:
			}
		}
	}
}
