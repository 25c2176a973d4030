package conductor

// HeartbeatArgs are the arguments of heartbeat.
type HeartbeatArgs struct {
	InstanceID string  `json:"instance_id" rpc:"required"`
	Payload    Payload `json:"payload" rpc:"required"`
	// Sent is when the guest sent the heartbeat, in seconds since the
	// Unix epoch; the conductor ignores a heartbeat older than one it
	// already applied.
	Sent float64 `json:"sent"`
}

// Payload is what a guest reports in a heartbeat.
type Payload struct {
	// ServiceStatus is the datastore's status, one of the store.Service*
	// descriptions ("building", "healthy", ...).
	ServiceStatus string `json:"service_status"`
}

// Service statuses: the values of Payload.ServiceStatus (the descriptions
// of Trove's ServiceStatuses that this example uses).
const (
	ServiceNew      = "new" // no heartbeat yet
	ServiceBuilding = "building"
	ServiceHealthy  = "healthy"
	ServiceFailed   = "failed"
	// ServiceShutdown is set by the conductor when a guest's heartbeats
	// stop (see CheckStaleHeartbeats).
	ServiceShutdown = "shutdown"
)

// IsServiceStatus reports whether s is one of the service statuses.
func IsServiceStatus(s string) bool {
	switch s {
	case ServiceNew, ServiceBuilding, ServiceHealthy, ServiceFailed, ServiceShutdown:
		return true
	}
	return false
}
