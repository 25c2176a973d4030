package rabbit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// tlsFront is a TLS listener with a certificate of its own (for
// "localhost" only) that forwards what it decrypts to the shared broker:
// a broker with a self-signed certificate, or a man in the middle. It
// counts the bytes clients sent it after the handshake (a client that
// does, sent its credentials).
type tlsFront struct {
	ln       net.Listener
	caFile   string
	received atomic.Int64
	active   atomic.Int32 // forwarding connections whose bytes are not counted yet
	wg       sync.WaitGroup
}

// settle waits until the connections of earlier cases are over and
// their bytes counted.
func (f *tlsFront) settle(t *testing.T) {
	t.Helper()
	for i := 0; f.active.Load() != 0; i++ {
		if i == 500 {
			t.Fatalf("%d connections to the TLS front still open", f.active.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newTLSFront(t *testing.T) *tlsFront {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "oslo-go test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	f := &tlsFront{caFile: filepath.Join(t.TempDir(), "ca.pem")}
	if err := os.WriteFile(f.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
	f.ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	f.wg.Add(1)
	go f.serve()
	t.Cleanup(func() { f.ln.Close(); f.wg.Wait() })
	return f
}

func (f *tlsFront) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

func (f *tlsFront) serve() {
	defer f.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer c.Close()
			if err := c.(*tls.Conn).Handshake(); err != nil {
				return
			}
			f.active.Add(1)
			defer f.active.Add(-1)
			up, err := net.Dial("tcp", "127.0.0.1:5672")
			if err != nil {
				return
			}
			defer up.Close()
			go func() { io.Copy(c, up); c.Close() }()
			n, _ := io.Copy(up, c)
			f.received.Add(n)
		}()
	}
}

// TestTLSVerification connects with ssl=true to a TLS endpoint whose
// certificate no system CA signed: without its CA the connection is
// refused before any credential is sent; with it (ssl_ca_file) it works,
// and the host name is checked unless told not to; only
// ssl_insecure_skip_verify accepts any certificate, with a warning.
func TestTLSVerification(t *testing.T) {
	needBroker(t)
	f := newTLSFront(t)
	topic := uniqueName("tls")
	startEcho(t, openTransport(t), topic)
	tests := []struct {
		name   string
		host   string
		query  string
		ok     bool
		errHas string
		warns  bool
	}{
		{name: "no CA: system CAs", host: "localhost", query: "ssl=true", errHas: "certificate signed by unknown authority"},
		{name: "no CA, no host name check", host: "localhost", query: "ssl=true&ssl_enforce_hostname_verification=false", errHas: "certificate signed by unknown authority"},
		{name: "CA", host: "localhost", query: "ssl=true&ssl_ca_file=" + f.caFile, ok: true},
		{name: "CA, wrong host name", host: "127.0.0.1", query: "ssl=true&ssl_ca_file=" + f.caFile, errHas: "doesn't contain any IP SANs"},
		{name: "CA, host name not checked", host: "127.0.0.1", query: "ssl=true&ssl_enforce_hostname_verification=false&ssl_ca_file=" + f.caFile, ok: true},
		{name: "insecure", host: "127.0.0.1", query: "ssl=true&ssl_insecure_skip_verify=true", ok: true, warns: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.settle(t)
			before := f.received.Load()
			log, logs := recordLogs(t)
			url := fmt.Sprintf("rabbit://guest:S3cr3tTLS@%s:%d/?%s", tt.host, f.port(), tt.query)
			if tt.ok {
				url = strings.Replace(url, "S3cr3tTLS", "guest", 1)
			}
			tr := openTransportURL(t, url, transport.WithLogger(log))
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second) // the failing cases wait it out: room for a slow first handshake
			defer cancel()
			err := tr.Ping(ctx)
			warned := len(logs.matching("level=WARN", "without certificate verification")) > 0
			if warned != tt.warns {
				t.Errorf("warning about no verification logged: %v, want %v", warned, tt.warns)
			}
			if !tt.ok {
				var unknown x509.UnknownAuthorityError
				var name x509.HostnameError
				if err == nil || !errors.As(err, &unknown) && !errors.As(err, &name) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("Ping: %v, want a certificate verification error (%s)", err, tt.errHas)
				}
				if n := f.received.Load() - before; n != 0 {
					t.Fatalf("the client sent %d bytes to an endpoint it did not trust", n)
				}
				if strings.Contains(logs.all(), "S3cr3tTLS") || strings.Contains(err.Error(), "S3cr3tTLS") {
					t.Fatal("the password appears in a log line or the error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Ping: %v", err)
			}
			c, _ := client.New(tr, target.Target{Topic: topic}, client.Timeout(10*time.Second))
			if got, err := client.Call[string](ctx, c, "echo", faultArgs{Text: "over TLS"}); err != nil || got != "over TLS" {
				t.Fatalf("call over TLS: %q, %v", got, err)
			}
		})
	}
}
