// Package msgpack is a MessagePack codec for transports whose peers are all
// Go programs of this library (oslo.messaging's Python peers read only
// JSON):
//
//	tr, err := transport.Open(ctx, url, transport.WithCodec(msgpack.Codec{}))
//
// Struct fields are named by their json tags, so the same types serve both
// codecs. Maps decode to map[string]any, integers to int64 or uint64.
package msgpack

import (
	"bytes"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// ContentType is the MIME type of the codec, kombu's name for msgpack.
const ContentType = "application/x-msgpack"

// Codec is the MessagePack codec. The zero value is ready to use.
type Codec struct{}

// Name returns ContentType.
func (Codec) Name() string { return ContentType }

var encoders = sync.Pool{New: func() any {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetCustomStructTag("json")
	enc.UseCompactInts(true)
	return &encoder{buf: &buf, enc: enc}
}}

type encoder struct {
	buf *bytes.Buffer
	enc *msgpack.Encoder
}

// Marshal encodes v.
func (Codec) Marshal(v any) ([]byte, error) {
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.Clone(e.buf.Bytes()), nil
}

// IsNull reports whether data is MessagePack's nil (serializer.NullChecker).
func (Codec) IsNull(data []byte) bool { return len(data) == 1 && data[0] == 0xc0 }

// Unmarshal decodes data into v.
func (Codec) Unmarshal(data []byte, v any) error {
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	dec.SetCustomStructTag("json")
	dec.UseLooseInterfaceDecoding(true) // int64, uint64, float64 in interface values
	return dec.Decode(v)
}
