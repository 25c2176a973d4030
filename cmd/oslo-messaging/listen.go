package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oslo-go/messaging/config"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/notify/listener"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

const listenHelp = `Each notification is printed when it arrives as one JSON object on one line (--pretty: indented):
{"priority", "event_type", "publisher_id", "payload", "context", "message_id", "timestamp"}.
Values of keys that look secret (password, token, secret, ...) in the payload and the context
are printed as "***" unless --show-secrets.

Without --pool the command consumes the topics' shared queues (<topic>.<priority> on RabbitMQ),
competing with every other listener without a pool (ceilometer's agents, for example): it takes
notifications away from them. With --pool NAME it gets a copy of every notification instead; on
RabbitMQ the pool's queue (named NAME) stays after the command exits and keeps collecting
notifications until deleted (rabbitmqctl delete_queue NAME).

The command runs until interrupted, until --count notifications are printed, or until --timeout
(then exit status 4 if fewer than --count came). Notifications beyond --count go back to the broker.
`

// listenFlags are listen's flags.
type listenFlags struct {
	conn        connFlags
	topics      listFlag
	exchange    string
	pool        string
	priorities  listFlag
	eventType   string
	publisherID string
	count       int
	timeout     time.Duration
	pretty      bool
	showSecrets bool
}

func runListen(args []string, stdout, stderr io.Writer) int {
	var f listenFlags
	fs := newFlagSet("listen",
		"(--transport-url URL | --config-file F) [--topic T]... [--pool P] [--priority P]... [--event-type RE] [--count N] [--pretty]",
		"Prints notifications as they arrive.\n\n"+listenHelp+"\n"+exitCodesHelp)
	f.conn.add(fs)
	fs.Var(&f.topics, "topic", "notification `topic`; repeat for several (default: the configuration's [oslo_messaging_notifications] topics, notifications)")
	fs.StringVar(&f.exchange, "exchange", "", "the `exchange` (default: the transport's control_exchange)")
	fs.StringVar(&f.pool, "pool", "", "listener `pool`: get a copy of every notification rather than competing with other listeners")
	fs.Var(&f.priorities, "priority", "only this `priority` (audit, debug, info, warn, error, critical, sample); repeat for several (default: all)")
	fs.StringVar(&f.eventType, "event-type", "", "only event types this regular expression matches from their start (oslo's NotificationFilter)")
	fs.StringVar(&f.publisherID, "publisher-id", "", "only publisher ids this regular expression matches from their start")
	fs.IntVar(&f.count, "count", 0, "exit after printing `N` notifications (0: run until interrupted)")
	fs.DurationVar(&f.timeout, "timeout", 0, "exit after this long (0: no limit)")
	fs.BoolVar(&f.pretty, "pretty", false, "print each notification indented over several lines")
	fs.BoolVar(&f.showSecrets, "show-secrets", false, "print secret-looking values instead of ***")
	if code := parse(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	endpoints, err := f.check()
	if err != nil {
		return usageError(stderr, fs.Name(), err.Error())
	}
	if err := f.listen(endpoints, stdout, stderr); err != nil {
		return report(stderr, fs.Name(), err, f.conn.verbose)
	}
	return exitOK
}

// check validates the flags and returns the endpoints they ask for, which
// print to nothing yet.
func (f *listenFlags) check() ([]any, error) {
	if err := f.conn.check(); err != nil {
		return nil, err
	}
	if f.count < 0 || f.timeout < 0 {
		return nil, errors.New("--count and --timeout must not be negative")
	}
	for _, re := range []string{f.eventType, f.publisherID} {
		if _, err := regexp.Compile(re); err != nil {
			return nil, fmt.Errorf("bad regular expression: %v", err)
		}
	}
	prios := []string(f.priorities)
	if len(prios) == 0 {
		prios = wire.Priorities[:]
	}
	var endpoints []any
	for _, p := range prios {
		ep := endpointFor(strings.ToLower(p))
		if ep == nil {
			return nil, fmt.Errorf("--priority %q: want one of %s", p, strings.Join(wire.Priorities[:], ", "))
		}
		endpoints = append(endpoints, ep)
	}
	return endpoints, nil
}

func (f *listenFlags) listen(endpoints []any, stdout, stderr io.Writer) error {
	ctx, stop := interruptible()
	defer stop()
	tr, conf, err := f.conn.open(ctx, stderr, true)
	if err != nil {
		return err
	}
	defer tr.Close()
	topics := []string(f.topics)
	if len(topics) == 0 && conf != nil {
		if topics, err = conf.List(config.NotificationsGroup, "topics"); err != nil {
			return err
		}
	}
	if len(topics) == 0 {
		topics = []string{notify.DefaultTopic}
	}
	targets := make([]target.Target, len(topics))
	for i, t := range topics {
		targets[i] = target.Target{Topic: t, Exchange: f.exchange}
	}
	p := &printer{w: stdout, pretty: f.pretty, showSecrets: f.showSecrets, count: f.count, done: make(chan struct{})}
	filter := listener.Filter{EventType: f.eventType, PublisherID: f.publisherID}
	for i, ep := range endpoints {
		ep.(interface{ set(*printer) }).set(p)
		if f.eventType != "" || f.publisherID != "" {
			endpoints[i] = listener.Filtered(ep, filter)
		}
	}
	opts := []listener.Option{listener.MaxConcurrency(1), listener.AllowRequeue(true), listener.WithLogger(f.conn.logger(stderr))}
	if f.pool != "" {
		opts = append(opts, listener.Pool(f.pool))
	}
	l, err := listener.New(tr, targets, endpoints, opts...)
	if err != nil {
		return usagef("%v", err)
	}
	if err := l.Start(ctx); err != nil {
		return err
	}
	var names []string
	for _, t := range l.Targets() {
		names = append(names, t.Topic)
	}
	pool := ""
	if f.pool != "" {
		pool = " in pool " + f.pool
	}
	fmt.Fprintf(stderr, "%s listen: listening to %s%s\n", name, strings.Join(names, ", "), pool)

	var timeout <-chan time.Time
	if f.timeout > 0 {
		timer := time.NewTimer(f.timeout)
		defer timer.Stop()
		timeout = timer.C
	}
	var result error
	select {
	case <-p.done:
	case <-ctx.Done():
	case <-timeout:
		if f.count > 0 {
			result = fmt.Errorf("%d of %d notifications within %v: %w", p.printed(), f.count, f.timeout, transport.ErrTimeout)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Shutdown(sctx); err != nil {
		l.Close()
	}
	if err := p.writeErr(); err != nil {
		return err
	}
	return result
}

// printer writes the notifications the endpoints get.
type printer struct {
	w           io.Writer
	pretty      bool
	showSecrets bool
	count       int
	done        chan struct{}

	mu  sync.Mutex
	n   int
	err error // the first write error
}

func (p *printer) printed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func (p *printer) writeErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// handle prints one notification; past --count it sends it back.
func (p *printer) handle(ctx context.Context, priority, publisherID, eventType string, payload serializer.Raw, md listener.Metadata) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if (p.count > 0 && p.n >= p.count) || p.err != nil {
		return listener.ErrRequeue
	}
	var body any
	if err := payload.Decode(&body); err != nil {
		body = map[string]any{"undecodable": err.Error()}
	}
	var rc any = map[string]any{}
	if c := serializer.RequestContextFrom(ctx); c != nil {
		rc = map[string]any(c.Clone())
	}
	if !p.showSecrets {
		body, rc = maskSecrets(body), maskSecrets(rc)
	}
	fields := []struct {
		key string
		val any
	}{
		{"priority", priority}, {"event_type", eventType}, {"publisher_id", publisherID}, {"payload", body},
		{"context", rc}, {"message_id", md.MessageID}, {"timestamp", md.Timestamp},
	}
	b := []byte{'{'}
	for i, fl := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		if p.pretty {
			b = append(b, "\n  "...)
		}
		b = append(b, jsonString(fl.key)...)
		b = append(b, ':')
		if p.pretty {
			b = append(b, ' ')
		}
		b = appendJSON(b, fl.val, p.pretty, "  ")
	}
	if p.pretty {
		b = append(b, '\n')
	}
	b = append(b, "}\n"...)
	if _, err := p.w.Write(b); err != nil {
		p.err = err
		return listener.ErrRequeue
	}
	p.n++
	if p.n == p.count {
		close(p.done)
	}
	return nil
}

// secretWords are parts of key names whose values are masked (after
// oslo_utils.strutils' _SANITIZE_KEYS).
var secretWords = []string{"pass", "token", "secret", "private_key", "credential", "cookie", "authkey", "fernetkey"}

// maskSecrets replaces, in maps at any depth, the values of secret-looking
// keys with "***".
func maskSecrets(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			lk := strings.ToLower(k)
			if slices.ContainsFunc(secretWords, func(w string) bool { return strings.Contains(lk, w) }) {
				val = "***"
			}
			out[k] = maskSecrets(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = maskSecrets(e)
		}
		return out
	}
	return v
}

// The endpoints, one per priority, so that the listener consumes only the
// priorities asked for.
type (
	base             struct{ p *printer }
	auditEndpoint    struct{ base }
	debugEndpoint    struct{ base }
	infoEndpoint     struct{ base }
	warnEndpoint     struct{ base }
	errorEndpoint    struct{ base }
	criticalEndpoint struct{ base }
	sampleEndpoint   struct{ base }
)

func (b *base) set(p *printer) { b.p = p }

func endpointFor(priority string) any {
	switch priority {
	case "audit":
		return &auditEndpoint{}
	case "debug":
		return &debugEndpoint{}
	case "info":
		return &infoEndpoint{}
	case "warn":
		return &warnEndpoint{}
	case "error":
		return &errorEndpoint{}
	case "critical":
		return &criticalEndpoint{}
	case "sample":
		return &sampleEndpoint{}
	}
	return nil
}

type meta = listener.Metadata
type raw = serializer.Raw

func (e *auditEndpoint) Audit(ctx context.Context, pub, ev string, p raw, m meta) error {
	return e.p.handle(ctx, "audit", pub, ev, p, m)
}
func (e *debugEndpoint) Debug(ctx context.Context, pub, ev string, p raw, m meta) error {
	return e.p.handle(ctx, "debug", pub, ev, p, m)
}
func (e *infoEndpoint) Info(ctx context.Context, pub, ev string, p raw, m meta) error {
	return e.p.handle(ctx, "info", pub, ev, p, m)
}
func (e *warnEndpoint) Warn(ctx context.Context, pub, ev string, p raw, m meta) error {
	return e.p.handle(ctx, "warn", pub, ev, p, m)
}
func (e *errorEndpoint) Error(ctx context.Context, pub, ev string, p raw, m meta) error {
	return e.p.handle(ctx, "error", pub, ev, p, m)
}
func (e *criticalEndpoint) Critical(ctx context.Context, pub, ev string, p raw, m meta) error {
	return e.p.handle(ctx, "critical", pub, ev, p, m)
}
func (e *sampleEndpoint) Sample(ctx context.Context, pub, ev string, p raw, m meta) error {
	return e.p.handle(ctx, "sample", pub, ev, p, m)
}
