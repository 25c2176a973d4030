package zmq

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisTestAddr is the Redis server the tests use: $ZMQ_TEST_REDIS, or
// 127.0.0.1:6379.
func RedisTestAddr() string {
	if a := os.Getenv("ZMQ_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// NeedRedis returns the Redis address and a key prefix unique to this test
// run, and deletes the prefix's keys when t ends. Without Redis it fails
// the test when $CI is set and skips it (loudly) otherwise.
func NeedRedis(t testing.TB) (addr, prefix string) {
	t.Helper()
	addr = RedisTestAddr()
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis is required (CI is set) but %s does not answer: %v", addr, err)
		}
		fmt.Fprintf(os.Stderr, "\n*** SKIPPING %s: no Redis at %s (%v); set ZMQ_TEST_REDIS or start redis-server ***\n\n", t.Name(), addr, err)
		t.Skipf("SKIPPED: no Redis at %s: %v", addr, err)
	}
	nc.Close()
	prefix = fmt.Sprintf("ozmqtest:%08x:", rand.Uint32())
	t.Cleanup(func() { DeleteRedisPrefix(t, addr, prefix) })
	return addr, prefix
}

// DeleteRedisPrefix deletes every key starting with prefix.
func DeleteRedisPrefix(t testing.TB, addr, prefix string) {
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Logf("cleaning Redis prefix %s: %v", prefix, err)
		return
	}
	if len(keys) > 0 {
		if err := rdb.Del(ctx, keys...).Err(); err != nil {
			t.Logf("cleaning Redis prefix %s: %v", prefix, err)
		}
	}
}

// RedisKeys returns the keys starting with prefix.
func RedisKeys(t testing.TB, addr, prefix string) []string {
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer rdb.Close()
	keys, err := rdb.Keys(context.Background(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
