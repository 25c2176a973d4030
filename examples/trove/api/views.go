package api

import (
	"net/http"

	"github.com/oslo-go/messaging/examples/trove/conductor"
	"github.com/oslo-go/messaging/examples/trove/store"
)

// Request and response bodies, in Trove's shapes.

// createRequest is the body of POST /v1.0/{tenant_id}/instances.
type createRequest struct {
	Instance *struct {
		Name      string `json:"name"`
		FlavorRef string `json:"flavorRef"`
		Volume    *struct {
			Size int `json:"size"`
		} `json:"volume"`
		Datastore struct {
			Type    string `json:"type"`
			Version string `json:"version"`
		} `json:"datastore"`
	} `json:"instance"`
}

// Defaults of a create request's datastore.
const (
	defaultDatastore        = "mysql"
	defaultDatastoreVersion = "5.7"
)

type instanceResponse struct {
	Instance instanceView `json:"instance"`
}

type instancesResponse struct {
	Instances []instanceView `json:"instances"`
}

type instanceView struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Status    string        `json:"status"`
	Flavor    flavorView    `json:"flavor"`
	Datastore datastoreView `json:"datastore"`
	Volume    volumeView    `json:"volume"`
	Created   string        `json:"created"`
	Updated   string        `json:"updated"`
	Links     []linkView    `json:"links"`
}

type flavorView struct {
	ID string `json:"id"`
}

type datastoreView struct {
	Type    string `json:"type"`
	Version string `json:"version"`
}

// volumeView is the instance's volume. Show adds the usage the guest
// agent reports (GB), or says why it is unavailable.
type volumeView struct {
	Size        int      `json:"size"`
	Used        *float64 `json:"used,omitempty"`
	Total       *float64 `json:"total,omitempty"`
	Unavailable string   `json:"unavailable,omitempty"`
}

type linkView struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
}

// timeFormat is Trove's timestamp format (UTC, no zone).
const timeFormat = "2006-01-02T15:04:05"

// newInstanceView returns the view of inst in a response to r.
func newInstanceView(r *http.Request, inst *store.Instance) instanceView {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	self := scheme + "://" + r.Host + "/v1.0/" + inst.TenantID + "/instances/" + inst.ID
	return instanceView{
		ID:        inst.ID,
		Name:      inst.Name,
		Status:    status(inst),
		Flavor:    flavorView{ID: inst.FlavorID},
		Datastore: datastoreView{Type: inst.Datastore, Version: inst.DatastoreVersion},
		Volume:    volumeView{Size: inst.VolumeSize},
		Created:   inst.Created.UTC().Format(timeFormat),
		Updated:   inst.Updated.UTC().Format(timeFormat),
		Links:     []linkView{{Href: self, Rel: "self"}},
	}
}

// status returns the status the API shows for inst, derived as Trove
// derives it: a task in progress wins, then what the guest reported.
func status(inst *store.Instance) string {
	switch inst.TaskStatus {
	case store.TaskDeleting:
		return "SHUTDOWN"
	case store.TaskBuildingError:
		return "ERROR"
	}
	switch inst.ServiceStatus {
	case conductor.ServiceHealthy:
		return "ACTIVE"
	case conductor.ServiceFailed:
		return "ERROR"
	default: // new, building
		return "BUILD"
	}
}
