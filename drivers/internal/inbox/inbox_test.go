package inbox

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oslo-go/messaging/transport/driver"
)

func TestOrderKeepAndClose(t *testing.T) {
	q := New(Config[int]{Limits: Limits{Items: 1 << 20, Bytes: 1 << 30}})
	ctx := context.Background()
	for i := range 5 {
		if err := q.Push(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	even := func(v int) bool { return v%2 == 0 }
	for _, want := range []int{0, 2} {
		if v, err := q.Next(ctx, even); err != nil || v != want {
			t.Fatalf("Next = %d, %v; want %d", v, err, want)
		}
	}
	q.Push(ctx, 5)
	if left := q.Close(); len(left) != 3 || left[0] != 3 || left[2] != 5 {
		t.Fatalf("Close returned %v, want [3 4 5] (keep dropped only 1, which Next reached)", left)
	}
	if left := q.Close(); left != nil {
		t.Fatalf("second Close returned %v", left)
	}
	if err := q.Push(ctx, 6); !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("push after Close: %v", err)
	}
	if _, err := q.Next(ctx, nil); !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

func TestNextWaits(t *testing.T) {
	q := New(Config[string]{Limits: Limits{Items: 1, Bytes: 1}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := q.Next(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on empty queue: %v", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := q.Next(context.Background(), nil)
		errc <- err
	}()
	time.Sleep(5 * time.Millisecond)
	q.Close()
	if err := <-errc; !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("waiting Next at Close: %v", err)
	}
}

// TestConcurrentNext pushes bursts while many Next wait: every item is
// taken exactly once, with no later push needed to wake a waiter.
func TestConcurrentNext(t *testing.T) {
	q := New(Config[int]{Limits: Limits{Items: 1 << 20, Bytes: 1 << 30}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const waiters, n = 8, 20000
	got := make(chan int, n)
	var wg sync.WaitGroup
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				v, err := q.Next(ctx, nil)
				if err != nil {
					return
				}
				got <- v
			}
		}()
	}
	seen := make(map[int]bool, n)
	for burst := 0; burst < n; burst += 100 {
		for i := burst; i < burst+100; i++ {
			q.Push(ctx, i)
		}
		for range 100 {
			select {
			case v := <-got:
				if seen[v] {
					t.Fatalf("%d taken twice", v)
				}
				seen[v] = true
			case <-ctx.Done():
				t.Fatalf("items left queued after burst %d", burst/100)
			}
		}
	}
	q.Close()
	wg.Wait()
}

func TestLongBacklogCompacts(t *testing.T) {
	q := New(Config[int]{Limits: Limits{Items: 1 << 20, Bytes: 1 << 30}})
	for i := range 5000 {
		q.Push(context.Background(), i)
	}
	for i := range 4000 {
		if v, _ := q.Next(context.Background(), nil); v != i {
			t.Fatalf("Next = %d, want %d", v, i)
		}
	}
	if left := q.Close(); len(left) != 1000 || left[0] != 4000 || left[999] != 4999 {
		t.Fatalf("left %d items starting %v", len(left), left[:1])
	}
}

// TestBounds: Push waits while the queue holds Items items or Bytes bytes,
// an item over Bytes still gets through alone, Offer refuses what does not
// fit, and taking an item lets a waiting Push in and calls OnRoom.
func TestBounds(t *testing.T) {
	var rooms atomic.Int32
	q := New(Config[string]{
		Limits: Limits{Items: 3, Bytes: 10},
		Size:   func(s string) int { return len(s) },
		OnRoom: func() { rooms.Add(1) },
	})
	ctx := context.Background()
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := q.Push(ctx, "0123456789abcdef"); err != nil { // over Bytes, but the queue is empty
		t.Fatalf("push of an item over Bytes into an empty queue: %v", err)
	}
	if err := q.Push(short, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("push over the byte bound: %v, want it to wait until ctx ends", err)
	}
	if ok, err := q.Offer("x"); ok || err != nil {
		t.Fatalf("Offer over the byte bound = %v, %v", ok, err)
	}
	if v, _ := q.Next(ctx, nil); v != "0123456789abcdef" || rooms.Load() != 1 {
		t.Fatalf("Next = %q, OnRoom calls %d", v, rooms.Load())
	}
	for _, v := range []string{"a", "b", "c"} {
		if ok, err := q.Offer(v); !ok || err != nil {
			t.Fatalf("Offer(%q) = %v, %v", v, ok, err)
		}
	}
	if n, b := q.Len(); n != 3 || b != 3 {
		t.Fatalf("Len = %d items, %d bytes", n, b)
	}
	pushed := make(chan error, 1)
	go func() { pushed <- q.Push(ctx, "d") }() // over the item bound: waits
	select {
	case err := <-pushed:
		t.Fatalf("push over the item bound returned at once: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	if v, _ := q.Next(ctx, nil); v != "a" {
		t.Fatalf("Next = %q", v)
	}
	if err := <-pushed; err != nil {
		t.Fatalf("waiting push after Next: %v", err)
	}
	go func() { pushed <- q.Push(ctx, "e") }()
	time.Sleep(10 * time.Millisecond)
	if left := q.Close(); len(left) != 3 {
		t.Fatalf("Close returned %v", left)
	}
	if err := <-pushed; !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("push waiting at Close: %v", err)
	}
	if ok, err := q.Offer("f"); ok || !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("Offer after Close = %v, %v", ok, err)
	}
}

// TestDroppedItemsFreeRoom: items that keep drops free their room too.
func TestDroppedItemsFreeRoom(t *testing.T) {
	q := New(Config[int]{Limits: Limits{Items: 2, Bytes: 100}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q.Push(ctx, -1)
	q.Push(ctx, -2)
	pushed := make(chan error, 1)
	go func() { pushed <- q.Push(ctx, 3) }()
	time.Sleep(10 * time.Millisecond)
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	positive := func(v int) bool { return v > 0 }
	v, err := q.Next(short, positive)
	if err != nil { // the push came after short ended
		v, err = q.Next(ctx, positive)
	}
	if err != nil || v != 3 {
		t.Fatalf("Next = %d, %v", v, err)
	}
	if err := <-pushed; err != nil {
		t.Fatalf("push after the full queue's items were dropped: %v", err)
	}
}

// TestBoundedConcurrent: many pushers into a small queue and many Next
// callers: every item arrives once and the bound always holds.
func TestBoundedConcurrent(t *testing.T) {
	const limit, pushers, each = 4, 8, 2000
	q := New(Config[int]{Limits: Limits{Items: limit, Bytes: 1 << 20}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var pw sync.WaitGroup
	for p := range pushers {
		pw.Add(1)
		go func() {
			defer pw.Done()
			for i := range each {
				if err := q.Push(ctx, p*each+i); err != nil {
					t.Error(err)
					return
				}
				if n, _ := q.Len(); n > limit {
					t.Errorf("%d items queued, limit %d", n, limit)
				}
			}
		}()
	}
	seen := make([]atomic.Bool, pushers*each)
	var got atomic.Int32
	var nw sync.WaitGroup
	for range 4 {
		nw.Add(1)
		go func() {
			defer nw.Done()
			for {
				v, err := q.Next(ctx, nil)
				if err != nil {
					return
				}
				if seen[v].Swap(true) {
					t.Errorf("%d taken twice", v)
				}
				got.Add(1)
			}
		}()
	}
	pw.Wait()
	for got.Load() < pushers*each && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	q.Close()
	nw.Wait()
	if n := got.Load(); n != pushers*each {
		t.Fatalf("%d of %d items taken", n, pushers*each)
	}
}

func TestForCapacity(t *testing.T) {
	for _, tc := range []struct {
		capacity, items, bytes int
		want                   Limits
	}{
		{0, 0, 0, Limits{DefaultCapacity, DefaultBytes}},
		{1, 0, 0, Limits{MinItems, DefaultBytes}},
		{200, 0, 0, Limits{200, DefaultBytes}},
		{200, 10, 1, Limits{MinItems, MinBytes}},
		{200, 1000, 1 << 30, Limits{1000, 1 << 30}},
	} {
		if got := ForCapacity(tc.capacity, tc.items, tc.bytes); got != tc.want {
			t.Errorf("ForCapacity(%d, %d, %d) = %+v, want %+v", tc.capacity, tc.items, tc.bytes, got, tc.want)
		}
	}
}
