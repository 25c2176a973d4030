package objects

import (
	"fmt"

	"github.com/oslo-go/messaging/transport"
)

// exceptionModule is where oslo.versionedobjects defines its exceptions.
const exceptionModule = "oslo_versionedobjects.exception"

// Sentinels for oslo.versionedobjects' exception classes. Local errors of
// this package match them with errors.Is, and so do failures of the same
// class raised by a remote Python or Go peer (a *transport.RemoteError
// matches a [transport.Kind] of its class).
var (
	// ErrIncompatibleObjectVersion: an object version the registry cannot
	// take (oslo's IncompatibleObjectVersion).
	ErrIncompatibleObjectVersion = transport.NewKind(exceptionModule, "IncompatibleObjectVersion",
		"objects: incompatible object version")
	// ErrUnsupportedObject: an object type the registry does not know, or
	// one of another project namespace (oslo's UnsupportedObjectError).
	ErrUnsupportedObject = transport.NewKind(exceptionModule, "UnsupportedObjectError",
		"objects: unsupported object type")
	// ErrInvalidTargetVersion: a target version above the object's own
	// (oslo's InvalidTargetVersion).
	ErrInvalidTargetVersion = transport.NewKind(exceptionModule, "InvalidTargetVersion",
		"objects: invalid target version")
	// ErrObjectAction: an object operation that cannot be done, such as a
	// backport without a relationship rule (oslo's ObjectActionError).
	ErrObjectAction = transport.NewKind(exceptionModule, "ObjectActionError",
		"objects: object action failed")
)

// IncompatibleObjectVersionError reports an object whose version the
// registry cannot take: an unknown major version, or a minor version newer
// than the registered one. It travels as oslo's IncompatibleObjectVersion,
// which Python peers re-raise as such when oslo_versionedobjects.exception
// is among their allowed_remote_exmods.
type IncompatibleObjectVersionError struct {
	Name      string // object name, for example "Instance"
	Version   string // the version received or asked for
	Supported string // the newest version the registry has
	// Remote is the failure this error was rebuilt from, when it came from
	// a peer (see [RemoteErrors]).
	Remote *transport.RemoteError
}

func (e *IncompatibleObjectVersionError) pyMessage() string {
	return fmt.Sprintf("Version %s of %s is not supported, supported version is %s", e.Version, e.Name, e.Supported)
}

// Error implements the error interface.
func (e *IncompatibleObjectVersionError) Error() string { return "objects: " + e.pyMessage() }

// Is matches [ErrIncompatibleObjectVersion].
func (e *IncompatibleObjectVersionError) Is(target error) bool {
	return target == ErrIncompatibleObjectVersion
}

// Unwrap returns the remote failure, if any.
func (e *IncompatibleObjectVersionError) Unwrap() error {
	if e.Remote == nil {
		return nil
	}
	return e.Remote
}

// WireError makes the error travel as oslo's exception class.
func (e *IncompatibleObjectVersionError) WireError() (module, class, message string) {
	return exceptionModule, "IncompatibleObjectVersion", e.pyMessage()
}

// UnsupportedObjectError reports an object type the registry does not
// know, or a primitive of another project namespace. Type is the name, or
// "namespace.name" for a namespace mismatch, as oslo words it.
type UnsupportedObjectError struct {
	Type   string
	Remote *transport.RemoteError
}

// Error implements the error interface.
func (e *UnsupportedObjectError) Error() string { return "objects: Unsupported object type " + e.Type }

// Is matches [ErrUnsupportedObject].
func (e *UnsupportedObjectError) Is(target error) bool { return target == ErrUnsupportedObject }

// Unwrap returns the remote failure, if any.
func (e *UnsupportedObjectError) Unwrap() error {
	if e.Remote == nil {
		return nil
	}
	return e.Remote
}

// WireError makes the error travel as oslo's UnsupportedObjectError.
func (e *UnsupportedObjectError) WireError() (module, class, message string) {
	return exceptionModule, "UnsupportedObjectError", "Unsupported object type " + e.Type
}

// InvalidTargetVersionError reports a request to serialize an object at a
// version above its own.
type InvalidTargetVersionError struct{ Version string }

// Error implements the error interface.
func (e *InvalidTargetVersionError) Error() string {
	return "objects: Invalid target version " + e.Version
}

// Is matches [ErrInvalidTargetVersion].
func (e *InvalidTargetVersionError) Is(target error) bool { return target == ErrInvalidTargetVersion }

// WireError makes the error travel as oslo's InvalidTargetVersion.
func (e *InvalidTargetVersionError) WireError() (module, class, message string) {
	return exceptionModule, "InvalidTargetVersion", "Invalid target version " + e.Version
}

// ObjectActionError reports an object operation that cannot be done, with
// oslo's wording: "Object action obj_make_compatible failed because: No
// rule for flavor".
type ObjectActionError struct {
	Action, Reason string
}

func (e *ObjectActionError) pyMessage() string {
	return "Object action " + e.Action + " failed because: " + e.Reason
}

// Error implements the error interface.
func (e *ObjectActionError) Error() string { return "objects: " + e.pyMessage() }

// Is matches [ErrObjectAction].
func (e *ObjectActionError) Is(target error) bool { return target == ErrObjectAction }

// WireError makes the error travel as oslo's ObjectActionError.
func (e *ObjectActionError) WireError() (module, class, message string) {
	return exceptionModule, "ObjectActionError", e.pyMessage()
}

// FieldError reports a field value that does not fit its field type, or a
// malformed primitive, with the message Python gives for the same value.
// Class is the Python exception class it travels as ("ValueError",
// "TypeError" or "KeyError").
type FieldError struct {
	Object string // object name
	Field  string // field name, with [index] or [key] for elements
	Class  string
	Msg    string
}

// Error implements the error interface.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return "objects: " + e.Object + ": " + e.Msg
	}
	return "objects: " + e.Object + "." + e.Field + ": " + e.Msg
}

// WireError makes the error travel as the Python builtin exception oslo
// would raise.
func (e *FieldError) WireError() (module, class, message string) {
	return "builtins", e.Class, e.Msg
}

// VersionError reports a version that is not "X.Y" or "X.Y.Z".
type VersionError struct{ Version string }

// Error implements the error interface.
func (e *VersionError) Error() string { return fmt.Sprintf("objects: invalid version %q", e.Version) }

// RemoteErrors returns transport options that rebuild oslo's
// IncompatibleObjectVersion and UnsupportedObjectError failures from peers
// as [*IncompatibleObjectVersionError] and [*UnsupportedObjectError], so
// that errors.As works on the calling side (errors.Is works without them):
//
//	tr, err := transport.Open(ctx, url, objects.RemoteErrors()...)
func RemoteErrors() []transport.Option {
	return []transport.Option{
		transport.AllowRemoteError(exceptionModule, "IncompatibleObjectVersion", func(re *transport.RemoteError) error {
			return &IncompatibleObjectVersionError{
				Name: kwarg(re, "objname"), Version: kwarg(re, "objver"), Supported: kwarg(re, "supported"), Remote: re,
			}
		}),
		transport.AllowRemoteError(exceptionModule, "UnsupportedObjectError", func(re *transport.RemoteError) error {
			return &UnsupportedObjectError{Type: kwarg(re, "objtype"), Remote: re}
		}),
	}
}

func kwarg(re *transport.RemoteError, key string) string {
	s, _ := re.Kwargs[key].(string)
	return s
}
