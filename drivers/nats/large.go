package nats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oslo-go/messaging/transport/driver"
)

// Messages larger than the server's max_payload (1 MiB by default) travel
// as a claim check: the NATS message holds the first chunk of the body and
// the header Oslo-Blob "<subject> <id> <size>"; the receiver requests the
// other chunks from the sender on <subject> (the sender's inbox followed by
// the token "%B") with the payload "<id> <offset>". The sender keeps the
// body until the last chunk is served (fanout bodies, which several
// servers fetch, until they expire), and at most the message's expiration
// or LargeMessageTTL.

// blobFetchTimeout bounds fetching one large body.
const blobFetchTimeout = 30 * time.Second

// maxBlobSize bounds the size a receiver accepts from an Oslo-Blob header.
const maxBlobSize = 1 << 30

type blob struct {
	data   []byte
	fanout bool
	timer  *time.Timer
}

type blobStore struct {
	mu    sync.Mutex
	seq   uint64
	blobs map[string]*blob
}

func (s *blobStore) init() { s.blobs = map[string]*blob{} }

func (s *blobStore) put(data []byte, fanout bool, ttl time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := strconv.FormatUint(s.seq, 36)
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

// publishLarge sends a body larger than the server's max_payload as a
// claim check.
func (c *conn) publishLarge(ctx context.Context, subj, reply string, m *driver.Message, fanout bool) error {
	in, err := c.ensureInbox()
	if err != nil {
		return err
	}
	ttl := c.cfg.largeTTL
	if m.Expiration > 0 {
		ttl = m.Expiration + 5*time.Second
	}
	id := c.blobs.put(m.Body, fanout, ttl)
	h := headerFor(m)
	if h == nil {
		h = natsgo.Header{}
	}
	h[hdrBlob] = []string{in.prefix + "." + blobToken + " " + id + " " + strconv.Itoa(len(m.Body))}
	first := m.Body[:c.maxBody.Load()]
	c.log.Debug("nats: sending a large message as a claim check", "subject", subj, "size", len(m.Body), "chunk", len(first))
	err = c.publishMsg(ctx, &natsgo.Msg{Subject: subj, Reply: reply, Header: h, Data: first}, m.Retry)
	if err != nil {
		c.blobs.remove(id)
	}
	return err
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
		c.log.Debug("nats: answering a chunk request", "error", err)
	}
}

// fetchBody reassembles the body of a claim-check message.
func (c *conn) fetchBody(ctx context.Context, m *natsgo.Msg) ([]byte, error) {
	ref := strings.Fields(m.Header.Get(hdrBlob))
	if len(ref) != 3 {
		return nil, fmt.Errorf("nats: malformed %s header %q", hdrBlob, m.Header.Get(hdrBlob))
	}
	subj, id := ref[0], ref[1]
	size, err := strconv.Atoi(ref[2])
	if err != nil || size < len(m.Data) || size > maxBlobSize {
		return nil, fmt.Errorf("nats: bad size in %s header %q", hdrBlob, m.Header.Get(hdrBlob))
	}
	body := make([]byte, 0, size)
	body = append(body, m.Data...)
	for len(body) < size {
		resp, err := c.nc.RequestWithContext(ctx, subj, []byte(id+" "+strconv.Itoa(len(body))))
		if err != nil {
			if errors.Is(err, natsgo.ErrNoResponders) {
				return nil, fmt.Errorf("nats: fetching a large message body: its sender is gone: %w", err)
			}
			return nil, fmt.Errorf("nats: fetching a large message body from %s: %w", subj, err)
		}
		if e := resp.Header.Get(hdrBlobError); e != "" || len(resp.Data) == 0 {
			return nil, fmt.Errorf("nats: fetching a large message body: %s", e)
		}
		body = append(body, resp.Data...)
	}
	if len(body) != size {
		return nil, fmt.Errorf("nats: large message body of %d bytes, want %d", len(body), size)
	}
	return body, nil
}
