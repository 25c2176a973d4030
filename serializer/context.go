package serializer

import "context"

// RequestContext is oslo's request context ("ctxt"): a dict of JSON values
// such as request_id, user, project_id, roles and is_admin that travels
// with every message as _context_<key> fields.
//
// The keys msg_id, reply_q and client_timeout are reserved by oslo's wire
// format and are not sent.
type RequestContext map[string]any

type requestContextKey struct{}

// WithRequestContext returns a copy of ctx that carries rc. The default
// serializer sends it with every call and cast made with the returned ctx,
// and a server hands it to handlers through their ctx.
func WithRequestContext(ctx context.Context, rc RequestContext) context.Context {
	return context.WithValue(ctx, requestContextKey{}, rc)
}

// RequestContextFrom returns the RequestContext carried by ctx, or nil.
func RequestContextFrom(ctx context.Context) RequestContext {
	rc, _ := ctx.Value(requestContextKey{}).(RequestContext)
	return rc
}

// String returns the value of key if it is a string, or "".
func (rc RequestContext) String(key string) string {
	s, _ := rc[key].(string)
	return s
}

// Clone returns a shallow copy of rc, so a caller can add keys without
// changing a context shared with other goroutines.
func (rc RequestContext) Clone() RequestContext {
	if rc == nil {
		return nil
	}
	c := make(RequestContext, len(rc))
	for k, v := range rc {
		c[k] = v
	}
	return c
}
