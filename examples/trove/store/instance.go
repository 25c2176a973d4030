package store

import "time"

// Task statuses: what the control plane is doing with an instance
// (Trove's InstanceTasks).
const (
	TaskNone          = "NONE"
	TaskBuilding      = "BUILDING"
	TaskDeleting      = "DELETING"
	TaskBuildingError = "BUILDING_ERROR_SERVER"
)

// Instance is one database instance (a row of the instances table).
type Instance struct {
	ID               string // a UUID
	TenantID         string
	Name             string
	FlavorID         string
	VolumeSize       int // GB
	Datastore        string
	DatastoreVersion string
	TaskStatus       string // one of the Task constants
	ServiceStatus    string // what the guest last reported, see conductor.Service*
	Created          time.Time
	Updated          time.Time
}
