package zmq

import (
	"context"

	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/transport"
)

// Crash makes the servers of tr die as a killed process would: their
// sockets close at once, with no BYE, no REJECT and no unregistering (the
// registrations stay in the matchmaker until they expire, or until tr is
// closed). Only the client side of tr keeps working.
func Crash(tr *transport.Transport) {
	c := engine.Of(tr).Driver().(*conn)
	c.mu.Lock()
	ls := make([]*listener, 0, len(c.listeners))
	for l := range c.listeners {
		ls = append(ls, l)
	}
	scs := make([]*serverConn, 0, len(c.sconns))
	for sc := range c.sconns {
		scs = append(scs, sc)
	}
	c.mu.Unlock()
	for _, l := range ls {
		l.ln.Close()
	}
	for _, sc := range scs {
		sc.close()
	}
}

// Lookup asks tr's matchmaker for the addresses of k.
func Lookup(tr *transport.Transport, k Key) ([]string, error) {
	return engine.Of(tr).Driver().(*conn).mm.Lookup(context.Background(), k)
}

// Attacks are the driver's own hostile inputs for drivertest.
var Attacks = attacks
