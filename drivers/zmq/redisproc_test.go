package zmq

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// privateRedis is a redis-server of the test's own, on a port of its own
// (never the shared Redis on 6379), for fault, TLS and password tests.
type privateRedis struct {
	Port int
	args []string
	dir  string
	cmd  *exec.Cmd
}

// freePort returns a TCP port nothing listens on (now).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newPrivateRedis prepares a redis-server on a free port with the extra
// arguments (for example "--requirepass", "pw"); Start starts it. Without
// the redis-server binary it skips t loudly, or fails it when CI is set.
// It is stopped when t ends.
func newPrivateRedis(t *testing.T, tls bool, args ...string) *privateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server is required (CI is set): %v", err)
		}
		fmt.Fprintf(os.Stderr, "\n*** SKIPPING %s: no redis-server binary (%v); install redis-server ***\n\n", t.Name(), err)
		t.Skipf("SKIPPED: no redis-server: %v", err)
	}
	r := &privateRedis{Port: freePort(t), dir: t.TempDir()}
	port := "--port"
	if tls {
		r.args = append(r.args, "--port", "0")
		port = "--tls-port"
	}
	r.args = append(r.args, port, strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log"))
	r.args = append(r.args, args...)
	t.Cleanup(r.Stop)
	return r
}

// Addr returns the server's host:port.
func (r *privateRedis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port)) }

// Start starts the server (again, after Stop) and waits until it listens.
func (r *privateRedis) Start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command("redis-server", r.args...)
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", r.Addr(), time.Second)
		if err == nil {
			nc.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			t.Fatalf("redis-server on %d did not start: %v\n%s", r.Port, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (by its pid) and waits for it; its data is lost.
func (r *privateRedis) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

// testPKI is a CA, a certificate it signed for the host name "localhost"
// only (no IP address), a client certificate, and an unrelated CA, as PEM
// files.
type testPKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey, OtherCA string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	serial := int64(1)
	issue := func(tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key, der, kder
	}
	caTmpl := func(name string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	}
	ca, caKey, caDER, _ := issue(caTmpl("oslo-go test CA"), nil, nil)
	_, _, otherDER, _ := issue(caTmpl("unrelated CA"), nil, nil)
	_, _, srvDER, srvKey := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, caKey)
	_, _, cliDER, cliKey := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "zmq-test-client"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, caKey)
	return testPKI{
		CA:         write("ca.pem", "CERTIFICATE", caDER),
		OtherCA:    write("other-ca.pem", "CERTIFICATE", otherDER),
		ServerCert: write("server.pem", "CERTIFICATE", srvDER),
		ServerKey:  write("server-key.pem", "EC PRIVATE KEY", srvKey),
		ClientCert: write("client.pem", "CERTIFICATE", cliDER),
		ClientKey:  write("client-key.pem", "EC PRIVATE KEY", cliKey),
	}
}
