package nats

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
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/oslo-go/messaging/transport"
)

// selfSigned makes a self-signed certificate for the given DNS names and
// writes it to a PEM file; it returns the certificate and the file.
func selfSigned(t *testing.T, names ...string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, file
}

// TestTLSVerification runs a TLS nats-server with a self-signed
// certificate for "localhost": with tls=true the driver refuses it unless
// it is given the CA, checks the host name, and skips verification only
// with tls_insecure, which logs a warning.
func TestTLSVerification(t *testing.T) {
	cert, caFile := selfSigned(t, "localhost")
	port := startNATS(t, func(o *server.Options) {
		o.TLS = true
		o.TLSTimeout = 2
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	for _, tc := range []struct {
		name, url string
		opts      []transport.Option
		refused   string // "" when the connection must succeed
		warned    bool
	}{
		{name: "system roots", url: "nats://localhost:%d/?tls=true", refused: "certificate"},
		{name: "CA file", url: "nats://localhost:%d/?tls=true&tls_ca_file=" + caFile},
		{name: "CA file, wrong host name", url: "nats://127.0.0.1:%d/?tls=true&tls_ca_file=" + caFile, refused: "127.0.0.1"},
		{name: "CA file, server name", url: "nats://127.0.0.1:%d/?tls=true&tls_server_name=localhost&tls_ca_file=" + caFile},
		{name: "TLS required by the server", url: "nats://localhost:%d/", refused: "certificate"},
		{name: "tls_insecure", url: "nats://127.0.0.1:%d/?tls=true&tls_insecure=true", warned: true},
		{name: "TLSConfig insecure", url: "nats://127.0.0.1:%d/", warned: true,
			opts: []transport.Option{TLSConfig(&tls.Config{InsecureSkipVerify: true})}}, //nolint:gosec // the case tested
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := captureLogs(t)
			opts := append([]transport.Option{transport.WithLogger(logs.log), ReconnectWait(50 * time.Millisecond)}, tc.opts...)
			ctx := ctxFor(t, 10*time.Second)
			tr, err := transport.Open(ctx, fmt.Sprintf(tc.url, port), opts...)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer tr.Close()
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			err = tr.Ping(pctx)
			cancel()
			if tc.refused == "" && err != nil {
				t.Fatalf("Ping: %v", err)
			}
			if tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused) || !errors.Is(err, context.DeadlineExceeded)) {
				t.Fatalf("Ping: %v, want a refused certificate (%q) and a deadline", err, tc.refused)
			}
			if got := logs.count(slog.LevelWarn, "TLS without verifying"); got != 0 != tc.warned {
				t.Fatalf("%d warnings about skipped verification, want them: %v\n%s", got, tc.warned, logs)
			}
		})
	}
}
