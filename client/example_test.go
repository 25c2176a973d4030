package client_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/dispatcher"
	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// GuestManager is an endpoint: its exported methods taking a ctx are
// callable under their snake_case names.
type GuestManager struct {
	host string
	mu   sync.Mutex
	seen []string
	done chan struct{}
}

// Target gives the endpoint's namespace and version.
func (m *GuestManager) Target() target.Target { return target.Target{Version: "1.5"} }

type FSArgs struct {
	FSPath string `json:"fs_path"`
}

type FSStats struct {
	FSPath string  `json:"fs_path"`
	Total  float64 `json:"total"`
	Used   float64 `json:"used"`
}

// GetFilesystemStats is called as get_filesystem_stats.
func (m *GuestManager) GetFilesystemStats(ctx context.Context, a FSArgs) (FSStats, error) {
	if a.FSPath == "" {
		return FSStats{}, errors.New("fs_path is required")
	}
	return FSStats{FSPath: a.FSPath, Total: 10.5, Used: 2.25}, nil
}

type HeartbeatArgs struct {
	InstanceID string `json:"instance_id"`
}

// Heartbeat is cast to; it records who sent what.
func (m *GuestManager) Heartbeat(ctx context.Context, a HeartbeatArgs) error {
	rc := serializer.RequestContextFrom(ctx)
	m.mu.Lock()
	m.seen = append(m.seen, m.host+" got "+a.InstanceID+" from "+rc.String("request_id"))
	m.mu.Unlock()
	m.done <- struct{}{}
	return nil
}

// startGuest starts a server for host on topic guestagent.
func startGuest(ctx context.Context, tr *transport.Transport, host string) (*GuestManager, *server.Server) {
	m := &GuestManager{host: host, done: make(chan struct{}, 16)}
	srv, err := server.New(tr, target.Target{Topic: "guestagent", Server: host}, []any{m})
	if err != nil {
		panic(err)
	}
	if err := srv.Start(ctx); err != nil {
		panic(err)
	}
	return m, srv
}

func Example_call() {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "fake:///example-call")
	if err != nil {
		panic(err)
	}
	defer tr.Close()
	_, srv := startGuest(ctx, tr, "host-1")
	defer srv.Shutdown(ctx)

	c, err := client.New(tr, target.Target{Topic: "guestagent"},
		client.VersionCap("1.5"), client.Timeout(5*time.Second))
	if err != nil {
		panic(err)
	}
	stats, err := client.Call[FSStats](ctx, c.Prepare(client.Version("1.2")),
		"get_filesystem_stats", FSArgs{FSPath: "/var/lib/mysql"})
	fmt.Println(stats, err)
	fmt.Println(c.CanSendVersion("1.5"), c.CanSendVersion("1.6"))
	// Output:
	// {/var/lib/mysql 10.5 2.25} <nil>
	// true false
}

func Example_cast() {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "fake:///example-cast")
	if err != nil {
		panic(err)
	}
	defer tr.Close()
	m, srv := startGuest(ctx, tr, "host-1")
	defer srv.Shutdown(ctx)

	c, err := client.New(tr, target.Target{Topic: "guestagent"})
	if err != nil {
		panic(err)
	}
	// The request context travels with the message.
	rctx := serializer.WithRequestContext(ctx, serializer.RequestContext{"request_id": "req-1"})
	if err := c.Cast(rctx, "heartbeat", HeartbeatArgs{InstanceID: "i-1"}); err != nil {
		panic(err)
	}
	<-m.done
	fmt.Println(m.seen)
	// Output:
	// [host-1 got i-1 from req-1]
}

func Example_fanout() {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "fake:///example-fanout")
	if err != nil {
		panic(err)
	}
	defer tr.Close()
	m1, srv1 := startGuest(ctx, tr, "host-1")
	defer srv1.Shutdown(ctx)
	m2, srv2 := startGuest(ctx, tr, "host-2")
	defer srv2.Shutdown(ctx)

	c, err := client.New(tr, target.Target{Topic: "guestagent"})
	if err != nil {
		panic(err)
	}
	if err := c.Prepare(client.Fanout(true)).Cast(ctx, "heartbeat", HeartbeatArgs{InstanceID: "all"}); err != nil {
		panic(err)
	}
	<-m1.done
	<-m2.done
	got := append(m1.seen, m2.seen...)
	sort.Strings(got)
	fmt.Println(got)
	// A call cannot go to every server.
	err = c.Prepare(client.Fanout(true)).Call(ctx, "get_filesystem_stats", nil, nil)
	fmt.Println(errors.Is(err, target.ErrInvalidTarget))
	// Output:
	// [host-1 got all from  host-2 got all from ]
	// true
}

func Example_remoteError() {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "fake:///example-remote-error")
	if err != nil {
		panic(err)
	}
	defer tr.Close()
	_, srv := startGuest(ctx, tr, "host-1")
	defer srv.Shutdown(ctx)
	c, err := client.New(tr, target.Target{Topic: "guestagent"})
	if err != nil {
		panic(err)
	}

	// The handler's error comes back as a *transport.RemoteError.
	err = c.Call(ctx, "get_filesystem_stats", FSArgs{}, nil)
	var re *transport.RemoteError
	if errors.As(err, &re) {
		fmt.Println(re.Module, re.Class, re.Message)
	}
	// Dispatcher errors match their sentinels on the calling side.
	err = c.Call(ctx, "reboot", nil, nil)
	fmt.Println(errors.Is(err, dispatcher.ErrNoSuchMethod))
	fmt.Println(err)
	err = c.Prepare(client.Version("2.0")).Call(ctx, "get_filesystem_stats", nil, nil)
	fmt.Println(errors.Is(err, dispatcher.ErrUnsupportedVersion))
	// Output:
	// builtins Exception fs_path is required
	// true
	// transport: remote error: NoSuchMethod: Endpoint does not support RPC method reboot
	// true
}
