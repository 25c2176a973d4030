package main

import (
	"context"
	"fmt"
	"strings"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oslo-go/messaging/transport"
)

// natsBaseline is request-reply written directly on nats.go, for
// comparison with the nats driver: nc.RequestWithContext (nats.go's shared
// response inbox) to a queue-group subscriber that answers with
// msg.Respond; casts are nc.Publish to a queue group (fanout: plain
// subscriptions), with nats.go's default pending limits (a subscriber that
// falls behind drops, as the driver's listener does past its buffer). Two
// variants (decision 10): "bare" sends the payload's bytes (its first 8
// the send time) and echoes them back, with no JSON work; "oslo-work"
// carries the same JSON envelope as the driver's, encoded and decoded on
// both sides, as a real service must.
type natsBaseline struct{}

func init() { registerBaseline("nats", natsBaseline{}) }

func (natsBaseline) Run(ctx context.Context, cfg Config) ([]Result, error) {
	servers, err := natsServers(cfg.URL)
	if err != nil {
		return nil, err
	}
	return variants("nats.go", func(oslo bool, name string) (Result, error) { return runRawNATS(ctx, cfg, servers, oslo, name) })
}

func runRawNATS(ctx context.Context, cfg Config, servers string, oslo bool, name string) (Result, error) {
	var conns []*natsgo.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	connect := func() (*natsgo.Conn, error) {
		// Slow-consumer drops are counted as lost casts, not printed.
		quiet := natsgo.ErrorHandler(func(*natsgo.Conn, *natsgo.Subscription, error) {})
		c, err := natsgo.Connect(servers, natsgo.Name("rpcbench-baseline"), quiet)
		if err == nil {
			conns = append(conns, c)
		}
		return c, err
	}
	subject := "rpcbench_raw." + name + "." + cfg.Topic
	sink := NewSink()
	for i := range cfg.Servers {
		nc, err := connect()
		if err != nil {
			return Result{}, err
		}
		handler := func(m *natsgo.Msg) {
			if cfg.Mode != "call" {
				if sent, ok := sentAt(oslo, m.Data); ok {
					sink.Add(sent)
				}
				return
			}
			if body, ok := replyBody(oslo, m.Data); ok {
				m.Respond(body)
			}
		}
		if cfg.Mode == "fanout" {
			_, err = nc.Subscribe(subject, handler)
		} else {
			_, err = nc.QueueSubscribe(subject, "rpc", handler)
		}
		if err != nil {
			return Result{}, err
		}
		if err := nc.Flush(); err != nil {
			return Result{}, fmt.Errorf("server %d: %w", i, err)
		}
	}
	nc, err := connect()
	if err != nil {
		return Result{}, err
	}
	send := func(ctx context.Context, p *Payload) error {
		body, err := rawBody(oslo, "note", p)
		if err != nil {
			return err
		}
		return nc.Publish(subject, body)
	}
	if cfg.Mode == "call" {
		send = func(ctx context.Context, p *Payload) error {
			body, err := rawBody(oslo, "info", p)
			if err != nil {
				return err
			}
			m, err := nc.RequestWithContext(ctx, subject, body)
			if err != nil {
				return err
			}
			return checkReply(oslo, m.Data, p)
		}
	}
	return drive(ctx, cfg, name, send, sink)
}

// natsServers turns a transport URL's hosts into a nats.go server list.
func natsServers(raw string) (string, error) {
	u, err := transport.ParseURL(raw)
	if err != nil {
		return "", err
	}
	if len(u.Hosts) == 0 {
		return natsgo.DefaultURL, nil
	}
	var list []string
	for _, h := range u.Hosts {
		port := h.Port
		if port == 0 {
			port = 4222
		}
		host := h.Hostname
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		cred := ""
		if h.Username != "" {
			cred = h.Username
			if h.Password != "" {
				cred += ":" + h.Password
			}
			cred += "@"
		}
		list = append(list, fmt.Sprintf("nats://%s%s:%d", cred, host, port))
	}
	return strings.Join(list, ","), nil
}
