// Package guestagent is trove-guestagent, the agent that runs next to the
// datastore of one instance: it installs ("prepares") the datastore,
// reports its status to the conductor with heartbeats, and answers
// questions such as get_filesystem_stats.
//
// Each instance has its own agent, serving the topic guestagent.<instance
// id>. The API type is the client the other services use; Manager is the
// endpoint; Agent runs a Manager on a server.
package guestagent

import (
	"context"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// API versions. Bump LatestVersion (and the history) when a method or an
// argument is added; BaseVersion changes only with an incompatible change.
//
// History:
//
//	1.0 - prepare, get_filesystem_stats
//	1.1 - ds_version argument of prepare
const (
	BaseVersion   = "1.0"
	LatestVersion = "1.1"
)

// DefaultCallTimeout bounds quick calls to a guest (Trove's
// agent_call_low_timeout): a guest that does not answer in time is taken
// as unavailable.
const DefaultCallTimeout = 5 * time.Second

// Topic returns the topic of the guest agent of an instance.
func Topic(instanceID string) string { return "guestagent." + instanceID }

// APIConfig says how to reach guest agents.
type APIConfig struct {
	VersionCap  string        // the newest version to send, LatestVersion when empty ([upgrade_levels] guestagent)
	CallTimeout time.Duration // timeout of quick calls, DefaultCallTimeout when 0
	// ClientOptions are added to the client's (middleware: metrics, tracing).
	ClientOptions []client.Option
}

// API is the RPC client of the guest agent of one instance, like Trove's
// guestagent.api.API. It is safe for concurrent use.
type API struct {
	client      *client.Client
	callTimeout time.Duration
}

// NewAPI returns a client of the guest agent of instanceID on tr.
func NewAPI(tr *transport.Transport, instanceID string, cfg APIConfig) (*API, error) {
	if cfg.VersionCap == "" {
		cfg.VersionCap = LatestVersion
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	c, err := client.New(tr, target.Target{Topic: Topic(instanceID), Version: BaseVersion},
		append([]client.Option{client.VersionCap(cfg.VersionCap)}, cfg.ClientOptions...)...)
	if err != nil {
		return nil, err
	}
	return &API{client: c, callTimeout: cfg.CallTimeout}, nil
}

// Prepare casts prepare: the guest installs the datastore and reports its
// progress to the conductor. To a guest capped at 1.0 it is sent without
// the datastore version, which 1.0 guests do not know.
func (a *API) Prepare(ctx context.Context, args PrepareArgs) error {
	version := "1.1"
	if !a.client.CanSendVersion(version) {
		version = "1.0"
		args.DsVersion = ""
	}
	return a.client.Prepare(client.Version(version)).Cast(ctx, "prepare", args)
}

// GetFilesystemStats calls get_filesystem_stats, waiting at most the
// call timeout for the answer.
func (a *API) GetFilesystemStats(ctx context.Context) (FSStats, error) {
	cc := a.client.Prepare(client.Version("1.0"), client.Timeout(a.callTimeout))
	return client.Call[FSStats](ctx, cc, "get_filesystem_stats", nil)
}

// Ping calls oslo's server ping, waiting at most timeout: it tells whether
// the guest agent is up and serving.
func (a *API) Ping(ctx context.Context, timeout time.Duration) error {
	cc := a.client.Prepare(client.Version("1.0"), client.Timeout(timeout))
	return cc.Call(ctx, "oslo_rpc_server_ping", nil, nil)
}
