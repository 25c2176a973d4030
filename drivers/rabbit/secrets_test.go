package rabbit

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// TestNoSecrets: with a wrong password (and a second, dead host), no
// error, log line or printed value of the driver shows the password.
func TestNoSecrets(t *testing.T) {
	needBroker(t)
	const secret = "Wr0ngS3cr3tPW"
	log, logs := recordLogs(t)
	url := fmt.Sprintf("rabbit://guest:%s@127.0.0.1:5672,admin:%s@127.0.0.1:%d/", secret, secret, deadPort(t))
	tr := openTransportURL(t, url, transport.WithLogger(log), ReconnectDelay(50*time.Millisecond), RetryInterval(100*time.Millisecond))
	// RabbitMQ answers a wrong password after about 3 s; from then on
	// operations fail at once with the refusal.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	errs = append(errs, tr.Ping(ctx))
	c, _ := client.New(tr, target.Target{Topic: uniqueName("secret")}, client.Timeout(time.Second))
	start := time.Now()
	errs = append(errs, c.Cast(ctx, "echo", faultArgs{}))
	if el := time.Since(start); el > 100*time.Millisecond || !strings.Contains(errs[1].Error(), "username or password not allowed") {
		t.Errorf("cast with refused credentials: %v after %v, want the refusal at once", errs[1], el)
	}
	errs = append(errs, c.Call(context.Background(), "echo", faultArgs{}, nil))
	for i, err := range errs {
		if err == nil {
			t.Fatalf("operation %d with a wrong password succeeded", i)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), secret) {
			t.Errorf("error %d shows the password: %v", i, err)
		}
	}
	if !strings.Contains(errs[0].Error(), "password") {
		t.Errorf("Ping does not say the credentials were refused: %v", errs[0])
	}
	u, _ := transport.ParseURL(url)
	printed := fmt.Sprintf("%v %+v %s", hostsFromURL(u), hostsFromURL(u), hostsFromURL(u)[0])
	if strings.Contains(printed, secret) {
		t.Errorf("printed hosts show the password: %s", printed)
	}
	if all := logs.all(); strings.Contains(all, secret) {
		t.Errorf("a log line shows the password")
	} else if !strings.Contains(all, "AMQP server is unreachable") {
		t.Errorf("the refused connection was not logged")
	}
}
