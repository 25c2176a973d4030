package osloprom

import (
	"errors"

	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/transport"
)

// pyStr is Python's str() of an optional string attribute: "None" when it
// is not set.
func pyStr(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

// pyFanout is str() of oslo's Target.fanout, which is None unless set.
func pyFanout(fanout bool) string {
	if fanout {
		return "True"
	}
	return "None"
}

// errPanic stands for a panic that went through the middleware: Python's
// RuntimeError, as the dispatcher sends it.
var errPanic error = dispatcher.ErrPanic

// localClasses are oslo's exception classes for the transport's errors.
var localClasses = []struct {
	err   error
	class string
}{
	{transport.ErrTimeout, "MessagingTimeout"},
	{transport.ErrUndeliverable, "MessageUndeliverable"},
	{transport.ErrNoServers, "MessageUndeliverable"},
	{transport.ErrConnectionLost, "MessageDeliveryFailure"},
}

// exceptionClass names a client's failure as oslo's exception label: the
// remote class of a remote error, oslo's class of a transport error, else
// the class the error would travel as.
func exceptionClass(err error) string {
	var re *transport.RemoteError
	if errors.As(err, &re) {
		return failureClass(re)
	}
	for _, c := range localClasses {
		if errors.Is(err, c.err) {
			return c.class
		}
	}
	return failureClass(err)
}

// failureClass is the class err travels as in an oslo failure.
func failureClass(err error) string { return transport.FailureOf(err).Class }
