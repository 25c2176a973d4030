package zmq

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Key is what a server registers under in a matchmaker: its topic (shared
// by the servers of the topic: competing consumers and fanout), and its
// topic and server name (direct sends).
type Key struct {
	Topic  string
	Server string // empty for the topic key
}

// String returns oslo's form of the key: "topic" or "topic.server". The
// static matchmaker's tables are written in this form.
func (k Key) String() string {
	if k.Server == "" {
		return k.Topic
	}
	return k.Topic + "." + k.Server
}

// Matchmaker maps keys to the addresses ("host:port") of live servers.
// Registrations expire after their TTL unless registered again; the driver
// re-registers its servers every target_update. Implementations must be
// safe for concurrent use. Pass your own with [WithMatchmaker].
type Matchmaker interface {
	// Register adds or refreshes addr under k for ttl.
	Register(ctx context.Context, k Key, addr string, ttl time.Duration) error
	// Unregister removes addr from k.
	Unregister(ctx context.Context, k Key, addr string) error
	// Lookup returns the live addresses of k in a stable order (sorted),
	// or none. Callers do not modify the returned slice.
	Lookup(ctx context.Context, k Key) ([]string, error)
	// Close releases the matchmaker's resources.
	Close() error
}

// In-process matchmaker: one table per URL virtual host, shared by the
// connections of one process.

var (
	memMu     sync.Mutex
	memTables = map[string]*memMatchmaker{}
)

// memMatchmakerFor returns the in-process table of namespace ns.
func memMatchmakerFor(ns string) *memMatchmaker {
	memMu.Lock()
	defer memMu.Unlock()
	m := memTables[ns]
	if m == nil {
		m = &memMatchmaker{keys: map[Key]*memEntry{}}
		memTables[ns] = m
	}
	return m
}

type memMatchmaker struct {
	now func() time.Time // for tests; nil means time.Now

	mu   sync.RWMutex
	keys map[Key]*memEntry
}

type memEntry struct {
	expires map[string]time.Time // addr -> expiry
	// snapshot is the sorted live addresses, valid until validUntil (the
	// earliest expiry); rebuilt on change. Never modified once published.
	snapshot   []string
	validUntil time.Time
}

func (m *memMatchmaker) clock() time.Time {
	if m.now != nil {
		return m.now()
	}
	return time.Now()
}

func (e *memEntry) rebuild(now time.Time) {
	e.snapshot = make([]string, 0, len(e.expires))
	e.validUntil = time.Time{}
	for a, exp := range e.expires {
		if !exp.After(now) {
			delete(e.expires, a)
			continue
		}
		e.snapshot = append(e.snapshot, a)
		if e.validUntil.IsZero() || exp.Before(e.validUntil) {
			e.validUntil = exp
		}
	}
	sort.Strings(e.snapshot)
}

func (m *memMatchmaker) Register(_ context.Context, k Key, addr string, ttl time.Duration) error {
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.keys[k]
	if e == nil {
		e = &memEntry{expires: map[string]time.Time{}}
		m.keys[k] = e
	}
	e.expires[addr] = now.Add(ttl)
	e.rebuild(now)
	return nil
}

func (m *memMatchmaker) Unregister(_ context.Context, k Key, addr string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.keys[k]
	if e == nil {
		return nil
	}
	delete(e.expires, addr)
	if len(e.expires) == 0 {
		delete(m.keys, k)
		return nil
	}
	e.rebuild(m.clock())
	return nil
}

func (m *memMatchmaker) Lookup(_ context.Context, k Key) ([]string, error) {
	now := m.clock()
	m.mu.RLock()
	e := m.keys[k]
	if e == nil {
		m.mu.RUnlock()
		return nil, nil
	}
	if now.Before(e.validUntil) {
		s := e.snapshot
		m.mu.RUnlock()
		return s, nil
	}
	m.mu.RUnlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if e = m.keys[k]; e == nil {
		return nil, nil
	}
	if !now.Before(e.validUntil) {
		e.rebuild(now)
		if len(e.expires) == 0 {
			delete(m.keys, k)
		}
	}
	return e.snapshot, nil
}

func (m *memMatchmaker) Close() error { return nil }

// Static matchmaker: a fixed table from the URL or a file; servers must
// bind the ports it lists.

type staticMatchmaker struct {
	table map[string][]string // Key.String() -> sorted addresses
}

func (s *staticMatchmaker) Register(context.Context, Key, string, time.Duration) error { return nil }
func (s *staticMatchmaker) Unregister(context.Context, Key, string) error              { return nil }
func (s *staticMatchmaker) Lookup(_ context.Context, k Key) ([]string, error) {
	return s.table[k.String()], nil
}
func (s *staticMatchmaker) Close() error { return nil }

// lists reports whether the table lists addr under k.
func (s *staticMatchmaker) lists(k Key, addr string) bool {
	return slices.Contains(s.table[k.String()], addr)
}

// parseStaticTargets parses the static_targets query value:
// "key=addr;addr,key=addr" (the query joins repeated parameters with ",").
func parseStaticTargets(v string, into map[string][]string) error {
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, addrs, ok := strings.Cut(item, "=")
		if !ok || k == "" || addrs == "" {
			return fmt.Errorf("zmq: static_targets: %q is not key=host:port[;host:port...]", item)
		}
		for a := range strings.SplitSeq(addrs, ";") {
			if err := addStatic(into, k, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// readStaticFile reads a JSON object of key -> list of addresses.
func readStaticFile(path string, into map[string][]string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("zmq: static_file: %w", err)
	}
	var table map[string][]string
	if err := json.Unmarshal(b, &table); err != nil {
		return fmt.Errorf("zmq: static_file %s: want a JSON object of key -> [\"host:port\", ...]: %w", path, err)
	}
	for k, addrs := range table {
		for _, a := range addrs {
			if err := addStatic(into, k, a); err != nil {
				return err
			}
		}
	}
	return nil
}

func addStatic(into map[string][]string, k, a string) error {
	addr, err := normalizeAddr(a)
	if err != nil {
		return fmt.Errorf("zmq: static matchmaker entry %q: %w", k, err)
	}
	if !slices.Contains(into[k], addr) {
		into[k] = append(into[k], addr)
		sort.Strings(into[k])
	}
	return nil
}

// normalizeAddr turns "tcp://host:port" or "host:port" into "host:port".
func normalizeAddr(a string) (string, error) {
	a = strings.TrimSpace(a)
	a = strings.TrimPrefix(a, "tcp://")
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return "", fmt.Errorf("address %q is not host:port", a)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return "", fmt.Errorf("address %q has a bad port", a)
	}
	return net.JoinHostPort(host, port), nil
}
