// Package api is trove-api: Trove's HTTP API for database instances, in
// front of the RPC services.
//
//	POST   /v1.0/{tenant_id}/instances        create: 202, the taskmanager builds it
//	GET    /v1.0/{tenant_id}/instances        list
//	GET    /v1.0/{tenant_id}/instances/{id}   show, with the volume usage from the guest agent
//	DELETE /v1.0/{tenant_id}/instances/{id}   delete: 202, the taskmanager removes it
//
// Every request gets a request id ("req-<uuid>", returned in the
// X-Openstack-Request-Id header) and a request context carrying it with
// the tenant, the user (X-User-Id) and the roles (X-Roles), which travels
// with every RPC message the request causes. There is no authentication.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/oslo-go/messaging/examples/trove/conductor"
	"github.com/oslo-go/messaging/examples/trove/guestagent"
	"github.com/oslo-go/messaging/examples/trove/internal/reqctx"
	"github.com/oslo-go/messaging/examples/trove/store"
	"github.com/oslo-go/messaging/examples/trove/taskmanager"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/transport"
)

// maxBodySize bounds request bodies.
const maxBodySize = 64 << 10

// Config is what the API works with.
type Config struct {
	Store       *store.Store
	TaskManager *taskmanager.API
	Transport   *transport.Transport // to reach the guest agents
	GuestAPI    guestagent.APIConfig
	Logger      *slog.Logger // slog.Default() when nil
}

// handler serves the API.
type handler struct {
	store       *store.Store
	taskmanager *taskmanager.API
	tr          *transport.Transport
	guestAPI    guestagent.APIConfig
	log         *slog.Logger
}

// NewHandler returns the API's HTTP handler.
func NewHandler(cfg Config) http.Handler {
	if cfg.GuestAPI.CallTimeout == 0 {
		cfg.GuestAPI.CallTimeout = guestagent.DefaultCallTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &handler{
		store:       cfg.Store,
		taskmanager: cfg.TaskManager,
		tr:          cfg.Transport,
		guestAPI:    cfg.GuestAPI,
		log:         cfg.Logger,
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1.0/{tenant_id}/instances", h.serve(h.create))
	mux.Handle("GET /v1.0/{tenant_id}/instances", h.serve(h.list))
	mux.Handle("GET /v1.0/{tenant_id}/instances/{id}", h.serve(h.show))
	mux.Handle("DELETE /v1.0/{tenant_id}/instances/{id}", h.serve(h.delete))
	mux.Handle("/", h.serve(func(context.Context, *http.Request) (int, any, error) {
		return 0, nil, notFound("The resource could not be found.")
	}))
	return mux
}

// operation is one API operation. It returns the status and the body of
// the response (nil for none), or an error, which becomes an error body.
type operation func(ctx context.Context, r *http.Request) (status int, body any, err error)

// serve runs op with the request's request context in its ctx, writes the
// response and logs the request.
func (h *handler) serve(op operation) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := reqctx.ForRequest(r.PathValue("tenant_id"), r.Header.Get("X-User-Id"), roles(r))
		ctx := serializer.WithRequestContext(r.Context(), rc)
		log := reqctx.Logger(ctx, h.log)
		w.Header().Set("X-Openstack-Request-Id", rc.String("request_id"))
		r.Body = http.MaxBytesReader(w, r.Body, maxBodySize)

		status, body, err := op(ctx, r)
		if err != nil {
			status, body = fault(err)
			if status >= 500 {
				log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
		}
		writeJSON(w, status, body)
		log.Info("request", "method", r.Method, "path", r.URL.Path, "status", status)
	})
}

// roles returns the roles of the X-Roles header.
func roles(r *http.Request) []string {
	var list []string
	for role := range strings.SplitSeq(r.Header.Get("X-Roles"), ",") {
		if role = strings.TrimSpace(role); role != "" {
			list = append(list, role)
		}
	}
	return list
}

// create records a new instance and casts create_instance to the
// taskmanager, which builds it in the background.
func (h *handler) create(ctx context.Context, r *http.Request) (int, any, error) {
	var body createRequest
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return 0, nil, badRequest("Malformed request body: " + err.Error())
	}
	req := body.Instance
	switch {
	case req == nil:
		return 0, nil, badRequest("'instance' is a required property")
	case req.Name == "":
		return 0, nil, badRequest("'name' is a required property")
	case req.FlavorRef == "":
		return 0, nil, badRequest("'flavorRef' is a required property")
	case req.Volume == nil:
		return 0, nil, badRequest("'volume' is a required property")
	case req.Volume.Size < 1:
		return 0, nil, badRequest(fmt.Sprintf("volume size %d is less than the minimum of 1", req.Volume.Size))
	}
	if req.Datastore.Type == "" {
		req.Datastore.Type = defaultDatastore
	}
	if req.Datastore.Version == "" {
		req.Datastore.Version = defaultDatastoreVersion
	}

	inst := &store.Instance{
		ID:               uuid.NewString(),
		TenantID:         r.PathValue("tenant_id"),
		Name:             req.Name,
		FlavorID:         req.FlavorRef,
		VolumeSize:       req.Volume.Size,
		Datastore:        req.Datastore.Type,
		DatastoreVersion: req.Datastore.Version,
		TaskStatus:       store.TaskBuilding,
		ServiceStatus:    conductor.ServiceNew,
	}
	if err := h.store.Create(ctx, inst); err != nil {
		return 0, nil, err
	}
	err := h.taskmanager.CreateInstance(ctx, taskmanager.CreateInstanceArgs{
		InstanceID:       inst.ID,
		Name:             inst.Name,
		FlavorID:         inst.FlavorID,
		VolumeSize:       inst.VolumeSize,
		DatastoreManager: inst.Datastore,
		DsVersion:        inst.DatastoreVersion,
	})
	if err != nil {
		h.store.SetTaskStatus(ctx, inst.ID, store.TaskBuildingError)
		return 0, nil, fmt.Errorf("instance %s: cannot reach the taskmanager: %w", inst.ID, err)
	}
	return http.StatusAccepted, instanceResponse{newInstanceView(r, inst)}, nil
}

// list returns the tenant's instances.
func (h *handler) list(ctx context.Context, r *http.Request) (int, any, error) {
	instances, err := h.store.List(ctx, r.PathValue("tenant_id"))
	if err != nil {
		return 0, nil, err
	}
	views := make([]instanceView, 0, len(instances))
	for _, inst := range instances {
		views = append(views, newInstanceView(r, inst))
	}
	return http.StatusOK, instancesResponse{views}, nil
}

// show returns one instance. Of an ACTIVE instance it calls the guest
// agent for the volume usage; a guest that does not answer in time
// leaves the usage out, with the reason, rather than failing the request.
func (h *handler) show(ctx context.Context, r *http.Request) (int, any, error) {
	inst, err := h.load(ctx, r)
	if err != nil {
		return 0, nil, err
	}
	view := newInstanceView(r, inst)
	if view.Status == "ACTIVE" {
		h.addVolumeUsage(ctx, inst.ID, &view.Volume)
	} else {
		view.Volume.Unavailable = "the instance is " + view.Status
	}
	return http.StatusOK, instanceResponse{view}, nil
}

// addVolumeUsage calls get_filesystem_stats on the guest agent of
// instanceID and adds the answer to v, or the reason there is none.
func (h *handler) addVolumeUsage(ctx context.Context, instanceID string, v *volumeView) {
	guest, err := guestagent.NewAPI(h.tr, instanceID, h.guestAPI)
	if err != nil {
		v.Unavailable = err.Error()
		return
	}
	stats, err := guest.GetFilesystemStats(ctx)
	switch {
	case err == nil:
		v.Used, v.Total = &stats.Used, &stats.Total
		return
	case errors.Is(err, transport.ErrTimeout):
		v.Unavailable = fmt.Sprintf("the guest agent did not answer within %s", h.guestAPI.CallTimeout)
	case errors.Is(err, transport.ErrNoServers):
		v.Unavailable = "no guest agent serves the instance"
	default:
		v.Unavailable = "the guest agent failed: " + err.Error()
	}
	reqctx.Logger(ctx, h.log).Warn("volume usage unavailable", "instance_id", instanceID, "err", err)
}

// delete marks the instance as being deleted and casts delete_instance
// to the taskmanager, which removes it in the background.
func (h *handler) delete(ctx context.Context, r *http.Request) (int, any, error) {
	inst, err := h.load(ctx, r)
	if err != nil {
		return 0, nil, err
	}
	if err := h.store.SetTaskStatus(ctx, inst.ID, store.TaskDeleting); err != nil {
		return 0, nil, err
	}
	if err := h.taskmanager.DeleteInstance(ctx, inst.ID); err != nil {
		return 0, nil, fmt.Errorf("instance %s: cannot reach the taskmanager: %w", inst.ID, err)
	}
	return http.StatusAccepted, nil, nil
}

// load returns the instance of the request's path, which must belong to
// the request's tenant.
func (h *handler) load(ctx context.Context, r *http.Request) (*store.Instance, error) {
	id := r.PathValue("id")
	inst, err := h.store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && inst.TenantID != r.PathValue("tenant_id")) {
		return nil, notFound(fmt.Sprintf("Instance %s could not be found.", id))
	}
	return inst, err
}
