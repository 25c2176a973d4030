package objects

import (
	"context"
	"fmt"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
)

// ConductorAPI is the [Indirection] that asks a conductor service over RPC
// (nova-conductor's object_backport_versions; Python's
// nova.conductor.rpcapi.ConductorAPI). Its client targets the conductor's
// topic and API version ("3.0" for Nova).
type ConductorAPI struct {
	c *client.Client
}

// NewConductorAPI returns a ConductorAPI calling through c. The calls
// carry the request context stored in their ctx
// ([serializer.WithRequestContext]), which the server's serializer hands
// to DeserializeEntity.
func NewConductorAPI(c *client.Client) *ConductorAPI {
	// The primitives go and come as they are: the Serializer that asked
	// decodes the answer itself.
	return &ConductorAPI{c: c.Prepare(client.WithSerializer(serializer.NoOp{}))}
}

// ObjectBackportVersions calls object_backport_versions(objinst,
// object_versions) and returns the backported primitive.
func (a *ConductorAPI) ObjectBackportVersions(ctx context.Context, objinst map[string]any, versions map[string]string) (map[string]any, error) {
	var out map[string]any
	err := a.c.Call(ctx, "object_backport_versions",
		map[string]any{"objinst": objinst, "object_versions": versions}, &out)
	if err != nil {
		return nil, fmt.Errorf("objects: backporting through the conductor: %w", err)
	}
	return out, nil
}

// ConductorEndpoint is a server endpoint that backports objects of a
// registry for older peers: it serves object_backport_versions and the
// older object_backport, as nova-conductor does. Add it to the endpoints of
// a server on the conductor topic; use the server with this package's
// [Serializer] or with the default one (it takes objinst as an object or as
// a primitive).
type ConductorEndpoint struct {
	reg     *Registry
	version string
}

// NewConductorEndpoint returns an endpoint for reg's objects with API
// version "3.0", nova-conductor's (override it with dispatcher.Endpoint and
// dispatcher.Version).
func NewConductorEndpoint(reg *Registry) *ConductorEndpoint {
	return &ConductorEndpoint{reg: reg, version: "3.0"}
}

// Target returns the endpoint's API version.
func (e *ConductorEndpoint) Target() target.Target { return target.Target{Version: e.version} }

// ObjectBackportVersions serves object_backport_versions(objinst,
// object_versions): objinst at object_versions[its name], with its
// sub-objects at their versions in object_versions.
func (e *ConductorEndpoint) ObjectBackportVersions(ctx context.Context, kw map[string]any) (map[string]any, error) {
	o, err := e.object(kw["objinst"])
	if err != nil {
		return nil, err
	}
	raw, ok := kw["object_versions"].(map[string]any)
	if !ok {
		return nil, &FieldError{Object: "object_backport_versions", Field: "object_versions", Class: "TypeError", Msg: "a dict is required"}
	}
	versions := make(map[string]string, len(raw))
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			return nil, &FieldError{Object: "object_backport_versions", Field: "object_versions[" + k + "]", Class: "TypeError", Msg: "a string is required"}
		}
		versions[k] = s
	}
	name := mustSchema(o).name
	tv, ok := versions[name]
	if !ok {
		return nil, &FieldError{Object: "object_backport_versions", Field: "object_versions", Class: "KeyError", Msg: pyRepr(name)}
	}
	return e.reg.ToPrimitive(o, TargetVersion(tv), Manifest(versions))
}

// ObjectBackport serves the older object_backport(objinst,
// target_version), which backports sub-objects through the relationship
// tables.
func (e *ConductorEndpoint) ObjectBackport(ctx context.Context, kw map[string]any) (map[string]any, error) {
	o, err := e.object(kw["objinst"])
	if err != nil {
		return nil, err
	}
	tv, ok := kw["target_version"].(string)
	if !ok {
		return nil, &FieldError{Object: "object_backport", Field: "target_version", Class: "TypeError", Msg: "a string is required"}
	}
	return e.reg.ToPrimitive(o, TargetVersion(tv))
}

func (e *ConductorEndpoint) object(v any) (Object, error) {
	switch x := v.(type) {
	case Object:
		if _, err := schemaFor(x); err != nil {
			return nil, err
		}
		return x, nil
	case map[string]any:
		return e.reg.FromPrimitive(x)
	}
	return nil, &FieldError{Object: "objinst", Class: "TypeError", Msg: "an object is required, not " + pyTypeName(v)}
}
