// Package serializer holds the hooks that turn application values and the
// request context into wire form and back (oslo.messaging's Serializer),
// the request context itself (oslo's ctxt dict), and the wire codecs.
//
// # Serializer hooks
//
// A [Serializer] sees every entity that crosses the wire and the request
// context. The default, [NoOp], leaves entities alone and carries the
// [RequestContext] stored in a context.Context. As in oslo, entity hooks run
// per keyword argument: for arguments given as a map, once per value; for a
// struct, once per field as the codec names it. Results pass through the
// hooks as one entity. On the receiving side the hooks see the decoded
// generic form (maps, slices, strings, json.Number, ...), before it is bound
// to the handler's parameter type.
//
// # Codecs
//
// A [Codec] turns values into bytes. [JSON] is the default and reads
// everything Python's json module writes (NaN, Infinity, big integers,
// \u escapes). The msgpack codec lives in the msgpack subpackage.
package serializer

import "context"

// Serializer converts entities and the request context between application
// form and wire form. Implementations must be safe for concurrent use.
type Serializer interface {
	// SerializeEntity converts one argument value or a result for sending.
	SerializeEntity(ctx context.Context, entity any) (any, error)
	// DeserializeEntity converts one received argument value or result.
	DeserializeEntity(ctx context.Context, entity any) (any, error)
	// SerializeContext extracts the request context to send from ctx.
	SerializeContext(ctx context.Context) (map[string]any, error)
	// DeserializeContext returns ctx carrying the received request context.
	DeserializeContext(ctx context.Context, rc map[string]any) (context.Context, error)
}

// NoOp is the default Serializer: entities pass unchanged and the request
// context travels as the [RequestContext] stored with [WithRequestContext].
type NoOp struct{}

// SerializeEntity returns entity unchanged.
func (NoOp) SerializeEntity(_ context.Context, entity any) (any, error) { return entity, nil }

// DeserializeEntity returns entity unchanged.
func (NoOp) DeserializeEntity(_ context.Context, entity any) (any, error) { return entity, nil }

// SerializeContext returns the RequestContext stored in ctx, or nil.
func (NoOp) SerializeContext(ctx context.Context) (map[string]any, error) {
	return RequestContextFrom(ctx), nil
}

// DeserializeContext stores rc in ctx as a RequestContext (nothing when
// rc is empty: RequestContextFrom then gives nil as well).
func (NoOp) DeserializeContext(ctx context.Context, rc map[string]any) (context.Context, error) {
	if len(rc) == 0 && RequestContextFrom(ctx) == nil {
		return ctx, nil
	}
	return WithRequestContext(ctx, rc), nil
}

// IsNoOp reports whether s is nil or NoOp, so callers can skip the entity
// hooks entirely.
func IsNoOp(s Serializer) bool {
	switch s.(type) {
	case nil, NoOp, *NoOp:
		return true
	}
	return false
}
