package transport

import (
	"log/slog"

	"github.com/oslo-go/messaging/serializer"
)

// DefaultControlExchange is oslo's control_exchange default: the exchange
// of targets that name none.
const DefaultControlExchange = "openstack"

// An Option configures a Transport.
type Option func(*options)

type options struct {
	logger       *slog.Logger
	exchange     string
	codec        serializer.Codec
	driverOpts   []any
	remoteErrors map[errorClass]func(*RemoteError) error
}

type errorClass struct{ module, class string }

// WithLogger sets the logger for the transport and its driver. The default
// is slog.Default(); the library logs only problems (Warn, Error) and
// details at Debug.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// ControlExchange sets the exchange used for targets that name none
// (oslo's control_exchange, set by services with set_transport_defaults).
// The default is "openstack". The URL query parameter control_exchange
// overrides it.
func ControlExchange(name string) Option {
	return func(o *options) { o.exchange = name }
}

// WithCodec sets the codec of sent messages. The default, JSON, is the only
// one Python oslo.messaging peers read; the msgpack codec suits Go-only
// deployments. Received messages are decoded with the codec their content
// type names (JSON or this one).
func WithCodec(c serializer.Codec) Option {
	return func(o *options) { o.codec = c }
}

// WithDriverOption passes a driver-specific option to the driver. Drivers
// export functions that wrap their options with it, for example
// rabbit.QuorumQueues(true). A driver fails Open for options it does not
// know.
func WithDriverOption(v any) Option {
	return func(o *options) { o.driverOpts = append(o.driverOpts, v) }
}

// AllowRemoteError makes calls rebuild failures of the exception class
// module.class with rebuild instead of returning a *RemoteError: the Go form
// of oslo's allowed_remote_exmods. The rebuilt error should wrap the
// RemoteError (Unwrap) so that callers can still reach the remote message
// and traceback.
//
//	transport.AllowRemoteError("trove.common.exception", "NotFound",
//		func(re *transport.RemoteError) error { return &NotFound{Remote: re} })
func AllowRemoteError(module, class string, rebuild func(*RemoteError) error) Option {
	return func(o *options) {
		if o.remoteErrors == nil {
			o.remoteErrors = map[errorClass]func(*RemoteError) error{}
		}
		o.remoteErrors[errorClass{normalizeModule(module), class}] = rebuild
	}
}
