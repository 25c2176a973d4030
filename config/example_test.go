package config_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/config"
	_ "github.com/oslo-go/messaging/drivers/fake" // fake:// for the example; a service imports the drivers it uses
	"github.com/oslo-go/messaging/target"
)

// writeExample writes a trove.conf and returns its path.
func writeExample(content string) (string, func()) {
	dir, err := os.MkdirTemp("", "config-example")
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "trove.conf")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		log.Fatal(err)
	}
	return path, func() { os.RemoveAll(dir) }
}

// A service opens its transport and its clients from the file Python
// services read.
func Example() {
	path, cleanup := writeExample(`[DEFAULT]
transport_url = fake:///example
control_exchange = trove
rpc_response_timeout = 30
taskmanager_queue = taskmanager

[upgrade_levels]
taskmanager = icehouse
`)
	defer cleanup()

	conf, err := config.Load(config.Files(path),
		config.Define("DEFAULT", config.Opt{Name: "taskmanager_queue", Default: "taskmanager", Help: "Topic of trove-taskmanager."}))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	tr, err := conf.OpenTransport(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()

	topic, _ := conf.String("DEFAULT", "taskmanager_queue")
	vcap, err := conf.VersionCap("taskmanager", map[string]string{"icehouse": "1.0", "latest": ""})
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.New(tr, target.Target{Topic: topic, Version: "1.0"},
		append(conf.ClientOptions(), client.VersionCap(vcap))...)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tr.ControlExchange(), conf.RPCResponseTimeout(), vcap, c.CanSendVersion("1.1"))
	// Output: trove 30s 1.0 false
}

// Bad values are reported with where they were written.
func ExampleValueError() {
	path, cleanup := writeExample("[oslo_messaging_rabbit]\nheartbeat_rate = often\n")
	defer cleanup()

	_, err := config.Load(config.Files(path))
	var ve *config.ValueError
	if errors.As(err, &ve) {
		fmt.Println(filepath.Base(ve.File), ve.Line, ve.Group, ve.Option, ve.Value, ve.Err)
	}
	// Output: trove.conf 2 oslo_messaging_rabbit heartbeat_rate often not an integer
}
