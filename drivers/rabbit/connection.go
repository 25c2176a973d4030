package rabbit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
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
type dialError struct{ err error }

func (e *dialError) Error() string { return "rabbit: connecting: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// dial opens an AMQP connection for purpose ("publish", "reply",
// "listen"), trying each broker once in failover order.
func (c *conn) dial(ctx context.Context, purpose string) (*amqp.Connection, error) {
	if c.closed.Load() {
		return nil, driver.ErrClosed
	}
	var errs []error
	for _, i := range c.hosts.pass() {
		h := c.hosts.hosts[i]
		ac, err := c.dialHost(ctx, h)
		if err == nil {
			c.hosts.worked(i)
			c.log.Debug("rabbit: connected", "host", h.addr(), "purpose", purpose, "connection_name", ac.Config.Properties["connection_name"])
			return ac, nil
		}
		c.hosts.failed(i)
		level := slog.LevelDebug // Open's error reports it
		if c.opened.Load() {
			level = slog.LevelWarn
		}
		c.log.Log(ctx, level, "rabbit: AMQP server is unreachable", "host", h.addr(), "purpose", purpose, "error", err)
		errs = append(errs, fmt.Errorf("%s: %w", h.addr(), err))
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return nil, &dialError{errors.Join(errs...)}
}

func (c *conn) dialHost(ctx context.Context, h brokerHost) (*amqp.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(connectTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
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
			return nc, nil
		},
	}
	return amqp.DialConfig(amqpURI(h, c.vhost, c.o.ssl, c.o.heartbeatTimeout), cfg)
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

// buildTLS builds the TLS configuration from the ssl_* options, as oslo
// does: without ssl_ca_file the broker certificate is not verified; with
// it the chain is verified, and the host name too when
// ssl_enforce_hostname_verification is set.
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
	if o.sslCAFile == "" {
		cfg.InsecureSkipVerify = true // oslo: no CA file, no verification
		return cfg, nil
	}
	pem, err := os.ReadFile(o.sslCAFile)
	if err != nil {
		return nil, fmt.Errorf("rabbit: reading ssl_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("rabbit: ssl_ca_file %s holds no PEM certificate", o.sslCAFile)
	}
	cfg.RootCAs = pool
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
