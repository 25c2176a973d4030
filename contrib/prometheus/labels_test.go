package osloprom

import (
	"errors"
	"fmt"
	"testing"

	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/transport"
)

type quotaError struct{}

func (quotaError) Error() string { return "over quota" }

func TestExceptionClass(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"remote", fmt.Errorf("call: %w", &transport.RemoteError{Module: "nova.exception", Class: "InstanceNotFound"}), "InstanceNotFound"},
		{"remote rebuilt by Python", &transport.RemoteError{Module: "nova.exception_Remote", Class: "InstanceNotFound_Remote"}, "InstanceNotFound"},
		{"remote no such method", &transport.RemoteError{Module: "oslo_messaging.rpc.dispatcher", Class: "NoSuchMethod"}, "NoSuchMethod"},
		{"timeout", &transport.TimeoutError{Op: "call"}, "MessagingTimeout"},
		{"undeliverable", fmt.Errorf("cast: %w", transport.ErrUndeliverable), "MessageUndeliverable"},
		{"no servers", transport.ErrNoServers, "MessageUndeliverable"},
		{"connection lost", transport.ErrConnectionLost, "MessageDeliveryFailure"},
		{"kind", fmt.Errorf("x: %w", transport.NewKind("trove.common.exception", "NotFound", "not found")), "NotFound"},
		{"argument error", &dispatcher.ArgumentError{Method: "m", Field: "f"}, "TypeError"},
		{"go type", quotaError{}, "quotaError"},
		{"errors.New", errors.New("boom"), "Exception"},
		{"panic", errPanic, "RuntimeError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := exceptionClass(tc.err); got != tc.want {
				t.Errorf("exceptionClass(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestServerFailureClass(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&dispatcher.ArgumentError{Method: "m", Field: "f"}, "TypeError"},
		{dispatcher.Expected(fmt.Errorf("x: %w", transport.NewKind("builtins", "KeyError", "k"))), "KeyError"},
		{errors.New("boom"), "Exception"},
	} {
		if got := failureClass(tc.err); got != tc.want {
			t.Errorf("failureClass(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
