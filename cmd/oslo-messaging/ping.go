package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// pingMethod is oslo's ping method (rpc_ping_enabled, dispatcher.Ping), in
// the null namespace at version 1.0; it answers "pong".
const pingMethod = "oslo_rpc_server_ping"

const pingHelp = `Servers answer only when ping is enabled: [DEFAULT] rpc_ping_enabled = true for Python
services (oslo.messaging 13+) and for Go servers opened with conf.ServerOptions(), or
server.DispatchOptions(dispatcher.Ping(true)). A server that answers with NoSuchMethod or
UnsupportedVersion is running but has ping disabled (exit status 3).

Without --server or --all, one server of the topic answers (whichever takes the message).

--all finds every server of the topic: oslo's ping reply is "pong" and says nothing of who sent it,
and no broker-neutral way lists a topic's servers, so --all sends one ping call to the topic's fanout
(which every server consumes; oslo's client refuses fanout calls but its servers answer them) and
counts the answers that arrive within --wait, with their round-trip times. It cannot name the
servers: name them with --server (repeatable) to ping each one. Use --expect N to fail (exit 4)
when fewer than N answer. --all works on RabbitMQ, NATS and fake://, not on ZeroMQ.
`

// pingFlags are ping's flags.
type pingFlags struct {
	conn     connFlags
	topic    string
	servers  listFlag
	exchange string
	all      bool
	wait     time.Duration
	expect   int
	count    int
	interval time.Duration
	timeout  time.Duration
	json     bool
}

// pingAnswer is one answer, as --json prints it.
type pingAnswer struct {
	Topic  string `json:"topic"`
	Server string `json:"server,omitempty"` // "" when the server is not known
	RTT    string `json:"rtt"`
	RTTNs  int64  `json:"rtt_ns"`
	Error  string `json:"error,omitempty"`
}

func runPing(args []string, stdout, stderr io.Writer) int {
	var f pingFlags
	fs := newFlagSet("ping",
		"(--transport-url URL | --config-file F) --topic T [--server S]... [--all [--wait D] [--expect N]] [--count N] [--json]",
		"Pings RPC servers with oslo's "+pingMethod+" and prints each answer's round-trip time.\n\n"+pingHelp+"\n"+exitCodesHelp)
	f.conn.add(fs)
	fs.StringVar(&f.topic, "topic", "", "the servers' `topic` (required)")
	fs.Var(&f.servers, "server", "ping this `server` of the topic; repeat for several")
	fs.StringVar(&f.exchange, "exchange", "", "the `exchange` (default: the transport's control_exchange)")
	fs.BoolVar(&f.all, "all", false, "ping every server of the topic (through its fanout) and count the answers")
	fs.DurationVar(&f.wait, "wait", 2*time.Second, "with --all: how long to collect answers")
	fs.IntVar(&f.expect, "expect", 0, "with --all: exit 4 unless at least `N` servers answer")
	fs.IntVar(&f.count, "count", 1, "pings to send to each server (not with --all)")
	fs.DurationVar(&f.interval, "interval", time.Second, "time between pings with --count")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long to wait for each answer")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per answer")
	if code := parse(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if err := f.check(); err != nil {
		return usageError(stderr, fs.Name(), err.Error())
	}
	ctx, stop := interruptible()
	defer stop()
	tr, _, err := f.conn.open(ctx, stderr, false)
	if err != nil {
		return report(stderr, fs.Name(), err, f.conn.verbose)
	}
	defer tr.Close()
	out := &pingOutput{w: stdout, json: f.json}
	if f.all {
		out.all = fmt.Sprintf("of %s answered within %v", f.topic, f.wait)
	}
	if f.all {
		err = f.pingAll(ctx, tr, out, stderr)
	} else {
		err = f.pingEach(ctx, tr, out)
	}
	out.summary()
	if err != nil {
		if errors.Is(err, dispatcher.ErrNoSuchMethod) || errors.Is(err, dispatcher.ErrUnsupportedVersion) {
			err = fmt.Errorf("%w (the server runs, but ping is disabled: set [DEFAULT] rpc_ping_enabled = true)", err)
			fail(stderr, fs.Name(), err)
			return exitRemoteError
		}
		return report(stderr, fs.Name(), err, f.conn.verbose)
	}
	return exitOK
}

func (f *pingFlags) check() error {
	if err := f.conn.check(); err != nil {
		return err
	}
	switch {
	case f.topic == "":
		return errors.New("--topic is required")
	case f.all && len(f.servers) > 0:
		return errors.New("--all and --server exclude each other")
	case f.all && f.count != 1:
		return errors.New("--count does not go with --all")
	case f.wait <= 0 || f.timeout <= 0:
		return errors.New("--wait and --timeout must be positive")
	case f.count < 1 || f.interval < 0 || f.expect < 0:
		return errors.New("--count must be at least 1, --interval and --expect not negative")
	}
	return nil
}

// pingEach pings the named servers (or the topic) count times and
// returns the first failure.
func (f *pingFlags) pingEach(ctx context.Context, tr *transport.Transport, out *pingOutput) error {
	c, err := client.New(tr, target.Target{Topic: f.topic, Exchange: f.exchange}, client.Timeout(f.timeout))
	if err != nil {
		return usagef("%v", err)
	}
	servers := []string(f.servers)
	if len(servers) == 0 {
		servers = []string{""}
	}
	var first error
	pause := time.NewTimer(0)
	defer pause.Stop()
	for i := range f.count {
		if i > 0 && f.interval > 0 {
			pause.Reset(f.interval)
			select {
			case <-pause.C:
			case <-ctx.Done():
				return first
			}
		}
		for _, s := range servers {
			t0 := time.Now()
			var pong string
			err := c.Prepare(client.Server(s)).Call(ctx, pingMethod, map[string]any{}, &pong)
			if err == nil && pong != "pong" {
				err = fmt.Errorf("%s answered %q, not \"pong\"", f.topic, pong)
			}
			out.answer(pingAnswer{Topic: f.topic, Server: s}, time.Since(t0), err)
			if err != nil && first == nil {
				first = err
			}
			if ctx.Err() != nil {
				return first
			}
		}
	}
	return first
}

// pingOutput prints answers and their summary.
type pingOutput struct {
	w      io.Writer
	json   bool
	rtts   []time.Duration
	failed int
	all    string // with --all: "of <topic> answered within <wait>"
}

func (o *pingOutput) answer(a pingAnswer, rtt time.Duration, err error) {
	a.RTT, a.RTTNs = rtt.Round(time.Microsecond).String(), rtt.Nanoseconds()
	who := a.Topic
	if a.Server != "" {
		who += "." + a.Server
	}
	if err != nil {
		o.failed++
		a.Error = oneLine(err.Error())
		if !o.json {
			fmt.Fprintf(o.w, "no pong from %s after %s: %s\n", who, a.RTT, a.Error)
		}
	} else {
		o.rtts = append(o.rtts, rtt)
		if !o.json {
			fmt.Fprintf(o.w, "pong from %s in %s\n", who, a.RTT)
		}
	}
	if o.json {
		fmt.Fprintf(o.w, `{"topic":%s,"server":%s,"rtt":%s,"rtt_ns":%d`, jsonString(a.Topic), jsonString(a.Server), jsonString(a.RTT), a.RTTNs)
		if a.Error != "" {
			fmt.Fprintf(o.w, `,"error":%s`, jsonString(a.Error))
		}
		fmt.Fprintln(o.w, "}")
	}
}

// summary prints, as ping(8) does, the count and the round-trip times.
func (o *pingOutput) summary() {
	switch {
	case o.json:
		return
	case o.all != "":
		fmt.Fprintf(o.w, "%d servers %s, %d with an error", len(o.rtts)+o.failed, o.all, o.failed)
	case len(o.rtts)+o.failed < 2:
		return
	default:
		fmt.Fprintf(o.w, "%d answered, %d failed", len(o.rtts), o.failed)
	}
	if len(o.rtts) > 0 {
		var sum time.Duration
		for _, d := range o.rtts {
			sum += d
		}
		r := func(d time.Duration) string { return d.Round(time.Microsecond).String() }
		fmt.Fprintf(o.w, "; round trip min/avg/max %s/%s/%s", r(slices.Min(o.rtts)), r(sum/time.Duration(len(o.rtts))), r(slices.Max(o.rtts)))
	}
	fmt.Fprintln(o.w)
}
