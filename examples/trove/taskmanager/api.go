// Package taskmanager is trove-taskmanager, the service that carries out
// the long-running work the API only starts: it provisions a guest for a
// new instance and tells the guest to prepare the datastore, and it
// deletes instances. Its API is used by trove-api; its Manager is the
// endpoint.
package taskmanager

import (
	"context"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// DefaultTopic is the taskmanager's topic: Trove's taskmanager_queue
// default, so that a broker shows the same queue names as a Trove
// deployment.
const DefaultTopic = "taskmanager"

// API versions. Bump LatestVersion (and the history) when a method or an
// argument is added; BaseVersion changes only with an incompatible change.
//
// History:
//
//	1.0 - create_instance, delete_instance
const (
	BaseVersion   = "1.0"
	LatestVersion = "1.0"
)

// APIConfig says how to reach the taskmanager.
type APIConfig struct {
	Topic      string // DefaultTopic when empty
	VersionCap string // the newest version to send, LatestVersion when empty ([upgrade_levels] taskmanager)
	// ClientOptions are added to the client's (middleware: metrics, tracing).
	ClientOptions []client.Option
}

// API is the taskmanager's RPC client, like Trove's taskmanager.api.API.
// It is safe for concurrent use.
type API struct {
	client *client.Client
}

// NewAPI returns a client of the taskmanager on tr.
func NewAPI(tr *transport.Transport, cfg APIConfig) (*API, error) {
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.VersionCap == "" {
		cfg.VersionCap = LatestVersion
	}
	c, err := client.New(tr, target.Target{Topic: cfg.Topic, Version: BaseVersion},
		append([]client.Option{client.VersionCap(cfg.VersionCap)}, cfg.ClientOptions...)...)
	if err != nil {
		return nil, err
	}
	return &API{client: c}, nil
}

// CreateInstance casts create_instance: the taskmanager provisions the
// instance in the background.
func (a *API) CreateInstance(ctx context.Context, args CreateInstanceArgs) error {
	return a.client.Prepare(client.Version("1.0")).Cast(ctx, "create_instance", args)
}

// DeleteInstance casts delete_instance: the taskmanager stops the guest
// and removes the instance in the background.
func (a *API) DeleteInstance(ctx context.Context, instanceID string) error {
	args := DeleteInstanceArgs{InstanceID: instanceID}
	return a.client.Prepare(client.Version("1.0")).Cast(ctx, "delete_instance", args)
}
