// Package all registers every driver of this module, for programs that take
// any transport URL:
//
//	import _ "github.com/oslo-go/messaging/drivers/all"
package all

import (
	_ "github.com/oslo-go/messaging/drivers/amqp1"  // amqp:// (AMQP 1.0)
	_ "github.com/oslo-go/messaging/drivers/fake"   // fake://
	_ "github.com/oslo-go/messaging/drivers/nats"   // nats://
	_ "github.com/oslo-go/messaging/drivers/rabbit" // rabbit://, kombu://
	_ "github.com/oslo-go/messaging/drivers/zmq"    // zmq://, zmq+redis://
)
