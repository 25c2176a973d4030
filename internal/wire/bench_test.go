package wire

import (
	"testing"
	"time"

	"github.com/oslo-go/messaging/serializer"
)

// benchRequest is a typical call: struct arguments and a request context.
var benchRequest = &Request{
	Method: "get_filesystem_stats",
	Args: struct {
		FSPath string   `json:"fs_path"`
		Limit  int      `json:"limit"`
		Tags   []string `json:"tags"`
	}{"/var/lib/mysql", 10, []string{"a", "b"}},
	Version: "1.2",
	Context: map[string]any{"request_id": "req-8e2b6f4a-1c3d-4e5f-9a8b-7c6d5e4f3a2b", "user": "u", "is_admin": true,
		"project_name": "proj\u00e9", "roles": []any{"admin", "member"}},
}

var benchHeader = Header{MsgID: "c3f5f0d6b2a44f4b9c6f5f2b1f0e8a7d", ReplyTo: "reply_5b8e0f2c4d3a4e6f8a9b0c1d2e3f4a5b",
	UniqueID: "0e1f2a3b4c5d6e7f8091a2b3c4d5e6f7", Monitor: 30 * time.Second}

// The envelope's hot path: what every call encodes and decodes once.
func BenchmarkEncodeRequest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeRequest(serializer.JSON{}, benchRequest, benchHeader); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	body, err := EncodeRequest(serializer.JSON{}, benchRequest, benchHeader)
	benchDecode(b, body, err, func() error { _, err := DecodeRequest(body, ""); return err })
}

func BenchmarkEncodeReply(b *testing.B) {
	for _, c := range []struct {
		name   string
		result any
	}{
		{"map", map[string]any{"path": "/var/lib/mysql", "used": 12345, "tags": []string{"a"}}},
		{"int64", int64(1764770000123456789)},
		{"string", "instance-0001 is ACTIVE"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := EncodeReply(serializer.JSON{}, benchHeader.MsgID, c.result, nil, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeReply(b *testing.B) {
	body, err := EncodeReply(serializer.JSON{}, benchHeader.MsgID, map[string]any{"path": "/var/lib/mysql", "used": 12345}, nil, true)
	benchDecode(b, body, err, func() error { _, err := DecodeReply(body, ""); return err })
}

// benchDecode runs decode, which decodes body (made with error err).
func benchDecode(b *testing.B, body []byte, err error, decode func() error) {
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := decode(); err != nil {
			b.Fatal(err)
		}
	}
}
