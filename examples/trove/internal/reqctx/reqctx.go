// Package reqctx builds and reads the request context that travels with
// every RPC message of the Trove services (oslo's ctxt dict): the fields of
// Trove's TroveContext that this example uses.
package reqctx

import (
	"context"
	"log/slog"
	"slices"

	"github.com/google/uuid"

	"github.com/oslo-go/messaging/serializer"
)

// ForRequest returns the request context of an API request made by user
// in project projectID with roles: a fresh request id, the project under
// both of oslo.context's names (project_id and the older tenant), the user,
// the roles and whether they make the user an admin.
func ForRequest(projectID, user string, roles []string) serializer.RequestContext {
	if roles == nil {
		roles = []string{} // a list on the wire, as oslo.context sends it
	}
	return serializer.RequestContext{
		"request_id": NewRequestID(),
		"project_id": projectID,
		"tenant":     projectID,
		"user":       user,
		"roles":      roles,
		"is_admin":   slices.Contains(roles, "admin"),
	}
}

// ForService returns the context of work a service starts by itself, such
// as a guest agent's periodic heartbeats (Trove's admin context).
func ForService(user string) serializer.RequestContext {
	return serializer.RequestContext{
		"request_id": NewRequestID(),
		"user":       user,
		"roles":      []string{"admin"},
		"is_admin":   true,
	}
}

// NewRequestID returns a request id in OpenStack's form, "req-<uuid>".
func NewRequestID() string { return "req-" + uuid.NewString() }

// Logger returns log with the request id and the project of the request
// context ctx carries, so that one request can be followed through every
// service's log.
func Logger(ctx context.Context, log *slog.Logger) *slog.Logger {
	rc := serializer.RequestContextFrom(ctx)
	if rc == nil {
		return log
	}
	return log.With("request_id", rc.String("request_id"), "project_id", rc.String("project_id"))
}
