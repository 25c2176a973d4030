package notify_test

import (
	"testing"

	"go.uber.org/goleak"

	_ "github.com/oslo-go/messaging/drivers/zmq" // TestMessagingDriverNeedsNotifications
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
