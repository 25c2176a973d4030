package pyjson

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// benchBody is a typical oslo.messaging RPC request (the inner message of
// the "oslo.message" envelope) as sent by a Python service: ~600 bytes, 12
// keys, context fields flattened with the _context_ prefix.
const benchBody = `{"method": "report_state", "args": {"context": {}, "agent_state": {"agent_state": {"binary": "neutron-openvswitch-agent", "host": "compute-01", "topic": "N/A", "configurations": {"tunnel_types": ["vxlan"], "devices": 12}}}, "time": "2024-05-01T10:22:33.123456", "use_call": true}, "namespace": null, "version": "1.1", "_msg_id": "c3f5f0d6b2a44f4b9c6f5f2b1f0e8a7d", "_reply_q": "reply_5b8e0f2c4d3a4e6f8a9b0c1d2e3f4a5b", "_unique_id": "0e1f2a3b4c5d6e7f8091a2b3c4d5e6f7", "_timeout": null, "_context_request_id": "req-8e2b6f4a-1c3d-4e5f-9a8b-7c6d5e4f3a2b", "_context_user_id": null, "_context_project_id": null, "_context_is_admin": true}`

type benchMessage struct {
	Method    string         `json:"method"`
	Args      map[string]any `json:"args"`
	Namespace *string        `json:"namespace"`
	Version   string         `json:"version"`
	MsgID     string         `json:"_msg_id"`
	ReplyQ    string         `json:"_reply_q"`
	UniqueID  string         `json:"_unique_id"`
	Timeout   *float64       `json:"_timeout"`
	RequestID string         `json:"_context_request_id"`
	IsAdmin   bool           `json:"_context_is_admin"`
	ReadOnly  bool           `json:"_context_read_only"`
	Timestamp string         `json:"_context_timestamp"`
}

type benchMessageTyped struct {
	Method string `json:"method"`
	Args   struct {
		AgentState struct {
			AgentState struct {
				Binary         string `json:"binary"`
				Host           string `json:"host"`
				Topic          string `json:"topic"`
				Configurations struct {
					TunnelTypes []string `json:"tunnel_types"`
					Devices     int      `json:"devices"`
				} `json:"configurations"`
			} `json:"agent_state"`
		} `json:"agent_state"`
		Time    string `json:"time"`
		UseCall bool   `json:"use_call"`
	} `json:"args"`
	Namespace *string  `json:"namespace"`
	Version   string   `json:"version"`
	MsgID     string   `json:"_msg_id"`
	ReplyQ    string   `json:"_reply_q"`
	UniqueID  string   `json:"_unique_id"`
	Timeout   *float64 `json:"_timeout"`
	RequestID string   `json:"_context_request_id"`
	IsAdmin   bool     `json:"_context_is_admin"`
	ReadOnly  bool     `json:"_context_read_only"`
	Timestamp string   `json:"_context_timestamp"`
}

func BenchmarkFields(b *testing.B) {
	data := []byte(benchBody)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		err := Fields(data, func(string, []byte) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"ascii", "req-8e2b6f4a-1c3d-4e5f-9a8b-7c6d5e4f3a2b neutron-openvswitch-agent compute-01"},
		{"escapes", "line one\nline \"two\"\tand\\three\n"},
		{"utf8", strings.Repeat("héllo wörld ", 8)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.SetBytes(int64(len(bc.s)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendString(buf[:0], bc.s)
			}
		})
	}
}

func BenchmarkUnmarshalStruct(b *testing.B) {
	data := []byte(benchBody)
	b.Run("interface-fields", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var m benchMessage
			if err := Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("typed", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var m benchMessageTyped
			if err := Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("typed-zero", func(b *testing.B) { // UnmarshalZero: one pass
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var m benchMessageTyped
			if err := UnmarshalZero(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("python-tokens", func(b *testing.B) {
		py := []byte(strings.Replace(benchBody, `"devices": 12`, `"devices": NaN`, 1))
		b.SetBytes(int64(len(py)))
		b.ReportAllocs()
		for b.Loop() {
			var m benchMessage
			if err := Unmarshal(py, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	// References: what the fast path is built from.
	b.Run("std-decoder-usenumber", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var m benchMessage
			d := json.NewDecoder(bytes.NewReader(data))
			d.UseNumber()
			if err := d.Decode(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("std-unmarshal-typed", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var m benchMessageTyped
			if err := json.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkUnmarshalMap(b *testing.B) {
	data := []byte(benchBody)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data := []byte(benchBody)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnquoteString(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"plain", `"req-8e2b6f4a-1c3d-4e5f-9a8b-7c6d5e4f3a2b"`},
		{"escaped", `"caf\u00e9 \ud83d\ude00 line\nbreak"`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			raw := []byte(bc.s)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := UnquoteString(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkValidate(b *testing.B) {
	data := []byte(benchBody)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := validate(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshalScalar: a call's result as a number or a string.
func BenchmarkUnmarshalScalar(b *testing.B) {
	b.Run("int64", func(b *testing.B) {
		data := []byte(`1764770000123456789`)
		b.ReportAllocs()
		var n int64
		for b.Loop() {
			if err := Unmarshal(data, &n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("string", func(b *testing.B) {
		data := []byte(`"instance-0001 is ACTIVE"`)
		b.ReportAllocs()
		var s string
		for b.Loop() {
			if err := Unmarshal(data, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
