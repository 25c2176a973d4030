package inbox

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/transport/driver"
)

func TestOrderKeepAndClose(t *testing.T) {
	q := New[int]()
	ctx := context.Background()
	for i := range 5 {
		if !q.Push(i) {
			t.Fatal("push refused")
		}
	}
	even := func(v int) bool { return v%2 == 0 }
	for _, want := range []int{0, 2} {
		if v, err := q.Next(ctx, even); err != nil || v != want {
			t.Fatalf("Next = %d, %v; want %d", v, err, want)
		}
	}
	q.Push(5)
	if left := q.Close(); len(left) != 3 || left[0] != 3 || left[2] != 5 {
		t.Fatalf("Close returned %v, want [3 4 5] (keep dropped only 1, which Next reached)", left)
	}
	if left := q.Close(); left != nil {
		t.Fatalf("second Close returned %v", left)
	}
	if q.Push(6) {
		t.Fatal("push accepted after Close")
	}
	if _, err := q.Next(ctx, nil); !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

func TestNextWaits(t *testing.T) {
	q := New[string]()
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
	q := New[int]()
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
			q.Push(i)
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
	q := New[int]()
	for i := range 5000 {
		q.Push(i)
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
