package rabbit

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"

	amqp "github.com/rabbitmq/amqp091-go"
)

// kombu's compression registry: the "compression" header names the codec
// of the body. kombu registers zlib.compress (RFC 1950, not gzip) under
// the gzip name; gzip-framed bodies are accepted too.
const (
	compressionHeader = "compression"
	contentGzip       = "application/x-gzip"
	contentBzip2      = "application/x-bz2"
)

// maxDecompressed bounds a decompressed body, against compression bombs.
const maxDecompressed = 512 << 20

// compress returns body compressed as kombu_compression=kind does, and the
// header value naming it.
func compress(kind string, body []byte) ([]byte, string, error) {
	switch kind {
	case "gzip":
		var b bytes.Buffer
		b.Grow(len(body)/2 + 64)
		w := zlib.NewWriter(&b)
		if _, err := w.Write(body); err != nil {
			return nil, "", err
		}
		if err := w.Close(); err != nil {
			return nil, "", err
		}
		return b.Bytes(), contentGzip, nil
	}
	return nil, "", fmt.Errorf("rabbit: unsupported compression %q", kind)
}

// decompress returns the body of a delivery, decompressed when its
// headers carry a compression header.
func decompress(headers amqp.Table, body []byte) ([]byte, error) {
	v, ok := headers[compressionHeader]
	if !ok || v == nil {
		return body, nil
	}
	kind, _ := v.(string)
	var r io.Reader
	switch kind {
	case contentGzip, "gzip", "zlib", "application/x-zlib":
		if len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				return nil, fmt.Errorf("rabbit: decompressing gzip body: %w", err)
			}
			r = zr
		} else {
			zr, err := zlib.NewReader(bytes.NewReader(body))
			if err != nil {
				return nil, fmt.Errorf("rabbit: decompressing zlib body: %w", err)
			}
			r = zr
		}
	case contentBzip2, "bz2", "bzip2":
		r = bzip2.NewReader(bytes.NewReader(body))
	default:
		return nil, fmt.Errorf("rabbit: unknown compression %v", v)
	}
	out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err != nil {
		return nil, fmt.Errorf("rabbit: decompressing %s body: %w", kind, err)
	}
	if len(out) > maxDecompressed {
		return nil, fmt.Errorf("rabbit: decompressed body larger than %d bytes", maxDecompressed)
	}
	return out, nil
}
