package listener

import (
	"fmt"
	"regexp"
)

// Filter selects the notifications an endpoint receives (oslo's
// NotificationFilter). Each field that is set must match; a notification
// that does not match is not passed to the endpoint, and counts as handled
// by it.
//
// Every value is a regular expression (Go's RE2 syntax) applied as
// Python's re.match does: anchored at the start only, so "compute" matches
// "compute.instance.create" and a pattern that must match the whole value
// ends with "$". An empty string (PublisherID, EventType) or a nil map
// does not constrain.
//
// The maps are matched key by key: the notification must have the key,
// with a string value the expression matches; a missing key or a
// non-string value is a mismatch. Context is matched against the request
// context as received (before the serializer's DeserializeContext),
// Payload against the top-level keys of the payload (a payload that is not
// a JSON object matches no Payload filter), and Metadata against the keys
// "message_id" and "timestamp".
type Filter struct {
	PublisherID string
	EventType   string
	Context     map[string]string
	Payload     map[string]string
	Metadata    map[string]string
}

type compiledFilter struct {
	publisherID, eventType     *regexp.Regexp
	context, payload, metadata map[string]*regexp.Regexp
}

// compileMatch compiles a pattern with re.match semantics.
func compileMatch(p string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + p + `)`)
}

func compileFilter(f Filter) (*compiledFilter, error) {
	cf := &compiledFilter{}
	var err error
	if f.PublisherID != "" {
		if cf.publisherID, err = compileMatch(f.PublisherID); err != nil {
			return nil, fmt.Errorf("filter PublisherID %q: %w", f.PublisherID, err)
		}
	}
	if f.EventType != "" {
		if cf.eventType, err = compileMatch(f.EventType); err != nil {
			return nil, fmt.Errorf("filter EventType %q: %w", f.EventType, err)
		}
	}
	for _, m := range []struct {
		name string
		src  map[string]string
		dst  *map[string]*regexp.Regexp
	}{{"Context", f.Context, &cf.context}, {"Payload", f.Payload, &cf.payload}, {"Metadata", f.Metadata, &cf.metadata}} {
		if len(m.src) == 0 {
			continue
		}
		*m.dst = make(map[string]*regexp.Regexp, len(m.src))
		for k, p := range m.src {
			re, err := compileMatch(p)
			if err != nil {
				return nil, fmt.Errorf("filter %s[%q] %q: %w", m.name, k, p, err)
			}
			(*m.dst)[k] = re
		}
	}
	return cf, nil
}

// matchDict applies per-key expressions to data.
func matchDict(res map[string]*regexp.Regexp, data map[string]any) bool {
	for k, re := range res {
		v, ok := data[k]
		if !ok {
			return false
		}
		s, ok := v.(string)
		if !ok || !re.MatchString(s) {
			return false
		}
	}
	return true
}

// match reports whether a notification passes the filter. payload returns
// the payload in generic form; it is called only for a Payload filter.
func (f *compiledFilter) match(ctxt map[string]any, publisherID, eventType string, md Metadata, payload func() any) bool {
	if f == nil {
		return true
	}
	if f.publisherID != nil && !f.publisherID.MatchString(publisherID) {
		return false
	}
	if f.eventType != nil && !f.eventType.MatchString(eventType) {
		return false
	}
	if f.context != nil && !matchDict(f.context, ctxt) {
		return false
	}
	if f.metadata != nil && !matchDict(f.metadata, map[string]any{"message_id": md.MessageID, "timestamp": md.Timestamp}) {
		return false
	}
	if f.payload != nil {
		obj, ok := payload().(map[string]any)
		if !ok || !matchDict(f.payload, obj) {
			return false
		}
	}
	return true
}
