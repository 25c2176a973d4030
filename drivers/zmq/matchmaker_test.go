package zmq

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/transport/driver"
	"github.com/redis/go-redis/v9"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func lookup(t *testing.T, m Matchmaker, k Key) []string {
	t.Helper()
	addrs, err := m.Lookup(context.Background(), k)
	if err != nil {
		t.Fatalf("Lookup(%s): %v", k, err)
	}
	return addrs
}

func register(t *testing.T, m Matchmaker, k Key, addr string, ttl time.Duration) {
	t.Helper()
	if err := m.Register(context.Background(), k, addr, ttl); err != nil {
		t.Fatalf("Register(%s, %s): %v", k, addr, err)
	}
}

// testMatchmakerTTL checks registration, lookup order, refresh, expiry and
// unregistering; wait lets time pass.
func testMatchmakerTTL(t *testing.T, m Matchmaker, ttl time.Duration, wait func(time.Duration)) {
	topic := Key{Topic: "compute/x"} // a "/" must not clash with server keys
	srv := Key{Topic: "compute", Server: "x"}
	register(t, m, topic, "h2:2", ttl)
	register(t, m, topic, "h1:1", ttl)
	register(t, m, srv, "h1:1", ttl)
	if got := lookup(t, m, topic); !reflect.DeepEqual(got, []string{"h1:1", "h2:2"}) {
		t.Fatalf("topic key = %v", got)
	}
	if got := lookup(t, m, srv); !reflect.DeepEqual(got, []string{"h1:1"}) {
		t.Fatalf("server key = %v", got)
	}
	if got := lookup(t, m, Key{Topic: "compute"}); len(got) != 0 {
		t.Fatalf("unregistered key = %v", got)
	}
	// h1 refreshes, h2 does not: after the TTL only h1 is left.
	for range 4 {
		wait(ttl / 3)
		register(t, m, topic, "h1:1", ttl)
	}
	if got := lookup(t, m, topic); !reflect.DeepEqual(got, []string{"h1:1"}) {
		t.Fatalf("after %v with h1 refreshing: %v, want [h1:1]", 4*ttl/3, got)
	}
	if got := lookup(t, m, srv); len(got) != 0 {
		t.Fatalf("server key not refreshed, still %v", got)
	}
	if err := m.Unregister(context.Background(), topic, "h1:1"); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, m, topic); len(got) != 0 {
		t.Fatalf("after Unregister: %v", got)
	}
	if err := m.Unregister(context.Background(), topic, "never"); err != nil {
		t.Fatalf("Unregister of an unknown address: %v", err)
	}
}

func TestMemMatchmaker(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	m := &memMatchmaker{keys: map[Key]*memEntry{}, now: clock.Now}
	testMatchmakerTTL(t, m, 3*time.Second, clock.Advance)
	// Snapshots handed out are never modified.
	register(t, m, Key{Topic: "s"}, "a:1", time.Minute)
	snap := lookup(t, m, Key{Topic: "s"})
	register(t, m, Key{Topic: "s"}, "b:1", time.Minute)
	if !reflect.DeepEqual(snap, []string{"a:1"}) {
		t.Fatalf("snapshot changed to %v", snap)
	}
	if got := lookup(t, m, Key{Topic: "s"}); !reflect.DeepEqual(got, []string{"a:1", "b:1"}) {
		t.Fatalf("lookup = %v", got)
	}
	// Namespaces are apart.
	nsA := memMatchmakerFor("ns-a")
	if nsA == memMatchmakerFor("ns-b") || nsA != memMatchmakerFor("ns-a") {
		t.Fatal("namespaces not kept apart")
	}
}

func TestStaticMatchmaker(t *testing.T) {
	table := map[string][]string{}
	if err := parseStaticTargets("compute=h1:1;h2:2,compute.h1=h1:1", table); err != nil {
		t.Fatal(err)
	}
	m := &staticMatchmaker{table: table}
	if got := lookup(t, m, Key{Topic: "compute"}); !reflect.DeepEqual(got, []string{"h1:1", "h2:2"}) {
		t.Fatalf("topic = %v", got)
	}
	if got := lookup(t, m, Key{Topic: "compute", Server: "h1"}); !reflect.DeepEqual(got, []string{"h1:1"}) {
		t.Fatalf("server = %v", got)
	}
	if !m.lists(Key{Topic: "compute"}, "h2:2") || m.lists(Key{Topic: "compute", Server: "h2"}, "h2:2") {
		t.Fatal("lists")
	}
	register(t, m, Key{Topic: "other"}, "h3:3", time.Second) // a no-op
	if got := lookup(t, m, Key{Topic: "other"}); len(got) != 0 {
		t.Fatalf("static table changed by Register: %v", got)
	}
}

func TestRedisMatchmaker(t *testing.T) {
	addr, prefix := NeedRedis(t)
	m := newRedisMatchmaker(&redis.Options{Addr: addr}, prefix, drivertest.TestLogger(t), nil, time.Second)
	defer m.Close()
	const ttl = 600 * time.Millisecond
	testMatchmakerTTL(t, m, ttl, time.Sleep)
	// The sorted sets carry a TTL of their own, so that a key whose servers
	// all died disappears.
	register(t, m, Key{Topic: "gone"}, "h:1", ttl)
	pttl, err := m.rdb.PTTL(context.Background(), m.key(Key{Topic: "gone"})).Result()
	if err != nil || pttl <= 0 || pttl > ttl {
		t.Fatalf("PTTL of a key = %v, %v; want (0, %v]", pttl, err, ttl)
	}
	time.Sleep(ttl + 200*time.Millisecond)
	if n, _ := m.rdb.Exists(context.Background(), m.key(Key{Topic: "gone"})).Result(); n != 0 {
		t.Fatal("key of expired registrations still exists")
	}
	if keys := RedisKeys(t, addr, prefix); len(keys) != 0 {
		t.Fatalf("keys left: %v", keys)
	}
	// Without Redis, operations fail at once with the dial error, and Ping
	// waits within its ctx, then reports the dial error too.
	down := newRedisMatchmaker(&redis.Options{Addr: "127.0.0.1:1"}, prefix, drivertest.TestLogger(t), nil, time.Second)
	defer down.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := down.Lookup(ctx, Key{Topic: "x"}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Lookup without Redis: %v", err)
	}
	if err := down.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Ping without Redis: %v", err)
	}
}

// TestRegistrationRefresh checks that a server's registration outlives its
// TTL because the driver refreshes it, and that Close removes it.
func TestRegistrationRefresh(t *testing.T) {
	addr, prefix := NeedRedis(t)
	for _, url := range []string{
		"zmq:///" + t.Name(),
		fmt.Sprintf("zmq+redis://%s/0?redis_prefix=%s", addr, prefix),
	} {
		t.Run(url[:strings.Index(url, ":")], func(t *testing.T) {
			c := openConn(t, url+sep(url)+"target_expire=400ms&target_update=100ms")
			l, err := c.Listen(context.Background(), tgt("refresh", "s1"), driver.ListenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			k := Key{Topic: "refresh", Server: "s1"}
			time.Sleep(time.Second)
			if got := lookup(t, c.mm, k); len(got) != 1 {
				t.Fatalf("registration after 2.5 TTLs: %v", got)
			}
			l.Close()
			if got := lookup(t, c.mm, k); len(got) != 0 {
				t.Fatalf("registration after Close: %v", got)
			}
			l.Close()
		})
	}
}
