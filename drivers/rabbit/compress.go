package rabbit

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/transport/driver"
)

// kombu's compression registry: the "compression" header names the codec
// of the body. kombu registers zlib.compress (RFC 1950, not gzip) under
// the gzip name; gzip-framed bodies are accepted too.
const (
	compressionHeader = "compression"
	contentGzip       = "application/x-gzip"
	contentBzip2      = "application/x-bz2"
)

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

// errNoBudget reports a compressed body that found no room in the
// decompression budget in time.
var errNoBudget = errors.New("rabbit: decompress_budget exhausted")

// inflater decompresses received bodies, bounding each to limit bytes and
// all the bodies it hands out and that are still in memory to its budget.
// A body is decompressed twice: once to learn its size without keeping
// anything (a compression bomb costs time, not memory), then into a buffer
// of exactly that size, once the budget has room for it.
type inflater struct {
	limit  int
	budget *budget
	wait   time.Duration // how long a body waits for room in the budget
}

func newInflater(o *options) *inflater {
	return &inflater{limit: o.maxMessageSize, budget: newBudget(o.decompressBudget), wait: budgetWait}
}

// budgetWait is how long a compressed body waits for room in a full
// budget before it is dropped.
const budgetWait = 5 * time.Second

// inflate returns the body of a delivery, decompressed when its headers
// carry a compression header. done ends the wait for room in the budget.
func (f *inflater) inflate(ctx context.Context, headers amqp.Table, body []byte, done <-chan struct{}) ([]byte, error) {
	v, ok := headers[compressionHeader]
	if !ok || v == nil {
		return body, nil
	}
	kind, _ := v.(string)
	open, err := decompressor(kind, body)
	if err != nil {
		return nil, err
	}
	r, err := open()
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(io.Discard, io.LimitReader(r, int64(f.limit)+1))
	if err != nil {
		return nil, fmt.Errorf("rabbit: decompressing %s body: %w", kind, err)
	}
	if n > int64(f.limit) {
		return nil, fmt.Errorf("rabbit: %s body of %d bytes decompresses to more than max_message_size (%d bytes): %w",
			kind, len(body), f.limit, driver.ErrMessageTooLarge)
	}
	if n == 0 {
		return []byte{}, nil
	}
	if !f.budget.acquire(ctx, n, f.wait, done) {
		return nil, fmt.Errorf("%w: no room for a body of %d bytes within %v (%d of %d bytes held)",
			errNoBudget, n, f.wait, f.budget.held(), f.budget.limit)
	}
	out := make([]byte, n)
	if r, err = open(); err == nil {
		_, err = io.ReadFull(r, out)
	}
	if err != nil {
		f.budget.release(n)
		return nil, fmt.Errorf("rabbit: decompressing %s body: %w", kind, err)
	}
	// The bytes go back to the budget when the body is garbage: the core
	// may keep views into it after the handler returned.
	runtime.AddCleanup(&out[0], f.budget.release, n)
	return out, nil
}

// decompressor returns a function that opens a reader of the decompressed
// body, for the codec the compression header names.
func decompressor(kind string, body []byte) (func() (io.Reader, error), error) {
	opener := func(name string, newReader func(io.Reader) (io.Reader, error)) func() (io.Reader, error) {
		return func() (io.Reader, error) {
			r, err := newReader(bytes.NewReader(body))
			if err != nil {
				return nil, fmt.Errorf("rabbit: decompressing %s body: %w", name, err)
			}
			return r, nil
		}
	}
	switch kind {
	case contentGzip, "gzip", "zlib", "application/x-zlib":
		if len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b {
			return opener("gzip", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }), nil
		}
		return opener("zlib", func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }), nil
	case contentBzip2, "bz2", "bzip2":
		return opener("bz2", func(r io.Reader) (io.Reader, error) { return bzip2.NewReader(r), nil }), nil
	}
	return nil, fmt.Errorf("rabbit: unknown compression %q", kind)
}

// budget bounds the bytes of decompressed bodies in memory at once.
type budget struct {
	limit int64

	mu    sync.Mutex
	used  int64
	freed chan struct{} // closed and replaced when bytes come back
}

func newBudget(limit int64) *budget { return &budget{limit: limit, freed: make(chan struct{})} }

func (b *budget) held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

func (b *budget) tryAcquire(n int64) (ok bool, freed <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n <= b.limit {
		b.used += n
		return true, nil
	}
	return false, b.freed
}

// acquire takes n bytes from the budget, waiting up to wait for bodies
// to be freed (forcing a collection: freed bodies only come back once
// collected), or until ctx ends or done is closed.
func (b *budget) acquire(ctx context.Context, n int64, wait time.Duration, done <-chan struct{}) bool {
	if n > b.limit {
		return false
	}
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	for {
		ok, freed := b.tryAcquire(n)
		if ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-done:
			return false
		default:
		}
		collect()
		poll := time.NewTimer(50 * time.Millisecond) // cleanups run after the collection
		select {
		case <-freed:
		case <-poll.C:
		case <-timeout.C:
			poll.Stop()
			ok, _ := b.tryAcquire(n)
			return ok
		case <-ctx.Done():
			poll.Stop()
			return false
		case <-done:
			poll.Stop()
			return false
		}
		poll.Stop()
	}
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// lastGC rate-limits the collections budgets force, process-wide.
var lastGC atomic.Int64

func collect() {
	now := time.Now().UnixNano()
	last := lastGC.Load()
	if now-last < int64(100*time.Millisecond) || !lastGC.CompareAndSwap(last, now) {
		return
	}
	runtime.GC()
}
