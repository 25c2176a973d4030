package osloprom

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/target"
)

type Panicky struct{}

func (Panicky) Boom(context.Context) error { panic("boom") }

// TestPanics checks that a panic below the middleware is counted as a
// RuntimeError and goes on up.
func TestPanics(t *testing.T) {
	m := New()
	d, err := dispatcher.New([]any{Panicky{}}, dispatcher.WithMiddleware(m.ServerMiddleware()))
	if err != nil {
		t.Fatal(err)
	}
	stg := target.Target{Topic: "t", Server: "s", Exchange: "openstack"}
	if _, err := d.Dispatch(context.Background(), &dispatcher.Request{Method: "boom", Target: stg}); !errors.Is(err, dispatcher.ErrPanic) {
		t.Fatalf("Dispatch: %v, want the dispatcher's panic error", err)
	}
	lv := []string{"openstack", "t", "s", "Panicky", "None", "None", "boom", ""}
	if n := testutil.ToFloat64(m.serverExc.WithLabelValues(append(lv, "RuntimeError")...)); n != 1 {
		t.Errorf("server exceptions: %v, want 1", n)
	}
	if n := testutil.ToFloat64(m.serverEnd.WithLabelValues(lv...)); n != 1 {
		t.Errorf("server ends: %v, want 1", n)
	}

	invoke := m.ClientMiddleware()(func(context.Context, *client.Invocation) error { panic("boom") })
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want the invoker's panic", v)
			}
		}()
		_ = invoke(context.Background(), &client.Invocation{CallType: "call", Method: "m", Target: target.Target{Topic: "t", Exchange: "openstack"}})
	}()
	clv := []string{"call", "openstack", "t", "None", "None", "None", "None", "", "m", "None"}
	if n := testutil.ToFloat64(m.clientExc.WithLabelValues(append(clv, "RuntimeError")...)); n != 1 {
		t.Errorf("client exceptions: %v, want 1", n)
	}
	if n := testutil.ToFloat64(m.clientInFlight.WithLabelValues(clv...)); n != 0 {
		t.Errorf("client in flight: %v, want 0", n)
	}
}
