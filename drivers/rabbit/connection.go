package rabbit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/internal/backoff"
	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/transport/driver"
)

// connectTimeout bounds the TCP connect and the AMQP handshake of one
// connection attempt.
const connectTimeout = 30 * time.Second

// dialError reports that no broker accepted a connection.
type dialError struct {
	err error
	// notListening is set when no broker accepted the TCP connection
	// (each refused it, or did not answer).
	notListening bool
}

func (e *dialError) Error() string { return "rabbit: connecting: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// dial opens an AMQP connection for purpose ("publish", "reply",
// "listen"), trying each broker once in failover order.
func (c *conn) dial(ctx context.Context, purpose string) (*amqp.Connection, error) {
	if c.closed.Load() {
		return nil, driver.ErrClosed
	}
	var errs []error
	tcp := true
	for _, i := range c.hosts.pass() {
		h := c.hosts.hosts[i]
		ac, err := c.dialHost(ctx, h)
		if err == nil {
			c.hosts.worked(i)
			c.log.Debug("rabbit: connected", "host", h.addr(), "purpose", purpose, "connection_name", ac.Config.Properties["connection_name"])
			return ac, nil
		}
		c.hosts.failed(i)
		if ctx.Err() == nil {
			c.warnings.Warn(c.log, "unreachable "+h.addr(), "rabbit: AMQP server is unreachable", "host", h.addr(), "purpose", purpose, "error", err)
		}
		var oe *net.OpError
		tcp = tcp && errors.As(err, &oe) && oe.Op == "dial"
		errs = append(errs, fmt.Errorf("%s: %w", h.addr(), err))
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return nil, &dialError{err: errors.Join(errs...), notListening: tcp && ctx.Err() == nil}
}

func (c *conn) dialHost(ctx context.Context, h brokerHost) (*amqp.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(connectTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var raw atomic.Pointer[watchedConn]
	cfg := amqp.Config{
		SASL:            c.auth(h),
		Vhost:           c.vhost,
		Heartbeat:       time.Duration(c.o.heartbeatTimeout) * time.Second,
		Locale:          "en_US",
		TLSClientConfig: c.tlsFor(h),
		Properties: amqp.Table{
			"product":         "oslo-go/messaging",
			"platform":        "Go",
			"connection_name": c.connectionName(),
			"capabilities": amqp.Table{
				"authentication_failure_close": true,
				"connection.blocked":           true,
				"consumer_cancel_notify":       true,
			},
		},
		Dial: func(network, addr string) (net.Conn, error) {
			dctx, cancel := context.WithDeadline(ctx, deadline)
			defer cancel()
			var d net.Dialer
			nc, err := d.DialContext(dctx, network, addr)
			if err != nil {
				return nil, err
			}
			// The handshake must not hang on a dead broker; amqp091
			// clears the deadline once the connection is open.
			if err := nc.SetDeadline(deadline); err != nil {
				nc.Close()
				return nil, err
			}
			w := &watchedConn{Conn: nc, c: c, host: h.addr()}
			raw.Store(w)
			return w, nil
		},
	}
	// Close (which cancels ctx) interrupts a handshake in progress.
	stop := context.AfterFunc(ctx, func() {
		if w := raw.Load(); w != nil {
			w.Conn.Close()
		}
	})
	// The URI carries no credentials (cfg.SASL has them): amqp091 may
	// quote the URI in its errors.
	ac, err := amqp.DialConfig(amqpURI(h, c.vhost, c.o.ssl, c.o.heartbeatTimeout), cfg)
	if !stop() && err == nil {
		closeAMQP(ac)
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	raw.Load().opened.Store(true)
	return ac, nil
}

// watchedConn is the TCP connection under an AMQP connection. It detects
// a dead peer sooner than amqp091 does: amqp091 sets a read deadline of
// three of its heartbeat intervals (half the negotiated heartbeat
// timeout) after each frame it reads, and watchedConn shortens it to two,
// the heartbeat timeout itself, as RabbitMQ does for its clients. So a
// broker behind a network black hole (no data, no reset) is given up
// heartbeat_timeout_threshold after its last frame, and the loss is
// logged.
type watchedConn struct {
	net.Conn
	c      *conn
	host   string
	opened atomic.Bool  // the AMQP handshake is done
	limit  atomic.Int64 // the current silence limit, ns
	last   atomic.Int64 // when data last arrived, unix ns
	warned atomic.Bool
}

func (w *watchedConn) SetReadDeadline(t time.Time) error {
	if !t.IsZero() {
		if d := time.Until(t); d > 0 {
			d = d * 2 / 3
			w.limit.Store(int64(d))
			t = time.Now().Add(d)
		}
	}
	return w.Conn.SetReadDeadline(t)
}

func (w *watchedConn) Read(b []byte) (int, error) {
	n, err := w.Conn.Read(b)
	if n > 0 {
		w.last.Store(time.Now().UnixNano())
	}
	if err != nil && w.opened.Load() {
		w.failed(err)
	}
	return n, err
}

// failed logs a read that timed out: the broker went silent.
func (w *watchedConn) failed(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !w.warned.Swap(true) {
		silent := time.Since(time.Unix(0, w.last.Load())).Round(time.Millisecond)
		w.c.warnings.Warn(w.c.log, "silent "+w.host, "rabbit: no heartbeat or data from the broker; the connection is presumed dead and closed",
			"host", w.host, "silent_for", silent, "limit", time.Duration(w.limit.Load()))
	}
}

// auth returns the SASL mechanism of rabbit_login_method.
func (c *conn) auth(h brokerHost) []amqp.Authentication {
	switch c.o.loginMethod {
	case "PLAIN":
		return []amqp.Authentication{&amqp.PlainAuth{Username: h.username, Password: h.password}}
	case "EXTERNAL":
		return []amqp.Authentication{&amqp.ExternalAuth{}}
	}
	return []amqp.Authentication{&amqp.AMQPlainAuth{Username: h.username, Password: h.password}}
}

// connectionName is oslo's "<basename(argv[0])>:<pid>:<uuid4>".
func (c *conn) connectionName() string {
	prefix := c.o.connectionName
	if prefix == "" && len(os.Args) > 0 {
		prefix = filepath.Base(os.Args[0])
	}
	return prefix + ":" + strconv.Itoa(os.Getpid()) + ":" + ids.UUID()
}

// buildTLS builds the TLS configuration from the ssl_* options. As
// py-amqp does, the broker's certificate chain is always verified:
// against ssl_ca_file, or the system's CAs without it. The host name is
// verified too unless ssl_enforce_hostname_verification is off (oslo 14
// never verifies it without ssl_ca_file; this driver does unless told
// not to). ssl_insecure_skip_verify turns verification off altogether.
func buildTLS(o *options) (*tls.Config, error) {
	if !o.ssl {
		return nil, nil
	}
	if o.tlsConfig != nil {
		return o.tlsConfig.Clone(), nil
	}
	lo, hi, err := tlsVersions(o.sslVersion)
	if err != nil {
		return nil, fmt.Errorf("rabbit: %w", err)
	}
	cfg := &tls.Config{MinVersion: lo, MaxVersion: hi}
	if o.sslCertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.sslCertFile, o.sslKeyFile)
		if err != nil {
			return nil, fmt.Errorf("rabbit: loading ssl_cert_file/ssl_key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if o.sslInsecure {
		cfg.InsecureSkipVerify = true
		return cfg, nil
	}
	var pool *x509.CertPool // nil: the system's CAs
	if o.sslCAFile != "" {
		pem, err := os.ReadFile(o.sslCAFile)
		if err != nil {
			return nil, fmt.Errorf("rabbit: reading ssl_ca_file: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("rabbit: ssl_ca_file %s holds no PEM certificate", o.sslCAFile)
		}
		cfg.RootCAs = pool
	}
	if !o.sslVerifyHostname {
		// Verify the chain but not the name.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("rabbit: broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}

// tlsFor returns a copy of the TLS configuration for host h.
func (c *conn) tlsFor(h brokerHost) *tls.Config {
	if c.tls == nil {
		return nil
	}
	cfg := c.tls.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = h.hostname
	}
	return cfg
}

// reconnectWait is the pause before reconnect attempt n (0 is the first
// after a loss): kombu_reconnect_delay, plus from the second attempt on
// rabbit_retry_interval growing by rabbit_retry_backoff up to
// rabbit_interval_max, plus up to kombu_reconnect_splay at random.
func (c *conn) reconnectWait(n int) time.Duration {
	d := c.o.reconnectDelay + backoff.Jitter(c.o.reconnectSplay)
	if n > 0 {
		d += backoff.Linear(c.o.retryInterval, c.o.retryBackoff, c.o.intervalMax).At(n - 1)
	}
	return d
}

// probeInterval is how often a connection attempt's pause checks whether
// a broker that refused connections accepts them again.
const probeInterval = 250 * time.Millisecond

// pause waits d before the next connection attempt, or until ctx ends or
// the conn closes. When the last attempt found no broker listening (every
// TCP connect refused or timed out), it ends early once one of the
// brokers accepts a TCP connection again, so that a long backoff does not
// delay the reconnection after the broker is back.
func (c *conn) pause(ctx context.Context, d time.Duration, last error) error {
	if !notListening(last) || d <= probeInterval {
		return c.sleep(ctx, d)
	}
	end := time.Now().Add(d)
	for {
		step := min(probeInterval, time.Until(end))
		if step <= 0 {
			return nil
		}
		if err := c.sleep(ctx, step); err != nil {
			return err
		}
		if c.listening(ctx) {
			return nil
		}
	}
}

// notListening reports a connection attempt that no broker answered
// at the TCP level.
func notListening(err error) bool {
	var de *dialError
	return errors.As(err, &de) && de.notListening
}

// listening reports whether one of the brokers accepts TCP connections.
func (c *conn) listening(ctx context.Context) bool {
	for _, h := range c.hosts.hosts {
		pctx, cancel := context.WithTimeout(ctx, probeInterval)
		var d net.Dialer
		nc, err := d.DialContext(pctx, "tcp", h.addr())
		cancel()
		if err == nil {
			nc.Close()
			return true
		}
	}
	return false
}

// sleep waits d, or until ctx ends or the conn closes.
func (c *conn) sleep(ctx context.Context, d time.Duration) error {
	if backoff.Sleep(ctx, d, c.done) {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return driver.ErrClosed
}

// closeAMQP closes an AMQP connection without waiting long for a broker
// that does not answer.
func closeAMQP(ac *amqp.Connection) {
	if ac != nil && !ac.IsClosed() {
		ac.CloseDeadline(time.Now().Add(2 * time.Second))
	}
}
