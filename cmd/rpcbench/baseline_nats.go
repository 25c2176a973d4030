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
// falls behind drops, as the driver's listener does past its buffer).
// Requests and replies carry the same JSON envelope as the driver's and
// are decoded and encoded, as any real service must.
type natsBaseline struct{}

func init() { registerBaseline("nats", natsBaseline{}) }

func (natsBaseline) Run(ctx context.Context, cfg Config) ([]Result, error) {
	servers, err := natsServers(cfg.URL)
	if err != nil {
		return nil, err
	}
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
	subject := "rpcbench_raw." + cfg.Topic
	sink := NewSink()
	for i := range cfg.Servers {
		nc, err := connect()
		if err != nil {
			return nil, err
		}
		handler := func(m *natsgo.Msg) {
			var req rawRequest
			if err := decodeEnvelope(m.Data, &req); err != nil {
				return
			}
			if cfg.Mode != "call" {
				sink.Add(req.Args.SentNs)
				return
			}
			body, err := encodeEnvelope(rawReply{Result: req.Args.SentNs, Ending: true})
			if err == nil {
				m.Respond(body)
			}
		}
		if cfg.Mode == "fanout" {
			_, err = nc.Subscribe(subject, handler)
		} else {
			_, err = nc.QueueSubscribe(subject, "rpc", handler)
		}
		if err != nil {
			return nil, err
		}
		if err := nc.Flush(); err != nil {
			return nil, fmt.Errorf("server %d: %w", i, err)
		}
	}
	nc, err := connect()
	if err != nil {
		return nil, err
	}
	send := func(ctx context.Context, p *Payload) error {
		body, err := encodeEnvelope(rawRequest{Method: "note", Args: *p})
		if err != nil {
			return err
		}
		return nc.Publish(subject, body)
	}
	if cfg.Mode == "call" {
		send = func(ctx context.Context, p *Payload) error {
			body, err := encodeEnvelope(rawRequest{Method: "info", Args: *p})
			if err != nil {
				return err
			}
			m, err := nc.RequestWithContext(ctx, subject, body)
			if err != nil {
				return err
			}
			var rep rawReply
			if err := decodeEnvelope(m.Data, &rep); err != nil {
				return err
			}
			if rep.Result != p.SentNs {
				return fmt.Errorf("reply carried %d, want %d", rep.Result, p.SentNs)
			}
			return nil
		}
	}
	r, err := drive(ctx, cfg, "baseline", send, sink)
	if err != nil {
		return nil, fmt.Errorf("bare nats.go: %w", err)
	}
	return []Result{r}, nil
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
