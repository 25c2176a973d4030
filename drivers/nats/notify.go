package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oslo-go/messaging/internal/backoff"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// jetStream returns the Conn's JetStream context.
func (c *conn) jetStream() (jetstream.JetStream, error) {
	s := &c.js
	s.once.Do(func() {
		s.js, s.err = jetstream.New(c.nc)
		s.streams = map[string]jetstream.Stream{}
		s.defaults = map[[2]string]time.Time{}
	})
	if s.err != nil {
		return nil, fmt.Errorf("nats: JetStream: %w", s.err)
	}
	return s.js, nil
}

// jsError explains the JetStream errors users can act on, with no
// secret in their text.
func (c *conn) jsError(what string, err error) error {
	err = c.secrets.scrub(err)
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) ||
		errors.Is(err, natsgo.ErrNoResponders) {
		return fmt.Errorf("nats: %s: notifications need JetStream enabled on the server (nats-server -js): %w", what, err)
	}
	return fmt.Errorf("nats: %s: %w", what, err)
}

// ensureStream returns the notification stream of exchange, creating it
// with the configured limits when it does not exist. An existing stream is
// used as it is.
func (c *conn) ensureStream(ctx context.Context, exchange string) (jetstream.Stream, error) {
	js, err := c.jetStream()
	if err != nil {
		return nil, err
	}
	s := &c.js
	s.mu.Lock()
	st := s.streams[exchange]
	s.mu.Unlock()
	if st != nil {
		return st, nil
	}
	name := c.subj.streamName(exchange)
	st, err = js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		nc := c.cfg.notify
		scfg := jetstream.StreamConfig{
			Name:        name,
			Description: fmt.Sprintf("oslo.messaging notifications of exchange %q", exchange),
			Subjects:    []string{c.subj.notifyStreamSubject(exchange)},
			Retention:   jetstream.InterestPolicy,
			Discard:     jetstream.DiscardOld,
			MaxAge:      nc.maxAge,
			MaxBytes:    nc.maxBytes,
			MaxMsgs:     nc.maxMsgs,
			Replicas:    nc.replicas,
			Storage:     jetstream.FileStorage,
		}
		if nc.memory {
			scfg.Storage = jetstream.MemoryStorage
		}
		st, err = js.CreateStream(ctx, scfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = js.Stream(ctx, name)
		}
		if err == nil {
			c.log.Debug("nats: created notification stream", "stream", name, "subjects", scfg.Subjects,
				"max_age", nc.maxAge, "max_bytes", nc.maxBytes, "max_msgs", nc.maxMsgs, "storage", scfg.Storage.String())
		}
	}
	if err != nil {
		return nil, c.jsError("notification stream "+name, err)
	}
	s.mu.Lock()
	s.streams[exchange] = st
	s.mu.Unlock()
	return st, nil
}

// ensureConsumer returns the durable consumer of topic for pool, creating
// it when it does not exist. A new consumer gets the messages sent after
// it was created.
func (c *conn) ensureConsumer(ctx context.Context, exchange, topic, pool string) (jetstream.Consumer, error) {
	st, err := c.ensureStream(ctx, exchange)
	if err != nil {
		return nil, err
	}
	name := consumerName(topic, pool)
	cons, err := st.Consumer(ctx, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		nc := c.cfg.notify
		ccfg := jetstream.ConsumerConfig{
			Durable:       name,
			Description:   fmt.Sprintf("oslo.messaging notifications %q, pool %q", topic, pool),
			FilterSubject: c.subj.notify(exchange, topic),
			DeliverPolicy: jetstream.DeliverNewPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       nc.ackWait,
			MaxDeliver:    nc.maxDeliver,
		}
		if pool == "" {
			ccfg.Description = fmt.Sprintf("oslo.messaging notifications %q, default pool", topic)
		}
		if nc.inactive > 0 {
			ccfg.InactiveThreshold = nc.inactive
		}
		cons, err = st.CreateConsumer(ctx, ccfg)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			cons, err = st.Consumer(ctx, name)
		}
		if err == nil {
			c.log.Debug("nats: created notification consumer", "stream", st.CachedInfo().Config.Name, "consumer", name, "filter", ccfg.FilterSubject)
		}
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		c.forgetStream(exchange) // deleted behind our back; the caller retries
	}
	if err != nil {
		return nil, c.jsError(fmt.Sprintf("notification consumer %s", name), err)
	}
	return cons, nil
}

func (c *conn) forgetStream(exchange string) {
	s := &c.js
	s.mu.Lock()
	delete(s.streams, exchange)
	for k := range s.defaults {
		if k[0] == exchange {
			delete(s.defaults, k)
		}
	}
	s.mu.Unlock()
}

// ensureDefault makes sure the default pool's consumer of a topic exists,
// as the RabbitMQ notifier declares the default queue: what is sent before
// any listener runs is kept for it.
func (c *conn) ensureDefault(ctx context.Context, exchange, topic string) error {
	if _, err := c.jetStream(); err != nil {
		return err
	}
	s := &c.js
	key := [2]string{exchange, topic}
	now := time.Now()
	s.mu.Lock()
	checked, ok := s.defaults[key]
	s.mu.Unlock()
	// With an inactive threshold JetStream may delete the consumer: look
	// again now and then.
	if ok && (c.cfg.notify.inactive == 0 || now.Sub(checked) < c.cfg.notify.inactive/2) {
		return nil
	}
	if _, err := c.ensureConsumer(ctx, exchange, topic, ""); err != nil {
		return err
	}
	s.mu.Lock()
	s.defaults[key] = now
	s.mu.Unlock()
	return nil
}

// Notify publishes a notification to the stream of t.Exchange and waits
// for JetStream's acknowledgement.
func (c *conn) Notify(ctx context.Context, t target.Target, m *driver.Message) error {
	if err := c.ready(ctx); err != nil {
		return err
	}
	subj := c.subj.notify(t.Exchange, t.Topic)
	for attempt := 0; ; attempt++ {
		if err := c.ensureDefault(ctx, t.Exchange, t.Topic); err != nil {
			return err
		}
		js, _ := c.jetStream()
		msg := &natsgo.Msg{Subject: subj, Data: m.Body}
		if m.ContentType != "" {
			msg.Header = natsgo.Header{hdrContentType: []string{m.ContentType}}
		}
		_, err := js.PublishMsg(ctx, msg)
		if err == nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrNoStreamResponse) && attempt == 0 {
			// The stream went away (deleted, or memory storage and a
			// restarted server): make it again.
			c.forgetStream(t.Exchange)
			continue
		}
		if errors.Is(err, natsgo.ErrMaxPayload) {
			return fmt.Errorf("nats: notification of %d bytes exceeds the server's max_payload of %d: %w (%w)", len(m.Body), c.nc.MaxPayload(), driver.ErrMessageTooLarge, err)
		}
		if errors.Is(err, natsgo.ErrConnectionClosed) && c.closing.Load() {
			return driver.ErrClosed
		}
		return c.jsError("publishing notification to "+subj, err)
	}
}

// ListenNotifications consumes the durable consumers of targets for pool
// (created when missing), one pull loop per target, all feeding one
// channel.
func (c *conn) ListenNotifications(ctx context.Context, targets []target.Target, pool string, _ driver.ListenOptions) (driver.Listener, error) {
	if err := c.ready(ctx); err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, errors.New("nats: ListenNotifications without targets")
	}
	lctx, cancel := context.WithCancel(context.Background())
	l := &notifyListener{
		c:           c,
		pool:        pool,
		ch:          make(chan *notifyIncoming),
		ctx:         lctx,
		cancel:      cancel,
		outstanding: map[*notifyIncoming]struct{}{},
	}
	conss := make([]jetstream.Consumer, len(targets))
	for i, t := range targets {
		cons, err := c.ensureConsumer(ctx, t.Exchange, t.Topic, pool)
		if err != nil && errors.Is(err, jetstream.ErrStreamNotFound) {
			cons, err = c.ensureConsumer(ctx, t.Exchange, t.Topic, pool)
		}
		if err != nil {
			cancel()
			return nil, err
		}
		conss[i] = cons
	}
	if !c.addListener(l) {
		cancel()
		return nil, driver.ErrClosed
	}
	for i, t := range targets {
		l.wg.Add(1)
		if !c.spawn(func() { l.pump(t, conss[i]) }) {
			l.wg.Done()
		}
	}
	c.log.Debug("nats: listening for notifications", "targets", len(targets), "pool", pool)
	return l, nil
}

// Pull requests of notification listeners: short, with idle heartbeats,
// so that a pull request lost while the server restarts (JetStream not yet
// ready, "no responders") is noticed within two heartbeats and made again.
const (
	pullExpiry    = 5 * time.Second
	pullHeartbeat = time.Second
)

// notifyListener yields notifications from one or more pull consumers.
type notifyListener struct {
	c      *conn
	pool   string
	ch     chan *notifyIncoming
	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	once   sync.Once
	wg     sync.WaitGroup

	mu          sync.Mutex
	outstanding map[*notifyIncoming]struct{} // returned by Next, not settled
	leftover    []*notifyIncoming            // pulled after Close began, never taken
	handedBack  bool                         // Close has collected leftover
	closed      bool
}

// pump pulls the messages of one consumer, a batch of up to the prefetch
// at a time, and hands them to Next. When the listener closes it rejects
// (Nak) what it still holds, for redelivery to other listeners. When the
// consumer goes away (deleted, or lost with a memory stream), it makes it
// again.
func (l *notifyListener) pump(t target.Target, cons jetstream.Consumer) {
	defer l.wg.Done()
	retry := backoff.Exponential(100*time.Millisecond, 5*time.Second)
	for l.ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(l.ctx, pullExpiry)
		batch, err := cons.Fetch(l.c.cfg.notify.prefetch, jetstream.FetchContext(fctx), jetstream.FetchHeartbeat(pullHeartbeat))
		if err == nil {
			for msg := range batch.Messages() {
				retry.Reset()
				in := &notifyIncoming{l: l, m: msg}
				in.msg.Body = msg.Data()
				if h := msg.Headers(); h != nil {
					in.msg.ContentType = h.Get(hdrContentType)
				}
				select {
				case l.ch <- in:
				case <-l.ctx.Done():
					// Close hands it back once every pull has stopped: a
					// Nak now could send it to this pull, still open on
					// the server.
					l.mu.Lock()
					l.leftover = append(l.leftover, in)
					l.mu.Unlock()
				}
			}
			err = batch.Error()
		}
		cancel()
		switch {
		case err == nil, l.ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, jetstream.ErrNoHeartbeat):
			continue // pull again
		case l.c.nc.IsClosed():
			return
		}
		// The consumer may be gone, or JetStream not ready yet after a
		// restart: wait, then make sure the consumer exists.
		l.c.log.Debug("nats: pulling notifications", "topic", t.Topic, "pool", l.pool, "error", l.c.secrets.scrub(err))
		if !backoff.Sleep(l.ctx, retry.Next(), nil) {
			return
		}
		ctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
		nc, err := l.c.ensureConsumer(ctx, t.Exchange, t.Topic, l.pool)
		if err != nil && errors.Is(err, jetstream.ErrStreamNotFound) {
			nc, err = l.c.ensureConsumer(ctx, t.Exchange, t.Topic, l.pool)
		}
		cancel()
		if err != nil {
			if l.ctx.Err() == nil {
				l.c.warn.Warn(l.c.log, "consumer unavailable", "nats: notification consumer unavailable; retrying", "topic", t.Topic, "pool", l.pool, "error", err)
			}
			continue
		}
		cons = nc
	}
}

// sleep waits d or until the listener closes; it reports whether to go on.
func (l *notifyListener) Next(ctx context.Context) (driver.Incoming, error) {
	select {
	case <-l.ctx.Done():
		return nil, driver.ErrClosed
	default:
	}
	select {
	case in := <-l.ch:
		l.mu.Lock()
		if l.closed {
			if l.handedBack { // every pull has stopped: safe to reject now
				l.mu.Unlock()
				in.m.Nak()
			} else {
				l.leftover = append(l.leftover, in)
				l.mu.Unlock()
			}
			return nil, driver.ErrClosed
		}
		l.outstanding[in] = struct{}{}
		l.mu.Unlock()
		return in, nil
	case <-l.ctx.Done():
		return nil, driver.ErrClosed
	case <-l.c.dead:
		if l.c.closing.Load() {
			return nil, driver.ErrClosed
		}
		return nil, l.c.deadError()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops pulling, rejects the notifications pulled but not handled
// (and those returned by Next but neither acknowledged nor requeued) for
// redelivery, and waits a while for the pull loops to end. While
// disconnected it cannot reject anything: JetStream redelivers those
// messages after the ack wait.
func (l *notifyListener) Close() error {
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.cancel()
		pending := l.outstanding
		if pending == nil {
			pending = map[*notifyIncoming]struct{}{}
		}
		l.outstanding = nil
		l.mu.Unlock()
		// Stop pulling before handing messages back: a pull request still
		// open on the server would take a redelivered message to an inbox
		// nobody reads, delaying it by the ack wait. The pull loops
		// unsubscribe their inboxes when they end; the flush makes sure the
		// server saw it.
		if !waitGroup(&l.wg, closeWait) {
			// The pull loops end when the connection closes at the
			// latest; conn.Close waits for them.
			l.c.log.Warn("nats: notification listener did not stop in time")
		}
		l.mu.Lock()
		leftover := l.leftover // pulled, never taken by Next
		l.leftover, l.handedBack = nil, true
		l.mu.Unlock()
		for _, in := range leftover {
			pending[in] = struct{}{}
		}
		if len(pending) > 0 {
			_ = l.c.nc.FlushTimeout(closeWait)
		}
		for in := range pending {
			in.m.Nak()
		}
		l.c.removeListener(l)
	})
	return nil
}

// waitGroup waits for wg up to d; it reports whether wg is done.
func waitGroup(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// notifyIncoming is one notification.
type notifyIncoming struct {
	l   *notifyListener
	m   jetstream.Msg
	msg driver.Message
}

func (in *notifyIncoming) Message() *driver.Message { return &in.msg }

// Reply is a no-op: notifications have no caller.
func (in *notifyIncoming) Reply(context.Context, *driver.Message) error { return nil }

// settle removes in from the outstanding set; it reports whether it was
// there (not yet acknowledged or requeued, listener not closed).
func (in *notifyIncoming) settle() bool {
	l := in.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.outstanding[in]; !ok {
		return false
	}
	delete(l.outstanding, in)
	return true
}

// Ack acknowledges the notification: its pool will not get it again.
func (in *notifyIncoming) Ack() error {
	if !in.settle() {
		return nil
	}
	if err := in.m.Ack(); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		return in.l.c.natsError("acknowledging a notification", err)
	}
	return nil
}

// Requeue rejects the notification (Nak): JetStream redelivers it to a
// listener of the pool at once.
func (in *notifyIncoming) Requeue() error {
	if !in.settle() {
		return nil
	}
	if err := in.m.Nak(); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		return in.l.c.natsError("requeueing a notification", err)
	}
	return nil
}
