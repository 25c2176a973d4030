// Package conductor is trove-conductor: the service through which guest
// agents, which have no database access, report back. Its API is used by
// the guest agents; its Manager updates the instances in the database.
package conductor

import (
	"context"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// DefaultTopic is the conductor's topic (Trove's conductor_queue).
const DefaultTopic = "trove-conductor"

// API versions. Bump LatestVersion (and the history) when a method or an
// argument is added; BaseVersion changes only with an incompatible change.
//
// History:
//
//	1.0 - heartbeat
const (
	BaseVersion   = "1.0"
	LatestVersion = "1.0"
)

// APIConfig says how to reach the conductor.
type APIConfig struct {
	Topic      string // DefaultTopic when empty
	VersionCap string // the newest version to send, LatestVersion when empty ([upgrade_levels] conductor)
	// ClientOptions are added to the client's (middleware: metrics, tracing).
	ClientOptions []client.Option
}

// API is the conductor's RPC client, like Trove's conductor.api.API.
// It is safe for concurrent use.
type API struct {
	client *client.Client
}

// NewAPI returns a client of the conductor on tr.
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

// Heartbeat casts the service status of instanceID to the conductor,
// stamped with the time it is sent.
func (a *API) Heartbeat(ctx context.Context, instanceID, serviceStatus string) error {
	args := HeartbeatArgs{
		InstanceID: instanceID,
		Payload:    Payload{ServiceStatus: serviceStatus},
		Sent:       float64(time.Now().UnixMicro()) / 1e6,
	}
	return a.client.Prepare(client.Version("1.0")).Cast(ctx, "heartbeat", args)
}
