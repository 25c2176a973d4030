package wire

import (
	"reflect"
	"testing"

	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/serializer/msgpack"
)

func TestDecodeCapturedNotification(t *testing.T) {
	c := loadCaptures(t, "notification_")["notification_info"]
	n, err := DecodeNotification([]byte(c.Body), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	if n.MessageID != "cddce253-aee7-45ba-8458-774a7fc52cf7" || n.PublisherID != "trove-taskmanager.host1" ||
		n.EventType != "trove.instance.create.end" || n.Priority != "INFO" || n.Timestamp != "2026-11-21 18:39:08.747924" ||
		len(n.UniqueID) != 32 || !reflect.DeepEqual(n.Context, pyContext) {
		t.Fatalf("decoded %+v", n)
	}
	var payload map[string]string
	if err := n.Payload.Decode(&payload); err != nil || payload["instance_id"] != "i-1" || payload["state"] != "ACTIVE" {
		t.Fatalf("payload %v %v", payload, err)
	}
	// What we send has Python's keys in Python's order.
	body, err := EncodeNotification(serializer.JSON{}, &Notification{MessageID: "m", PublisherID: "p", EventType: "e", Priority: "INFO",
		Payload: map[string]any{"instance_id": "i-1"}, Timestamp: "t", Context: pyContext}, "u", true)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := innerKeys(t, body), innerKeys(t, []byte(c.Body)); !sameKeys(got, want) {
		t.Fatalf("keys %v, Python sends %v", got, want)
	}
}

func TestNotificationRoundTrip(t *testing.T) {
	for _, c := range []serializer.Codec{serializer.JSON{}, msgpack.Codec{}} {
		for _, v2 := range []bool{true, false} {
			n := &Notification{MessageID: "m", PublisherID: "p", EventType: "compute.start", Priority: "WARN",
				Payload: map[string]any{"k": "v"}, Timestamp: "2026-01-02 03:04:05", Context: map[string]any{"user": "u"}}
			body, err := EncodeNotification(c, n, "uid", v2)
			if err != nil {
				t.Fatal(err)
			}
			ct := ""
			if c.Name() != serializer.JSONContentType {
				ct = c.Name()
			}
			got, err := DecodeNotification(body, ct, c)
			if err != nil {
				t.Fatalf("%s v2=%v: %v", c.Name(), v2, err)
			}
			var payload map[string]any
			got.Payload.Decode(&payload)
			if got.EventType != "compute.start" || got.Priority != "WARN" || got.UniqueID != "uid" || got.Context["user"] != "u" || payload["k"] != "v" || got.Timestamp != n.Timestamp {
				t.Fatalf("%s v2=%v: %+v %v", c.Name(), v2, got, payload)
			}
		}
	}
	if _, err := DecodeNotification([]byte(`{"payload": {}}`), ""); err == nil {
		t.Fatal("notification without event type decoded")
	}
}

func FuzzDecodeNotification(f *testing.F) {
	for _, c := range loadCaptures(f, "") {
		f.Add([]byte(c.Body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := DecodeNotification(body, "")
		if err != nil {
			return
		}
		var v any
		_ = n.Payload.Decode(&v)
	})
}

func TestIsPriority(t *testing.T) {
	for _, p := range Priorities {
		if !IsPriority(p) {
			t.Errorf("IsPriority(%q) = false", p)
		}
	}
	for _, p := range []string{"INFO", "warning", "verbose", ""} {
		if IsPriority(p) {
			t.Errorf("IsPriority(%q) = true", p)
		}
	}
}
