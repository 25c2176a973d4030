package amqp1

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

func TestAddresses(t *testing.T) {
	tg := target.Target{Exchange: "openstack", Topic: "compute", Server: "host1"}
	fan := target.Target{Exchange: "openstack", Topic: "compute", Fanout: true}
	topic := target.Target{Exchange: "nova", Topic: "compute"}
	tests := []struct {
		name, query, product, vhost string
		want                        []string // server, fanout, topic, notification of topic.info
	}{
		{"dynamic qpidd", "", "qpid-cpp", "",
			[]string{"exclusive.openstack.compute.host1", "broadcast.openstack.compute.all", "unicast.nova.compute", "unicast.nova.compute.info"}},
		{"dynamic no product", "", "", "",
			[]string{"exclusive.openstack.compute.host1", "broadcast.openstack.compute.all", "unicast.nova.compute", "unicast.nova.compute.info"}},
		{"dynamic router", "", "qpid-dispatch-router", "",
			[]string{"openstack.org/om/rpc/unicast/openstack/compute/host1", "openstack.org/om/rpc/multicast/openstack/compute",
				"openstack.org/om/rpc/anycast/nova/compute", "openstack.org/om/notify/anycast/nova/compute.info"}},
		{"legacy forced, vhost", "addressing_mode=legacy", "qpid-dispatch-router", "vh",
			[]string{"exclusive.vh.openstack.compute.host1", "broadcast.vh.openstack.compute.all", "unicast.vh.nova.compute", "unicast.vh.nova.compute.info"}},
		{"routable forced, vhost", "addressing_mode=routable", "qpid-cpp", "vh",
			[]string{"openstack.org/om/rpc/unicast/vh/openstack/compute/host1", "openstack.org/om/rpc/multicast/vh/openstack/compute",
				"openstack.org/om/rpc/anycast/vh/nova/compute", "openstack.org/om/notify/anycast/vh/nova/compute.info"}},
		{"legacy prefixes", "server_request_prefix=srv&broadcast_prefix=all&group_request_prefix=grp", "", "",
			[]string{"srv.openstack.compute.host1", "all.openstack.compute.all", "grp.nova.compute", "grp.nova.compute.info"}},
		{"routable options", "addressing_mode=routable&rpc_address_prefix=r&notify_address_prefix=n&multicast_address=m&unicast_address=u&anycast_address=a&default_rpc_exchange=rx&default_notification_exchange=nx", "", "",
			[]string{"r/u/rx/compute/host1", "r/m/rx/compute", "r/a/rx/compute", "n/a/nx/compute.info"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := map[string]string{}
			for _, kv := range strings.Split(tt.query, "&") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					q[k] = v
				}
			}
			o, err := parseOptions(q, nil)
			if err != nil {
				t.Fatal(err)
			}
			a := newAddresser(o, tt.product, tt.vhost)
			n := topic
			n.Topic += ".info"
			got := []string{resolve(a, tg, serviceRPC), resolve(a, fan, serviceRPC), resolve(a, topic, serviceRPC), a.anycast(n, serviceNotify)}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("address %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestOptions(t *testing.T) {
	o, err := parseOptions(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.addressingMode != "dynamic" || !o.pseudoVhost || o.rpcCredit != 100 || o.replyCredit != 200 || o.linkRetryDelay.Seconds() != 10 ||
		!o.preSettled["rpc-cast"] || !o.preSettled["rpc-reply"] || o.preSettled["rpc-call"] || o.preSettled["notify"] {
		t.Fatalf("defaults: %+v", o)
	}
	o, err = parseOptions(map[string]string{"pre_settled": "rpc-call,notify,bogus", "connection_retry_backoff": "3"}, nil)
	if err != nil || !o.preSettled["rpc-call"] || !o.preSettled["notify"] || o.preSettled["rpc-cast"] || len(o.ignoredPreSettled) != 1 || o.retryBackoff != 3 {
		t.Fatalf("pre_settled: %+v, %v", o, err)
	}
	for _, q := range []map[string]string{
		{"nope": "1"},
		{"addressing_mode": "weird"},
		{"link_retry_delay": "0"},
		{"default_reply_timeout": "1"},
		{"rpc_server_credit": "x"},
		{"pseudo_vhost": "maybe"},
		{"sasl_mechanisms": "GSSAPI"},
		{"ssl_key_password": "secret"},
		{"ssl_key_file": "k.pem"},
	} {
		_, err := parseOptions(q, nil)
		if err == nil {
			t.Errorf("%v accepted", q)
			continue
		}
		if !strings.HasPrefix(err.Error(), "amqp1: ") || strings.Contains(err.Error(), "secret") {
			t.Errorf("%v: %v", q, err)
		}
	}
	// Go options, overridden by the query.
	opts := []any{param("addressing_mode", "legacy"), param("link_retry_delay", seconds(1500*time.Millisecond)),
		connectionRetry(time.Second, 3, 5*time.Second), tlsConfig(&tls.Config{})}
	o, err = parseOptions(map[string]string{"addressing_mode": "routable"}, opts)
	if err != nil || o.addressingMode != "routable" || o.linkRetryDelay != 2*time.Second || o.retryBackoff != 3 ||
		o.retryIntervalMax != 5*time.Second || !o.ssl {
		t.Fatalf("Go options: %+v, %v", o, err)
	}
	if _, err := parseOptions(nil, []any{"not an option"}); err == nil {
		t.Error("an option of a foreign type was accepted")
	}
}

func TestHostsAndSASL(t *testing.T) {
	u := &driver.URL{Hosts: []driver.Host{{Hostname: "h1", Username: "u", Password: "p"}, {Hostname: "h2", Port: 5673}, {Username: "x@r"}}}
	hs := hostsFromURL(u, "realm")
	if hs[0].addr() != "h1:5672" || hs[0].username != "u@realm" || hs[1].addr() != "h2:5673" || hs[1].username != "" || hs[2].hostname != "localhost" || hs[2].username != "x@r" {
		t.Fatalf("hosts: %+v", hs)
	}
	if hs := hostsFromURL(&driver.URL{}, ""); len(hs) != 1 || hs[0].addr() != "localhost:5672" {
		t.Fatalf("no hosts: %+v", hs)
	}
	for _, tt := range []struct {
		mechs []string
		h     host
		ok    bool
	}{
		{nil, hs[0], true},
		{nil, host{hostname: "h", username: "u"}, true},
		{[]string{"EXTERNAL"}, host{hostname: "h"}, true},
		{[]string{"PLAIN"}, host{hostname: "h"}, false},
		{[]string{"ANONYMOUS"}, host{hostname: "h", username: "u"}, true},
	} {
		if _, err := saslFor(tt.mechs, tt.h); (err == nil) != tt.ok {
			t.Errorf("saslFor(%v, %+v): %v", tt.mechs, tt.h, err)
		}
	}
}
