package dispatcher_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
)

// GuestManager is an endpoint: its eligible methods are callable by wire
// name, and its Target method gives the version it implements.
type GuestManager struct{}

// Target says which requests the endpoint accepts: null namespace, API 1.5.
func (m *GuestManager) Target() target.Target { return target.Target{Version: "1.5"} }

type FSArgs struct {
	FSPath string `json:"fs_path" rpc:"required"`
}

type FSStats struct {
	Path      string `json:"path"`
	FreeBytes int64  `json:"free_bytes"`
}

// GetFilesystemStats is called as get_filesystem_stats.
func (m *GuestManager) GetFilesystemStats(ctx context.Context, a FSArgs) (FSStats, error) {
	return FSStats{Path: a.FSPath, FreeBytes: 1 << 30}, nil
}

func Example() {
	d, err := dispatcher.New([]any{&GuestManager{}}, dispatcher.Ping(true))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	res, err := d.Dispatch(ctx, &dispatcher.Request{
		Method:  "get_filesystem_stats",
		Version: "1.2", // a 1.5 endpoint serves 1.2 requests
		Args:    serializer.Raw{Data: []byte(`{"fs_path": "/var/lib/mysql"}`)},
	})
	fmt.Printf("%+v %v\n", res, err)

	_, err = d.Dispatch(ctx, &dispatcher.Request{Method: "get_filesystem_stats", Version: "1.6"})
	fmt.Println(errors.Is(err, dispatcher.ErrUnsupportedVersion), err)

	_, err = d.Dispatch(ctx, &dispatcher.Request{Method: "get_filesystem_stats", Args: serializer.Raw{Data: []byte(`{}`)}})
	fmt.Println(err)

	res, _ = d.Dispatch(ctx, &dispatcher.Request{Method: "oslo_rpc_server_ping"})
	fmt.Println(res)
	for _, m := range d.Methods() {
		fmt.Printf("%+v\n", m)
	}
	// Output:
	// {Path:/var/lib/mysql FreeBytes:1073741824} <nil>
	// true dispatcher: Endpoint does not support RPC version 1.6. Attempted method: get_filesystem_stats
	// dispatcher: get_filesystem_stats() missing required argument: 'fs_path'
	// pong
	// {Endpoint:GuestManager Namespace: Version:1.5 Name:get_filesystem_stats}
	// {Endpoint:PingEndpoint Namespace: Version: Name:oslo_rpc_server_ping}
}

// Typed handlers: the same method as a Funcs handler made by Func, called
// without reflection, with the same argument decoding and checks, and a
// method without a result made by Proc.
func ExampleFunc() {
	m := &GuestManager{}
	d, err := dispatcher.New([]any{dispatcher.Endpoint(dispatcher.Funcs{
		"get_filesystem_stats": dispatcher.Func(m.GetFilesystemStats),
		"restart": dispatcher.Proc(func(ctx context.Context, a struct {
			Delay int `json:"delay"`
		}) error {
			fmt.Println("restarting in", a.Delay)
			return nil
		}),
	}, dispatcher.Version("1.5"))})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	res, err := d.Dispatch(ctx, &dispatcher.Request{Method: "get_filesystem_stats", Args: serializer.Raw{Data: []byte(`{"fs_path": "/srv"}`)}})
	fmt.Printf("%+v %v\n", res, err)

	_, err = d.Dispatch(ctx, &dispatcher.Request{Method: "get_filesystem_stats", Args: serializer.Raw{Data: []byte(`{"fs_path": 7}`)}})
	fmt.Println(errors.Is(err, dispatcher.ErrInvalidArguments), err)

	res, err = d.Dispatch(ctx, &dispatcher.Request{Method: "restart", Args: serializer.Raw{Data: []byte(`{"delay": 3}`)}})
	fmt.Println(res, err)
	// Output:
	// {Path:/srv FreeBytes:1073741824} <nil>
	// true dispatcher: get_filesystem_stats() argument 'fs_path': expected string, got number
	// restarting in 3
	// <nil> <nil>
}
