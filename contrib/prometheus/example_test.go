package osloprom_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/oslo-go/messaging/client"
	osloprom "github.com/oslo-go/messaging/contrib/prometheus"
	"github.com/oslo-go/messaging/dispatcher"
	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// Manager is a trove-taskmanager-like endpoint.
type Manager struct{}

type InstanceArgs struct {
	ID string `json:"instance_id"`
}

func (*Manager) GetInstance(_ context.Context, a InstanceArgs) (string, error) {
	return "ACTIVE", nil
}

// The metrics of a service that serves a topic and calls it, scraped from
// /metrics. In a program, register on the default registry and serve it:
//
//	prometheus.MustRegister(m)
//	http.Handle("/metrics", promhttp.Handler())
//	go http.ListenAndServe(":9102", nil)
//
// examples/trove wires it the same way: one Metrics per process, its
// ClientMiddleware given to the client.New of every RPC API
// (taskmanager.NewAPI, conductor.NewAPI, guestagent.NewAPI), its
// ServerMiddleware to each server.New (or service.ServerOptions) through
// server.DispatchOptions, and each *server.Server to AddServer.
func Example() {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "fake:///osloprom-example")
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()

	m := osloprom.New(osloprom.ProcessName("trove-taskmanager"))
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)

	srv, err := server.New(tr, target.Target{Topic: "trove-taskmanager", Server: "host-1"}, []any{&Manager{}},
		server.DispatchOptions(dispatcher.WithMiddleware(m.ServerMiddleware())))
	if err != nil {
		log.Fatal(err)
	}
	m.AddServer(srv)
	if err := srv.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(ctx)

	c, err := client.New(tr, target.Target{Topic: "trove-taskmanager", Version: "1.0"},
		client.WithMiddleware(m.ClientMiddleware()))
	if err != nil {
		log.Fatal(err)
	}
	status, err := client.Call[string](ctx, c, "get_instance", InstanceArgs{ID: "i-1"})
	fmt.Println(status, err)

	ts := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "oslo_messaging_rpc_client_invocation_end_total") ||
			strings.HasPrefix(sc.Text(), "oslo_messaging_rpc_server_invocation_end_total") ||
			strings.HasPrefix(sc.Text(), "oslo_messaging_rpc_server_in_flight") {
			fmt.Println(sc.Text())
		}
	}
	// Output:
	// ACTIVE <nil>
	// oslo_messaging_rpc_client_invocation_end_total{call_type="call",exchange="openstack",fanout="None",method="get_instance",namespace="None",process="trove-taskmanager",server="None",timeout="None",topic="trove-taskmanager",version="1.0"} 1
	// oslo_messaging_rpc_server_in_flight{process="trove-taskmanager",server="host-1",topic="trove-taskmanager"} 0
	// oslo_messaging_rpc_server_invocation_end_total{endpoint="Manager",exchange="openstack",method="get_instance",namespace="None",process="trove-taskmanager",server="host-1",topic="trove-taskmanager",version="None"} 1
}
