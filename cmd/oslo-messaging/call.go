package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
)

// rpcFlags are the flags of call and cast.
type rpcFlags struct {
	conn    connFlags
	tgt     target.Target
	timeout time.Duration
	monitor time.Duration
	args    string
	context string
	compact bool

	method string
	kwargs map[string]any
	reqCtx serializer.RequestContext
}

const rpcArgs = "(--transport-url URL | --config-file F [--config-dir D]) --topic T [--server S] [--namespace N] [--version V]\n" +
	"       [--exchange E] [--timeout D] [--args '{...}'] [--context '{...}'] METHOD [key=value ...]"

const rpcHelp = `Arguments are oslo's keyword arguments: key=value, the value read as JSON when it is JSON
(n=3, ok=true, ids='[1,2]', spec='{"a": 1}'), else as a string (name=web-1); or all at once with
--args '{"key": value}' (key=value arguments add to it). --context sets the request context (oslo's
ctxt dict), for example '{"request_id": "req-1", "project_id": "p"}'.

With --config-file the transport is the file's [DEFAULT] transport_url (--transport-url replaces the
URL only), with its control_exchange and driver options; the default timeout is its
rpc_response_timeout. Without one, control_exchange is "openstack" unless the URL's query sets it
(?control_exchange=nova) or --exchange names the exchange: a Python service that calls
set_transport_defaults('nova') listens on the exchange "nova".
`

func newRPCFlagSet(cmd, summary string, f *rpcFlags) *flag.FlagSet {
	fs := newFlagSet(cmd, rpcArgs, summary+"\n\n"+rpcHelp+"\n"+exitCodesHelp)
	f.conn.add(fs)
	fs.StringVar(&f.tgt.Topic, "topic", "", "the target's `topic` (required)")
	fs.StringVar(&f.tgt.Server, "server", "", "send to this `server` of the topic only")
	fs.StringVar(&f.tgt.Namespace, "namespace", "", "the target's `namespace` (default: the null namespace)")
	fs.StringVar(&f.tgt.Version, "version", "", "the API `version` requested, X.Y (default 1.0)")
	fs.StringVar(&f.tgt.Exchange, "exchange", "", "the `exchange` (default: the transport's control_exchange)")
	fs.DurationVar(&f.timeout, "timeout", 0, "how long to wait for the reply, or for the broker to take a cast (default: rpc_response_timeout, 60s)")
	fs.StringVar(&f.args, "args", "", "keyword arguments as a JSON `object`")
	fs.StringVar(&f.context, "context", "", "the request context as a JSON `object`")
	return fs
}

// parseRPC parses the command line of call or cast.
func parseRPC(fs *flag.FlagSet, f *rpcFlags, args []string, stdout, stderr io.Writer) int {
	positional, code := parseMixed(fs, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if err := f.check(positional); err != nil {
		return usageError(stderr, fs.Name(), err.Error())
	}
	return -1
}

func (f *rpcFlags) check(positional []string) error {
	if err := f.conn.check(); err != nil {
		return err
	}
	if f.tgt.Topic == "" {
		return errors.New("--topic is required")
	}
	if f.timeout < 0 || f.monitor < 0 {
		return errors.New("--timeout and --monitor must not be negative")
	}
	if len(positional) == 0 {
		return errors.New("the METHOD to call is required")
	}
	f.method = positional[0]
	f.kwargs = map[string]any{}
	if f.args != "" {
		m, err := jsonObject("--args", f.args)
		if err != nil {
			return err
		}
		f.kwargs = m
	}
	for _, kv := range positional[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("argument %q: want key=value", kv)
		}
		f.kwargs[k] = argValue(v)
	}
	if f.context != "" {
		m, err := jsonObject("--context", f.context)
		if err != nil {
			return err
		}
		f.reqCtx = m
	}
	return nil
}

// jsonObject decodes a JSON object given with flag.
func jsonObject(flag, s string) (map[string]any, error) {
	v, err := decodeJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %v", flag, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a JSON object, not %s", flag, s)
	}
	return m, nil
}

// runCall is "call": one call, its result printed as JSON.
func runCall(args []string, stdout, stderr io.Writer) int {
	var f rpcFlags
	fs := newRPCFlagSet("call", "Calls METHOD on one server of the topic and prints its result as JSON.", &f)
	fs.DurationVar(&f.monitor, "monitor", 0, "call monitoring: fail when the server sends no heartbeat for this long (oslo's call_monitor_timeout)")
	fs.BoolVar(&f.compact, "json", false, "print the result as compact JSON on one line (default: indented)")
	if code := parseRPC(fs, &f, args, stdout, stderr); code >= 0 {
		return code
	}
	var result any
	err := f.send(func(c *client.Client, ctx context.Context) error {
		return c.Call(ctx, f.method, f.kwargs, &result)
	}, stderr)
	if err != nil {
		return report(stderr, fs.Name(), err, f.conn.verbose)
	}
	fmt.Fprintf(stdout, "%s\n", appendJSON(nil, result, !f.compact, ""))
	return exitOK
}

// runCast is "cast": one cast, nothing printed.
func runCast(args []string, stdout, stderr io.Writer) int {
	var f rpcFlags
	fs := newRPCFlagSet("cast", "Casts METHOD to one server of the topic (or, with --fanout, to all); prints nothing.\n"+
		"It returns once the broker has taken the message: nothing tells whether a server handled it.", &f)
	fs.BoolVar(&f.tgt.Fanout, "fanout", false, "send to every server of the topic")
	if code := parseRPC(fs, &f, args, stdout, stderr); code >= 0 {
		return code
	}
	err := f.send(func(c *client.Client, ctx context.Context) error {
		return c.Cast(ctx, f.method, f.kwargs)
	}, stderr)
	if err != nil {
		return report(stderr, fs.Name(), err, f.conn.verbose)
	}
	return exitOK
}

// send opens the transport and a client for the target and runs do.
func (f *rpcFlags) send(do func(*client.Client, context.Context) error, stderr io.Writer) error {
	ctx, stop := interruptible()
	defer stop()
	tr, conf, err := f.conn.open(ctx, stderr, false)
	if err != nil {
		return err
	}
	defer tr.Close()
	var opts []client.Option
	if conf != nil {
		opts = conf.ClientOptions()
	}
	if f.timeout > 0 {
		opts = append(opts, client.Timeout(f.timeout))
	}
	if f.monitor > 0 {
		opts = append(opts, client.CallMonitorTimeout(f.monitor))
	}
	c, err := client.New(tr, f.tgt, opts...)
	if err != nil {
		return usagef("%v", err)
	}
	if f.reqCtx != nil {
		ctx = serializer.WithRequestContext(ctx, f.reqCtx)
	}
	return do(c, ctx)
}
