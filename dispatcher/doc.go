// Package dispatcher turns a decoded RPC request (method, namespace,
// version, args) into a call of a Go method on one of a list of endpoint
// values, with the rules of oslo.messaging's RPCDispatcher, so that Go
// servers answer Python oslo.messaging clients as a Python server would.
//
// Reflection runs once, in [New]; a dispatch is a map lookup and a
// reflect call. The dispatcher does no I/O and no logging, and is safe for
// concurrent use.
//
// # Endpoints and eligible methods
//
// An endpoint is any value, usually a pointer to a struct, whose method set
// has eligible methods. A method is eligible when it
//
//   - is exported;
//   - takes context.Context first;
//   - optionally takes one more parameter, a struct, a pointer to a struct
//     or a map with string keys, decoded from the request's args object
//     (oslo's keyword arguments);
//   - returns error or (R, error) for any R.
//
// Other methods are ignored, except Target() target.Target, which gives
// the endpoint's Namespace, Version and LegacyNamespaces (oslo's endpoint
// target attribute). [Endpoint] options override it. A [Funcs] map is an
// endpoint without reflection; [Func] and [Proc] make its handlers from
// typed functions (func(ctx, A) (R, error) and func(ctx, A) error), whose
// arguments are decoded and checked as a method's, and which are called
// directly rather than through reflect.Value.Call (about half the cost of
// dispatching a small request: BenchmarkDispatchFunc against
// BenchmarkDispatch).
//
// # Arguments and results
//
// The request's args object (empty, absent or null args are {}) is decoded
// into a new value of the parameter type with the request's codec; a
// pointer parameter gets a freshly allocated struct. Unknown keys are
// ignored, and a method without a parameter ignores args. Arguments that do
// not fit fail the call with an [*ArgumentError] naming the method and the
// argument, which travels as Python's TypeError.
//
// A struct parameter field tagged rpc:"required" must be present and not
// null in args, or the call fails with an [*ArgumentError] ("missing
// required argument"). Only the struct's own (and promoted) fields are
// checked, not nested ones. The key is the field's json name, matched as
// encoding/json matches it (exactly, else ignoring case); a msgpack tag
// name is accepted too.
//
// With a serializer other than [serializer.NoOp] ([WithSerializer]), args
// are decoded generically, DeserializeEntity runs on each top-level value
// (as oslo runs it on each keyword argument), and the result is re-encoded
// and decoded into the parameter.
//
// A method returning (R, error) gives R as the result; one returning error
// gives nil. When the error is not nil the result is dropped.
//
// # Wire names
//
// A method's wire name is the snake_case form of its Go name ([WireName]):
// an underscore goes before an upper-case letter that follows a lower-case
// letter or a digit, and before an upper-case letter that follows an
// upper-case letter and precedes a lower-case one; the result is lower
// case. GetFilesystemStats is get_filesystem_stats, UpdateBackupID is
// update_backup_id, HTTPServer is http_server, GetV2Stats is get_v2_stats.
// [MethodName] overrides the name of one method when the rule does not give
// the Python name (MySQLStats gives my_sql_stats). A [Funcs] endpoint is
// keyed by wire name. A wire name must not be empty or start with an
// underscore: oslo's default access policy never dispatches such names, so
// New refuses them.
//
// # Matching
//
// Matching is oslo's, exactly. A request without a version asks for "1.0",
// and an endpoint without a version implements "1.0". Endpoints are tried
// in list order; an endpoint is skipped unless it accepts the request's
// namespace (its namespace or a legacy one; "" is the null namespace) and
// its version is compatible (same major, endpoint minor at least the
// requested one, see [target.Compatible]). The first such endpoint that has
// the method, and whose access policy ([Expose]) allows it, serves the
// call. If none does, the call fails with [*NoSuchMethodError] when some
// endpoint was compatible, and with [*UnsupportedVersionError] otherwise.
// The errors travel with oslo's exception classes and messages.
//
// # Example
//
//	type GuestManager struct{}
//
//	func (m *GuestManager) Target() target.Target { return target.Target{Version: "1.5"} }
//
//	type FSArgs struct {
//		FSPath string `json:"fs_path" rpc:"required"`
//	}
//
//	// wire name get_filesystem_stats
//	func (m *GuestManager) GetFilesystemStats(ctx context.Context, a FSArgs) (FSStats, error)
//
//	d, err := dispatcher.New([]any{&GuestManager{}}, dispatcher.Ping(true))
//	res, err := d.Dispatch(ctx, &dispatcher.Request{
//		Method:  "get_filesystem_stats",
//		Version: "1.2", // compatible with 1.5
//		Args:    serializer.Raw{Data: []byte(`{"fs_path": "/var/lib/mysql"}`)},
//	})
//
// A request for version 1.6 or 2.0 fails with UnsupportedVersion; a
// request for 1.2 of an unknown method fails with NoSuchMethod.
//
// # Errors and panics
//
// A handler's error is returned as is, and travels as the server's
// transport encodes it. Errors matching the endpoint's [ExpectedErrors]
// come back marked with [Expected] (oslo's ExpectedException). A panic in
// a handler or middleware becomes a [*PanicError] carrying the stack.
package dispatcher
