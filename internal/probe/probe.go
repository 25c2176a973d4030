// Package probe times the stages of one call's critical path, for
// measuring where a sequential call's latency goes (docs/BENCHMARKS.md).
//
// The library marks each stage (the request encoded, published, received
// by the server, and so on) with Mark. In a normal build Mark does nothing
// and costs nothing; built with the "probe" tag (go test -tags probe), it
// adds the time since the previous mark to the stage's total, and Report
// lists each stage's average. One call at a time: with concurrent calls
// the stages of different calls interleave and the figures mean nothing.
package probe

// Stage is a point on a call's critical path, in the order a call passes
// them.
type Stage uint8

// The stages, in the order a sequential call passes them. Each is timed
// from the stage before it.
const (
	ClientEncoded  Stage = iota // the engine has encoded the request and registered its waiter
	RequestPublish              // the driver hands the request to the broker client
	ClientSent                  // the driver's Send has returned
	ServerReceived              // the server's driver has the request from the broker client
	ServerTaken                 // the server's listener returns it (RabbitMQ: after its ack)
	HandlerCalled               // the dispatcher calls the endpoint's method
	ReplyStart                  // the server's driver is asked to send the reply
	ReplyPublish                // the driver hands the reply to the broker client
	ServerReplied               // the reply publish has returned
	ClientReply                 // the client's driver has the reply from the broker client
	ClientWoken                 // the calling goroutine has the reply
	CallReturned                // Client.Call returns, the result decoded
	numStages
)

var stageNames = [numStages]string{
	"request encoded", "request publish", "request sent", "server received",
	"server taken", "handler called", "reply start", "reply publish",
	"reply sent", "client has reply", "caller woken", "call returned",
}

// String names the stage.
func (s Stage) String() string {
	if s < numStages {
		return stageNames[s]
	}
	return "unknown stage"
}
