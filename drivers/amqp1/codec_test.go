package amqp1

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// pythonWire holds messages Python oslo.messaging 14.0.3's amqp1 driver
// sent, as the test intermediary received them (testdata/python_wire.json).
type pythonMessage struct {
	Address       string  `json:"address"`
	Body          *string `json:"body"`
	ID            string  `json:"id"`
	ReplyTo       string  `json:"reply_to"`
	CorrelationID string  `json:"correlation_id"`
	Settled       bool    `json:"settled"`
	TTL           float64 `json:"ttl"`
}

func pythonWire(t testing.TB) map[string]pythonMessage {
	t.Helper()
	data, err := os.ReadFile("testdata/python_wire.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]pythonMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// capture returns the body of a capture of the rabbit driver (the core's
// envelope, byte for byte what Python's rabbit driver sends).
func capture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "oslo-wire", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return []byte(c.Body)
}

// dict opens a core body (the envelope, or a bare dict) into a map.
func dict(t testing.TB, body []byte) map[string]any {
	t.Helper()
	inner, _, err := openEnvelope(body)
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	var m map[string]any
	if err := json.Unmarshal(inner, &m); err != nil {
		t.Fatalf("%s: %v", inner, err)
	}
	return m
}

func TestEncodeRequestMatchesPython(t *testing.T) {
	// The core's body of a monitored call, as Python's rabbit driver
	// writes it, becomes exactly what Python's amqp1 driver writes.
	got, err := encodeRequest(capture(t, "request_call_slow"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"request": {"method": "slow", "args": {}, "namespace": "vec_ns", "version": "1.0"}, ` +
		`"context": {"user": "u1", "project_id": "p1", "request_id": "req-4f5c", "is_admin": false}, "call_monitor_timeout": 2}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// A cast: no call_monitor_timeout.
	got, err = encodeRequest(capture(t, "request_cast"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(got), "call_monitor_timeout") || strings.Contains(string(got), "_unique_id") || !strings.HasPrefix(string(got), `{"request": {"method": `) {
		t.Fatalf("cast: %s", got)
	}
	// Python's own layout for a call, for comparison of the shape.
	py := pythonWire(t)["request_call"]
	if keysOf(t, *py.Body) != "request,context" {
		t.Fatalf("Python call body %s", *py.Body)
	}
}

func keysOf(t testing.TB, s string) string {
	t.Helper()
	var ks []string
	dec := json.NewDecoder(strings.NewReader(s))
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		ks = append(ks, k.(string))
		var v json.RawMessage
		dec.Decode(&v)
	}
	return strings.Join(ks, ",")
}

func TestDecodeRequestFromPython(t *testing.T) {
	py := pythonWire(t)
	for _, tt := range []struct {
		name    string
		monitor string
	}{{"request_call", ""}, {"request_call_monitor", "2"}, {"request_fanout_cast", ""}} {
		t.Run(tt.name, func(t *testing.T) {
			m := py[tt.name]
			in, err := decodeRequest([]byte(*m.Body), m.ID, m.ReplyTo)
			if err != nil {
				t.Fatal(err)
			}
			d := dict(t, in.body)
			var req struct {
				Request map[string]any `json:"request"`
				Context map[string]any `json:"context"`
			}
			json.Unmarshal([]byte(*m.Body), &req)
			for k, v := range req.Request {
				if !reflect.DeepEqual(d[k], v) {
					t.Errorf("%s = %v, want %v", k, d[k], v)
				}
			}
			for k, v := range req.Context {
				if !reflect.DeepEqual(d["_context_"+k], v) {
					t.Errorf("_context_%s = %v, want %v", k, d["_context_"+k], v)
				}
			}
			if m.ID != "" {
				if d["_msg_id"] != m.ID || d["_reply_q"] != m.ReplyTo || d["_unique_id"] != m.ID {
					t.Errorf("call members: %v", d)
				}
			} else if _, ok := d["_msg_id"]; ok {
				t.Errorf("cast with _msg_id: %v", d)
			}
			if tt.monitor != "" && (in.monitor.Seconds() != 2 || d["_timeout"] != 2.0) {
				t.Errorf("monitor %v, _timeout %v", in.monitor, d["_timeout"])
			}
		})
	}
}

func TestReplies(t *testing.T) {
	py := pythonWire(t)
	// Python's failure reply becomes the core's failure reply.
	f := py["reply_failure"]
	body, err := decodeReply([]byte(*f.Body), f.CorrelationID)
	if err != nil {
		t.Fatal(err)
	}
	d := dict(t, body)
	var failure map[string]any
	if err := json.Unmarshal([]byte(d["failure"].(string)), &failure); err != nil || failure["class"] != "ValueError" ||
		d["ending"] != true || d["_msg_id"] != f.CorrelationID || d["result"] != nil {
		t.Fatalf("failure reply: %v (%v)", d, err)
	}
	// A response.
	r := py["reply_response"]
	body, _ = decodeReply([]byte(*r.Body), r.CorrelationID)
	if d := dict(t, body); !reflect.DeepEqual(d["result"], map[string]any{"x": 1.0}) || d["failure"] != nil || d["ending"] != true {
		t.Fatalf("response: %v", d)
	}
	// A heartbeat: no body.
	if py["reply_heartbeat"].Body != nil {
		t.Fatal("Python's heartbeat has a body")
	}
	body, _ = decodeReply(nil, "abc")
	if d := dict(t, body); d["ending"] != false || d["result"] != nil || d["failure"] != nil || d["_msg_id"] != "abc" {
		t.Fatalf("heartbeat: %v", d)
	}

	// The core's replies become Python's.
	for _, tt := range []struct {
		capture, want string
	}{
		{"reply_call_monitor_heartbeat", ""},
		{"reply_result_str", `{"response": `},
		{"reply_result_dict", `{"response": {`},
		{"reply_failure_ValueError", `{"failure": "{\"class\": \"ValueError\"`},
	} {
		got, err := encodeReply(capture(t, tt.capture), false)
		if err != nil {
			t.Fatal(err)
		}
		if tt.want == "" && got != nil || tt.want != "" && !strings.HasPrefix(string(got), tt.want) {
			t.Errorf("%s: %s, want %s...", tt.capture, got, tt.want)
		}
	}
	if got, _ := encodeReply(capture(t, "reply_result_str"), true); got != nil {
		t.Errorf("heartbeat flag: %s", got)
	}
}

func TestNotifications(t *testing.T) {
	// The core's messagingv2 notification (Python's rabbit capture) becomes
	// Python's amqp1 notification: envelope without _context_ and
	// _unique_id, context beside it.
	got, err := encodeNotification(capture(t, "notification_info"))
	if err != nil {
		t.Fatal(err)
	}
	var n struct {
		Request map[string]string `json:"request"`
		Context map[string]any    `json:"context"`
	}
	if err := json.Unmarshal(got, &n); err != nil || n.Request["oslo.version"] != "2.0" {
		t.Fatalf("%s: %v", got, err)
	}
	if keysOf(t, n.Request["oslo.message"]) != "message_id,publisher_id,event_type,priority,payload,timestamp" ||
		!reflect.DeepEqual(n.Context, map[string]any{"user": "u1", "project_id": "p1", "request_id": "req-4f5c", "is_admin": false}) {
		t.Fatalf("notification: %s", got)
	}
	if keysOf(t, string(got)) != "request,context" {
		t.Fatalf("members: %s", got)
	}
	// Python's notification becomes the core's envelope with _context_.
	py := pythonWire(t)["notification"]
	body, err := decodeNotification([]byte(*py.Body))
	if err != nil {
		t.Fatal(err)
	}
	d := dict(t, body)
	if d["event_type"] != "e.x" || d["_context_user"] != "u" || d["priority"] != "INFO" {
		t.Fatalf("decoded: %v", d)
	}
	// A bare dict without context travels untouched both ways.
	raw := []byte(`{"n": 0}`)
	wire, _ := encodeNotification(raw)
	if string(wire) != `{"request": {"n": 0}, "context": {}}` {
		t.Fatalf("bare: %s", wire)
	}
	if back, _ := decodeNotification(wire); string(back) != string(raw) {
		t.Fatalf("bare back: %s", back)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, body := range []string{``, `[]`, `{"request": 1}`, `{"request": {}, "context": []}`, `{"context": {}}`, `{"request": {"oslo.version": "3.0", "oslo.message": "{}"}}`, `{"request": {`} {
		if _, err := decodeRequest([]byte(body), "id", "r"); err == nil {
			t.Errorf("decodeRequest(%q) succeeded", body)
		}
		if _, err := decodeNotification([]byte(body)); err == nil {
			t.Errorf("decodeNotification(%q) succeeded", body)
		}
	}
	if _, err := decodeRequest([]byte(`{"request": {}, "call_monitor_timeout": "x"}`), "id", "r"); err == nil {
		t.Error("bad call_monitor_timeout accepted")
	}
	for _, body := range []string{`x`, `{"failure": 3}`, `[1]`} {
		if _, err := decodeReply([]byte(body), "id"); err == nil {
			t.Errorf("decodeReply(%q) succeeded", body)
		}
	}
}

// FuzzDecode feeds arbitrary bodies to the three decoders: they fail or
// produce a body the core can open.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"request": {"method": "m", "args": {}}, "context": {"u": 1}, "call_monitor_timeout": 2}`))
	f.Add([]byte(`{"request": {"oslo.version": "2.0", "oslo.message": "{\"a\": 1}"}, "context": {"user": "u"}}`))
	f.Add([]byte(`{"response": {"x": [1, NaN]}}`))
	f.Add([]byte(`{"failure": "{\"class\": \"E\"}"}`))
	f.Fuzz(func(t *testing.T, wire []byte) {
		check := func(body []byte, err error) {
			if err != nil {
				return
			}
			inner, _, err := openEnvelope(body)
			if err != nil {
				t.Fatalf("decoded body %q does not open: %v", body, err)
			}
			if _, _, err := openEnvelope(inner); err != nil {
				t.Fatalf("decoded dict %q is not an object: %v", inner, err)
			}
		}
		in, err := decodeRequest(wire, "id", "reply")
		if err == nil {
			check(in.body, nil)
		}
		check(decodeNotification(wire))
		check(decodeReply(wire, "cid"))
	})
}

// FuzzEncode feeds arbitrary core bodies to the encoders: they fail or
// produce a JSON object that decodes again.
func FuzzEncode(f *testing.F) {
	f.Add([]byte(`{"oslo.version": "2.0", "oslo.message": "{\"method\": \"m\", \"args\": {}, \"_msg_id\": \"a\", \"_timeout\": 1.5, \"_context_u\": [1]}"}`))
	f.Add([]byte(`{"n": 0}`))
	f.Add([]byte(`{"oslo.version": "2.0", "oslo.message": "{\"result\": null, \"failure\": null, \"ending\": false}"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if wire, err := encodeRequest(body); err == nil {
			if _, err := decodeRequest(wire, "id", "reply"); err != nil {
				t.Fatalf("encodeRequest(%q) = %q, which does not decode: %v", body, wire, err)
			}
		}
		if wire, err := encodeNotification(body); err == nil {
			if _, err := decodeNotification(wire); err != nil {
				t.Fatalf("encodeNotification(%q) = %q, which does not decode: %v", body, wire, err)
			}
		}
		if wire, err := encodeReply(body, false); err == nil {
			if _, err := decodeReply(wire, "cid"); err != nil {
				t.Fatalf("encodeReply(%q) = %q, which does not decode: %v", body, wire, err)
			}
		}
	})
}
