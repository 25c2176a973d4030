// Command python-interop is a Go client of a Python oslo.messaging
// service (server.py beside it, set up as nova's services are). It shows
// what a Go program must match to talk to one:
//
//   - the control exchange: the Python service calls
//     set_transport_defaults('nova'), so its servers listen on the exchange
//     "nova"; the Go transport must say so (transport.ControlExchange, or
//     control_exchange in the configuration file read with package config),
//     or its calls go to "openstack", where nobody listens, and time out;
//   - keyword arguments: a struct's json tags are the Python parameter
//     names;
//   - errors: the Python exception arrives as a *transport.RemoteError
//     (module, class, message, kwargs), or, for a class registered with
//     transport.AllowRemoteError, as the Go error type it is rebuilt into.
//
// Run the two in two shells:
//
//	/usr/bin/python3 examples/python-interop/server.py --url rabbit://guest:guest@127.0.0.1:5672/
//	go run ./examples/python-interop --transport-url rabbit://guest:guest@127.0.0.1:5672/
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/oslo-go/messaging/client"
	_ "github.com/oslo-go/messaging/drivers/rabbit"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// GetInstanceArgs are get_instance's keyword arguments: the json tags are
// the Python parameter names. omitempty leaves verbose out when false, so
// Python's default (verbose=False) applies.
type GetInstanceArgs struct {
	InstanceID string `json:"instance_id"`
	Verbose    bool   `json:"verbose,omitempty"`
}

// Instance is what get_instance returns (a Python dict); keys the struct
// lacks (vcpus) are ignored.
type Instance struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	State       string `json:"state"`
	RequestedBy string `json:"requested_by,omitempty"`
}

// ResizeArgs are resize's keyword arguments.
type ResizeArgs struct {
	InstanceID string `json:"instance_id"`
	Flavor     string `json:"flavor"`
}

// InstanceNotFound is the Go form of the Python service's
// compute_errors.InstanceNotFound.
type InstanceNotFound struct {
	InstanceID string
	Remote     *transport.RemoteError
}

func (e *InstanceNotFound) Error() string { return "instance " + e.InstanceID + " not found" }

// Unwrap gives the remote error (message, traceback) behind it.
func (e *InstanceNotFound) Unwrap() error { return e.Remote }

func main() {
	url := flag.String("transport-url", "rabbit://guest:guest@127.0.0.1:5672/", "the broker of the Python service")
	topic := flag.String("topic", "compute", "the service's topic")
	exchange := flag.String("control-exchange", "nova", "the service's control exchange (its set_transport_defaults)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *url, *exchange, *topic, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "python-interop:", err)
		os.Exit(1)
	}
}

// run makes the calls and prints what comes back.
func run(ctx context.Context, url, exchange, topic string, out io.Writer) error {
	tr, err := transport.Open(ctx, url,
		// The Python service called set_transport_defaults('nova').
		transport.ControlExchange(exchange),
		// oslo's allowed_remote_exmods: rebuild this class as a Go type.
		transport.AllowRemoteError("compute_errors", "InstanceNotFound", func(re *transport.RemoteError) error {
			id, _ := re.Kwargs["instance_id"].(string)
			return &InstanceNotFound{InstanceID: id, Remote: re}
		}))
	if err != nil {
		return err
	}
	defer tr.Close()
	c, err := client.New(tr, target.Target{Topic: topic, Namespace: "compute", Version: "5.1"}, client.Timeout(10*time.Second))
	if err != nil {
		return err
	}
	// The request context is the Python endpoint's ctxt.
	ctx = serializer.WithRequestContext(ctx, serializer.RequestContext{"user": "demo", "request_id": "req-go-1"})

	inst, err := client.Call[Instance](ctx, c, "get_instance", GetInstanceArgs{InstanceID: "i-1", Verbose: true})
	if err != nil {
		return fmt.Errorf("get_instance: %w", err)
	}
	fmt.Fprintf(out, "get_instance i-1: %+v\n", inst)

	// A Python exception of a registered class comes back as its Go type.
	_, err = client.Call[Instance](ctx, c, "get_instance", GetInstanceArgs{InstanceID: "i-404"})
	var nf *InstanceNotFound
	if !errors.As(err, &nf) {
		return fmt.Errorf("get_instance i-404: want InstanceNotFound, got %v", err)
	}
	fmt.Fprintf(out, "get_instance i-404: %v (Python: %s.%s: %s)\n", nf, nf.Remote.Module, nf.Remote.Class, nf.Remote.Message)

	// Python checks the keyword arguments: a missing or an unknown one is
	// a TypeError, which arrives as a *transport.RemoteError.
	for _, args := range []map[string]any{{}, {"instance_id": "i-1", "colour": "red"}} {
		err = c.Call(ctx, "get_instance", args, nil)
		var re *transport.RemoteError
		if !errors.As(err, &re) || re.Class != "TypeError" {
			return fmt.Errorf("get_instance %v: want a TypeError, got %v", args, err)
		}
		fmt.Fprintf(out, "get_instance %v: %s.%s: %s\n", args, re.Module, re.Class, re.Message)
	}

	// A cast returns once the broker has it.
	if err := c.Cast(ctx, "resize", ResizeArgs{InstanceID: "i-1", Flavor: "m1.large"}); err != nil {
		return fmt.Errorf("resize: %w", err)
	}
	fmt.Fprintln(out, "resize i-1: cast")

	// oslo's ping, in the null namespace at version 1.0.
	var pong string
	if err := c.Prepare(client.Namespace(""), client.Version("1.0")).Call(ctx, "oslo_rpc_server_ping", nil, &pong); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	fmt.Fprintf(out, "oslo_rpc_server_ping: %s\n", pong)
	return nil
}
