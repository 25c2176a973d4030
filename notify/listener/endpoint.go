package listener

import (
	"context"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"

	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/serializer"
)

// Metadata is the notification's metadata (oslo's metadata dict).
type Metadata struct {
	// MessageID is the notification's message_id, a dashed UUID.
	MessageID string
	// Timestamp is the notification's timestamp as sent,
	// "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC (see notify.ParseTimestamp).
	Timestamp string
}

// Message is one notification handed to a batch endpoint (see Batch).
type Message struct {
	// Context is the listener's handler context carrying this message's
	// request context as WithSerializer's DeserializeContext made it:
	// serializer.RequestContextFrom(m.Context) with the default serializer.
	Context     context.Context
	PublisherID string
	EventType   string
	// Priority is lower case, as oslo dispatches it: "info", "error", ...
	Priority string
	// Payload is the encoded payload; Decode it into the type expected.
	Payload  serializer.Raw
	Metadata Metadata
}

// Filtered makes the endpoint impl receive only the notifications f
// matches (oslo's filter_rule endpoint attribute); put the result in New's
// list in place of impl. Filtered on an endpoint Filtered returned sets its
// filter to f, as assigning filter_rule again does in oslo.
//
//	listener.New(tr, targets, []any{
//		listener.Filtered(&Billing{}, listener.Filter{EventType: `compute\.instance\.`}),
//	})
func Filtered(impl any, f Filter) any {
	if e, ok := impl.(*filtered); ok && e != nil {
		impl = e.impl
	}
	return &filtered{impl: impl, filter: f}
}

// filtered is an endpoint with its filter.
type filtered struct {
	impl   any
	filter Filter
}

var (
	contextType  = reflect.TypeFor[context.Context]()
	errorType    = reflect.TypeFor[error]()
	stringType   = reflect.TypeFor[string]()
	metadataType = reflect.TypeFor[Metadata]()
	messagesType = reflect.TypeFor[[]Message]()
	rawType      = reflect.TypeFor[serializer.Raw]()
)

const (
	singleSignature = "func(context.Context, publisherID, eventType string, payload P, md listener.Metadata) error"
	batchSignature  = "func(context.Context, []listener.Message) error"
)

// handler is one priority method of one endpoint.
type handler struct {
	name    string // for logs: "(*pkg.T).Info"
	filter  *compiledFilter
	fn      reflect.Value // the bound method
	payload reflect.Type  // single mode: P
}

func isSingle(t reflect.Type) bool {
	return t.NumIn() == 5 && t.In(0) == contextType && t.In(1) == stringType && t.In(2) == stringType &&
		t.In(4) == metadataType && !t.IsVariadic() && t.NumOut() == 1 && t.Out(0) == errorType
}

func isBatch(t reflect.Type) bool {
	return t.NumIn() == 2 && t.In(0) == contextType && t.In(1) == messagesType &&
		t.NumOut() == 1 && t.Out(0) == errorType
}

func countPriorityMethods(t reflect.Type) int {
	n := 0
	for i := 0; i < t.NumMethod(); i++ {
		if wire.IsPriority(strings.ToLower(t.Method(i).Name)) {
			n++
		}
	}
	return n
}

// newEndpoint returns the handlers of endpoint i of New's list, by
// lower-case priority.
func newEndpoint(i int, elem any, batch bool) (map[string]*handler, error) {
	impl := elem
	var f *Filter // set: Filtered
	if e, ok := elem.(*filtered); ok {
		if e == nil {
			return nil, fmt.Errorf("listener: endpoint %d is nil", i)
		}
		impl, f = e.impl, &e.filter
	}
	v := reflect.ValueOf(impl)
	if !v.IsValid() || (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface || v.Kind() == reflect.Map ||
		v.Kind() == reflect.Func || v.Kind() == reflect.Slice) && v.IsNil() {
		return nil, fmt.Errorf("listener: endpoint %d is nil", i)
	}
	name := fmt.Sprintf("endpoint %d (%T)", i, impl)
	var filter *compiledFilter
	if f != nil {
		cf, err := compileFilter(*f)
		if err != nil {
			return nil, fmt.Errorf("listener: %s: %w", name, err)
		}
		filter = cf
	}
	t := v.Type()
	hs := map[string]*handler{}
	for j := 0; j < t.NumMethod(); j++ {
		m := t.Method(j)
		prio := strings.ToLower(m.Name)
		if !wire.IsPriority(prio) {
			continue
		}
		if prev, dup := hs[prio]; dup {
			return nil, fmt.Errorf("listener: %s: methods %s and %s both handle priority %s", name, prev.name, m.Name, prio)
		}
		mt := v.Method(j).Type()
		h := &handler{name: fmt.Sprintf("(%s).%s", t, m.Name), filter: filter, fn: v.Method(j)}
		switch {
		case !batch && isSingle(mt):
			h.payload = mt.In(3)
		case batch && isBatch(mt):
		case batch && isSingle(mt):
			return nil, fmt.Errorf("listener: %s: method %s has type %s; a batch listener (listener.Batch) wants %s", name, m.Name, mt, batchSignature)
		case !batch && isBatch(mt):
			return nil, fmt.Errorf("listener: %s: method %s has type %s, a batch method: pass listener.Batch to listener.New, or use %s", name, m.Name, mt, singleSignature)
		default:
			want := singleSignature
			if batch {
				want = batchSignature
			}
			return nil, fmt.Errorf("listener: %s: method %s has type %s; a notification method named after a priority must be %s", name, m.Name, mt, want)
		}
		hs[prio] = h
	}
	if len(hs) == 0 {
		if t.Kind() != reflect.Pointer && countPriorityMethods(reflect.PointerTo(t)) > 0 {
			return nil, fmt.Errorf("listener: %s has no notification methods (pass a pointer?)", name)
		}
		return nil, fmt.Errorf("listener: %s has no notification methods: want methods named Audit, Debug, Info, Warn, Error, Critical or Sample", name)
	}
	return hs, nil
}

// PanicError reports a panic in an endpoint method; the message counts as
// failed (requeued with AllowRequeue).
type PanicError struct {
	Method string // "(*pkg.T).Info"
	Value  any
	Stack  []byte
}

// Error implements the error interface.
func (e *PanicError) Error() string {
	return fmt.Sprintf("listener: %s panicked: %v", e.Method, e.Value)
}

// call invokes the method and turns a panic into a *PanicError.
func (h *handler) call(args []reflect.Value) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Method: h.name, Value: v, Stack: debug.Stack()}
		}
	}()
	out := h.fn.Call(args)
	if e, _ := out[0].Interface().(error); e != nil {
		return e
	}
	return nil
}
