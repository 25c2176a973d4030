package serializer

import (
	"bytes"
	"encoding/json"

	"github.com/oslo-go/messaging/internal/pyjson"
)

// Codec encodes values to bytes and back. Name is the MIME type that
// travels with the message so the receiver can pick the same codec.
// Implementations must be safe for concurrent use.
type Codec interface {
	Name() string
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONContentType is the MIME type of the JSON codec, the default on every
// transport and the only one oslo.messaging peers understand.
const JSONContentType = "application/json"

// JSON is the default codec. Unmarshal accepts what Python's json module
// emits: NaN, Infinity and -Infinity (as float64), integers of any size
// (json.Number when the target is an interface, or a *big.Int field) and
// \u escapes. Marshal is encoding/json's.
type JSON struct{}

// Name returns "application/json".
func (JSON) Name() string { return JSONContentType }

// Marshal encodes v with encoding/json.
func (JSON) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes data into v; numbers stored in interface values become
// json.Number so that big integers keep every digit.
func (JSON) Unmarshal(data []byte, v any) error { return pyjson.Unmarshal(data, v) }

// Raw is an encoded value that has not been decoded yet: the arguments of
// a received request or the result of a call. Decode binds it to a Go
// value.
type Raw struct {
	Data  []byte
	Codec Codec // nil means JSON
}

// Decode decodes the value into v (a pointer).
func (r Raw) Decode(v any) error {
	if r.Codec == nil {
		return pyjson.Unmarshal(r.Data, v)
	}
	return r.Codec.Unmarshal(r.Data, v)
}

// NullChecker is an optional interface of codecs: IsNull reports whether
// data is the codec's encoding of null. Raw.IsNull uses it, as
// database/sql probes the optional interfaces of drivers; for codecs
// without it, it compares data with the codec's encoding of nil.
type NullChecker interface {
	IsNull(data []byte) bool
}

// IsNull reports whether the value is absent or null.
func (r Raw) IsNull() bool {
	if len(r.Data) == 0 {
		return true
	}
	switch c := r.Codec.(type) {
	case nil, JSON:
		return string(r.Data) == "null"
	case NullChecker:
		return c.IsNull(r.Data)
	}
	if r.Codec.Name() == JSONContentType {
		return string(r.Data) == "null"
	}
	null, err := r.Codec.Marshal(nil)
	return err == nil && bytes.Equal(r.Data, null)
}

// CodecOf returns c, or JSON when c is nil.
func CodecOf(c Codec) Codec {
	if c == nil {
		return JSON{}
	}
	return c
}
