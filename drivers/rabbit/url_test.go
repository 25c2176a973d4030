package rabbit

import (
	"reflect"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/transport"
)

func TestHostsAndURIs(t *testing.T) {
	tests := []struct {
		url   string
		hosts []brokerHost
		vhost string
		uris  []string
	}{
		{
			url:   "rabbit://",
			hosts: []brokerHost{{"localhost", 5672, "guest", "guest"}},
			vhost: "/",
			uris:  []string{"amqp://localhost:5672/%2F?heartbeat=60"},
		},
		{
			url:   "rabbit://u:p@h1:5673,h2/",
			hosts: []brokerHost{{"h1", 5673, "u", "p"}, {"h2", 5672, "guest", "guest"}},
			vhost: "/",
			uris:  []string{"amqp://h1:5673/%2F?heartbeat=60", "amqp://h2:5672/%2F?heartbeat=60"},
		},
		{
			url:   "kombu+amqp://us%40r:p%3Aw%2Fd@[::1]:5672/nova",
			hosts: []brokerHost{{"::1", 5672, "us@r", "p:w/d"}},
			vhost: "nova",
			uris:  []string{"amqp://[::1]:5672/nova?heartbeat=60"},
		},
		{
			url:   "amqp://a:b@h:1////",
			hosts: []brokerHost{{"h", 1, "a", "b"}},
			vhost: "///",
			uris:  []string{"amqp://h:1/%2F%2F%2F?heartbeat=60"},
		},
		{
			url:   "rabbit://user@h/v%20h",
			hosts: []brokerHost{{"h", 5672, "user", ""}},
			vhost: "v h",
			uris:  []string{"amqp://h:5672/v%20h?heartbeat=60"},
		},
	}
	for _, tt := range tests {
		u, err := transport.ParseURL(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		hosts := hostsFromURL(u)
		if !reflect.DeepEqual(hosts, tt.hosts) {
			t.Errorf("%s: hosts = %+v, want %+v", tt.url, hosts, tt.hosts)
			continue
		}
		if v := vhostOf(u); v != tt.vhost {
			t.Errorf("%s: vhost = %q, want %q", tt.url, v, tt.vhost)
		}
		for i, h := range hosts {
			uri := amqpURI(h, vhostOf(u), false, 60)
			if uri != tt.uris[i] {
				t.Errorf("%s: uri %d = %s, want %s", tt.url, i, uri, tt.uris[i])
			}
			// amqp091 reads back what we meant.
			p, err := amqp.ParseURI(uri)
			if err != nil {
				t.Fatalf("%s: ParseURI(%s): %v", tt.url, uri, err)
			}
			// No credentials: amqp091 may quote the URI in an error.
			if p.Host != h.hostname || p.Port != h.port || strings.Contains(uri, "@") || p.Vhost != tt.vhost {
				t.Errorf("%s: ParseURI(%s) = %+v", tt.url, uri, p)
			}
		}
	}
	if got := amqpURI(brokerHost{"h", 5671, "u", "p"}, "/", true, 0); got != "amqps://h:5671/%2F?heartbeat=0" {
		t.Errorf("TLS uri = %s", got)
	}
}

func TestFailoverOrder(t *testing.T) {
	hosts := []brokerHost{{hostname: "a"}, {hostname: "b"}, {hostname: "c"}}
	names := func(f *failover, order []int) string {
		s := ""
		for _, i := range order {
			s += f.hosts[i].hostname
		}
		return s
	}
	// A fake random source that never swaps keeps the URL order, which
	// makes round-robin easy to follow.
	keep := func(n int) int { return n - 1 }
	f := newFailover(hosts, "round-robin", keep)
	if got := names(f, f.pass()); got != "abc" {
		t.Fatalf("first pass = %s", got)
	}
	f.failed(0) // a is down: the next pass starts at b
	if got := names(f, f.pass()); got != "bca" {
		t.Fatalf("after a failed = %s", got)
	}
	f.worked(1)
	f.failed(2) // a failure of another host does not move the cursor
	if got := names(f, f.pass()); got != "bca" {
		t.Fatalf("after b worked = %s", got)
	}
	f.failed(1)
	if got := names(f, f.pass()); got != "cab" {
		t.Fatalf("after b failed = %s", got)
	}

	// The initial shuffle (oslo's random.shuffle of the host list).
	first := func(int) int { return 0 }
	if f := newFailover(hosts, "round-robin", first); names(f, f.pass()) != "bca" {
		t.Fatalf("shuffled order = %s", names(f, f.pass()))
	}

	// shuffle: every pass is a permutation of all hosts.
	s := newFailover(hosts, "shuffle", nil)
	seen := map[string]bool{}
	for range 200 {
		p := names(s, s.pass())
		if len(p) != 3 || p[0] == p[1] || p[1] == p[2] || p[0] == p[2] {
			t.Fatalf("shuffle pass %q is not a permutation", p)
		}
		seen[p] = true
	}
	if len(seen) < 3 {
		t.Fatalf("shuffle produced only %v", seen)
	}
}

func TestReconnectWait(t *testing.T) {
	o := defaultOptions()
	c := &conn{o: o}
	got := []int{}
	for n := range 20 {
		got = append(got, int(c.reconnectWait(n).Seconds()))
	}
	// kombu_reconnect_delay (1) + 0, then + 1, 3, 5, ... capped at 30.
	want := []int{1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 31, 31, 31, 31}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("waits = %v, want %v", got, want)
	}
}
