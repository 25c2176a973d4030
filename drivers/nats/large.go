package nats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/transport/driver"
)

// Messages larger than the server's max_payload (1 MiB by default) travel
// as a claim check: the NATS message holds the first chunk of the body and
// the header Oslo-Blob "<subject> <id> <size>"; the receiver requests the
// other chunks from the sender on <subject> (the sender's inbox followed by
// the token "~B") with the payload "<id> <offset>". The sender keeps the
// body until the last chunk is served (fanout bodies, which several
// servers fetch, until they expire), and at most the message's expiration
// or LargeMessageTTL.
//
// The header comes from whoever can publish on the subject, so a receiver
// trusts none of it: it fetches only from a "~B" subject, refuses a size
// over max_message_size before fetching anything, grows the body as chunks
// arrive (never from the announced size), gives each chunk chunkTimeout
// and the whole body blobFetchTimeout, and fetches beside the listener, at
// most maxFetches bodies at a time per Conn: a sender that never answers
// costs a fetch slot for two seconds, not a server's worker.

const (
	// blobFetchTimeout bounds fetching one large body.
	blobFetchTimeout = 30 * time.Second
	// chunkTimeout bounds the request for one chunk.
	chunkTimeout = 2 * time.Second
	// maxFetches bounds the large bodies a Conn fetches at once.
	maxFetches = 4
	// maxWaitingFetches bounds the claim checks one listener (or a Conn's
	// replies) holds while waiting for a fetch slot; more are dropped.
	maxWaitingFetches = 64
)

// fetchSlots bounds concurrent fetches.
type fetchSlots chan struct{}

func (f *fetchSlots) init(n int) { *f = make(chan struct{}, n) }

func (f fetchSlots) acquire(ctx context.Context) error {
	select {
	case f <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f fetchSlots) release() { <-f }

type blob struct {
	data   []byte
	fanout bool
	timer  *time.Timer
}

type blobStore struct {
	mu    sync.Mutex
	blobs map[string]*blob
}

func (s *blobStore) init() { s.blobs = map[string]*blob{} }

func (s *blobStore) put(data []byte, fanout bool, ttl time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Random ids: another client cannot ask for a body it was not sent.
	id := ids.Hex()
	b := &blob{data: bytes.Clone(data), fanout: fanout}
	b.timer = time.AfterFunc(ttl, func() { s.remove(id) })
	s.blobs[id] = b
	return id
}

func (s *blobStore) remove(id string) {
	s.mu.Lock()
	if b := s.blobs[id]; b != nil {
		b.timer.Stop()
		delete(s.blobs, id)
	}
	s.mu.Unlock()
}

// chunk returns data[off:off+n] of blob id, removing the blob once its
// last chunk is served (unless it is a fanout body).
func (s *blobStore) chunk(id string, off, n int) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.blobs[id]
	if b == nil || off < 0 || off >= len(b.data) {
		return nil, false
	}
	end := min(off+n, len(b.data))
	if end == len(b.data) && !b.fanout {
		b.timer.Stop()
		delete(s.blobs, id)
	}
	return b.data[off:end], true
}

func (s *blobStore) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, b := range s.blobs {
		b.timer.Stop()
		delete(s.blobs, id)
	}
}

// claimCheck turns msg, whose body m.Body is larger than the server's
// max_payload, into a claim check: the sender keeps the body for the
// receiver to fetch, msg carries its first chunk. It returns the body's id.
func (c *conn) claimCheck(msg *natsgo.Msg, m *driver.Message, fanout bool) (string, error) {
	in, err := c.ensureInbox()
	if err != nil {
		return "", err
	}
	ttl := c.cfg.largeTTL
	if m.Expiration > 0 {
		ttl = m.Expiration + 5*time.Second
	}
	id := c.blobs.put(m.Body, fanout, ttl)
	if msg.Header == nil {
		msg.Header = natsgo.Header{}
	}
	msg.Header[hdrBlob] = []string{in.prefix + "." + blobToken + " " + id + " " + strconv.Itoa(len(m.Body))}
	msg.Data = m.Body[:c.maxBody.Load()]
	c.log.Debug("nats: sending a large message as a claim check", "subject", msg.Subject, "size", len(m.Body), "chunk", len(msg.Data))
	return id, nil
}

// serveBlob answers a chunk request "<id> <offset>".
func (c *conn) serveBlob(m *natsgo.Msg) {
	if m.Reply == "" {
		return
	}
	id, offs, _ := strings.Cut(string(m.Data), " ")
	off, err := strconv.Atoi(offs)
	var data []byte
	ok := err == nil
	if ok {
		data, ok = c.blobs.chunk(id, off, int(c.maxBody.Load()))
	}
	resp := &natsgo.Msg{Subject: m.Reply, Data: data}
	if !ok {
		resp.Header = natsgo.Header{hdrBlobError: []string{"no such message body or offset (expired?)"}}
	}
	if err := c.nc.PublishMsg(resp); err != nil {
		c.log.Debug("nats: answering a chunk request", "error", c.secrets.scrub(err))
	}
}

// blobRef is a parsed Oslo-Blob header.
type blobRef struct {
	subject, id string
	size        int
}

// parseBlobRef checks the Oslo-Blob header of m before anything is
// fetched.
func (c *conn) parseBlobRef(m *natsgo.Msg) (blobRef, error) {
	h := m.Header.Get(hdrBlob)
	f := strings.Fields(h)
	if len(f) != 3 {
		return blobRef{}, fmt.Errorf("nats: malformed %s header %.100q", hdrBlob, h)
	}
	ref := blobRef{subject: f[0], id: f[1]}
	if !strings.HasSuffix(ref.subject, "."+blobToken) || strings.ContainsAny(ref.subject, "*>") {
		return blobRef{}, fmt.Errorf("nats: %s header names %.100q, not a chunk subject", hdrBlob, ref.subject)
	}
	size, err := strconv.Atoi(f[2])
	if err != nil || size < len(m.Data) || size <= 0 {
		return blobRef{}, fmt.Errorf("nats: bad size in %s header %.100q", hdrBlob, h)
	}
	if size > c.cfg.maxMessageSize {
		return blobRef{}, fmt.Errorf("nats: large message of %d bytes is over max_message_size (%d): %w", size, c.cfg.maxMessageSize, driver.ErrMessageTooLarge)
	}
	ref.size = size
	return ref, nil
}

// fetchBody reassembles the body of a claim-check message, a chunk at a
// time, within ctx. It takes a fetch slot for the time of the fetch.
func (c *conn) fetchBody(ctx context.Context, m *natsgo.Msg, ref blobRef) ([]byte, error) {
	if err := c.fetches.acquire(ctx); err != nil {
		return nil, fmt.Errorf("nats: waiting to fetch a large message body: %w", err)
	}
	defer c.fetches.release()
	body := make([]byte, len(m.Data), min(ref.size, 2*len(m.Data)+minBody))
	copy(body, m.Data)
	for len(body) < ref.size {
		cctx, cancel := context.WithTimeout(ctx, chunkTimeout)
		resp, err := c.nc.RequestWithContext(cctx, ref.subject, []byte(ref.id+" "+strconv.Itoa(len(body))))
		cancel()
		if err != nil {
			if errors.Is(err, natsgo.ErrNoResponders) {
				return nil, fmt.Errorf("nats: fetching a large message body: its sender is gone: %w", err)
			}
			return nil, fmt.Errorf("nats: fetching a large message body from %s at offset %d: %w", ref.subject, len(body), c.secrets.scrub(err))
		}
		if e := resp.Header.Get(hdrBlobError); e != "" || len(resp.Data) == 0 {
			return nil, fmt.Errorf("nats: fetching a large message body: the sender answered %.100q", e)
		}
		n := len(body) + len(resp.Data)
		switch {
		case n > ref.size:
			return nil, fmt.Errorf("nats: large message body longer than its announced %d bytes", ref.size)
		case n < ref.size && len(resp.Data) < minBody:
			return nil, fmt.Errorf("nats: large message body sent in chunks of %d bytes", len(resp.Data))
		}
		if n > cap(body) { // grow with what arrives, never beyond the announced size
			body = slices.Grow(body, min(ref.size, max(2*cap(body), n))-len(body))
		}
		body = append(body, resp.Data...)
	}
	return body, nil
}
