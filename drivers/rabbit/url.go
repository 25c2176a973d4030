package rabbit

import (
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"sync"

	"github.com/oslo-go/messaging/transport/driver"
)

// DefaultPort is the AMQP port used for hosts that name none.
const DefaultPort = 5672

// brokerHost is one broker of the URL with its credentials.
type brokerHost struct {
	hostname string
	port     int
	username string
	password string
}

// addr returns host:port, with IPv6 addresses in brackets.
func (h brokerHost) addr() string { return net.JoinHostPort(h.hostname, strconv.Itoa(h.port)) }

// String returns user@host:port, without the password, so that printing
// a brokerHost never shows it.
func (h brokerHost) String() string { return h.username + "@" + h.addr() }

// LogValue makes slog log the String form.
func (h brokerHost) LogValue() slog.Value { return slog.StringValue(h.String()) }

// hostsFromURL lists the brokers of u as oslo builds its kombu URL: port
// 5672 when none is given, and guest/guest for a host without
// credentials. A URL without hosts means guest:guest@localhost:5672.
func hostsFromURL(u *driver.URL) []brokerHost {
	if len(u.Hosts) == 0 {
		return []brokerHost{{hostname: "localhost", port: DefaultPort, username: "guest", password: "guest"}}
	}
	hosts := make([]brokerHost, 0, len(u.Hosts))
	for _, h := range u.Hosts {
		b := brokerHost{hostname: h.Hostname, port: h.Port, username: h.Username, password: h.Password}
		if b.hostname == "" {
			b.hostname = "localhost"
		}
		if b.port == 0 {
			b.port = DefaultPort
		}
		if b.username == "" && b.password == "" {
			b.username, b.password = "guest", "guest"
		}
		hosts = append(hosts, b)
	}
	return hosts
}

// vhostOf returns the AMQP virtual host of u: "" means "/".
func vhostOf(u *driver.URL) string {
	if u.VirtualHost == "" {
		return "/"
	}
	return u.VirtualHost
}

// amqpURI returns the amqp091 URI of h: amqp[s]://host:port/vhost, the
// virtual host percent-encoded ("/" is "%2F"). It has no credentials
// (the SASL mechanisms carry them), so that no error quoting it shows a
// password.
func amqpURI(h brokerHost, vhost string, tls bool, heartbeat int) string {
	scheme := "amqp"
	if tls {
		scheme = "amqps"
	}
	u := scheme + "://" + h.addr() + "/" + url.PathEscape(vhost)
	return u + "?heartbeat=" + strconv.Itoa(heartbeat)
}

// failover orders the brokers for connection attempts (oslo's
// kombu_failover_strategy). As in oslo, the list is shuffled once when the
// driver opens, so that the clients of a cluster spread over its nodes;
// "round-robin" then starts each pass at the broker that last worked and
// goes on in list order, "shuffle" tries the brokers in a new random
// order each pass.
type failover struct {
	hosts   []brokerHost
	shuffle bool
	intn    func(int) int

	mu      sync.Mutex
	current int
}

func newFailover(hosts []brokerHost, strategy string, intn func(int) int) *failover {
	if intn == nil {
		intn = rand.IntN
	}
	hs := append([]brokerHost(nil), hosts...)
	for i := len(hs) - 1; i > 0; i-- {
		j := intn(i + 1)
		hs[i], hs[j] = hs[j], hs[i]
	}
	return &failover{hosts: hs, shuffle: strategy == "shuffle", intn: intn}
}

// pass returns the indexes of the brokers to try, in order, for one pass.
func (f *failover) pass() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.hosts)
	order := make([]int, n)
	if f.shuffle {
		for i := range order {
			order[i] = i
		}
		for i := n - 1; i > 0; i-- {
			j := f.intn(i + 1)
			order[i], order[j] = order[j], order[i]
		}
		return order
	}
	for i := range order {
		order[i] = (f.current + i) % n
	}
	return order
}

// worked records that broker i accepted a connection.
func (f *failover) worked(i int) {
	f.mu.Lock()
	f.current = i
	f.mu.Unlock()
}

// failed records that broker i failed, so that the next pass of
// round-robin starts after it.
func (f *failover) failed(i int) {
	f.mu.Lock()
	if f.current == i {
		f.current = (i + 1) % len(f.hosts)
	}
	f.mu.Unlock()
}
