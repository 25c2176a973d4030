package dedup

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

func TestWindow(t *testing.T) {
	w := New(3)
	for _, id := range []string{"a", "b", "c"} {
		if w.Seen(id) {
			t.Fatalf("%s seen before it was added", id)
		}
	}
	if !w.Seen("a") || !w.Contains("b") {
		t.Fatal("ids in the window not found")
	}
	w.Add("d") // pushes out a
	if w.Contains("a") || !w.Contains("d") || !w.Contains("c") {
		t.Fatal("oldest id not pushed out")
	}
	w.Add("d") // already there: nothing pushed out
	if !w.Contains("b") {
		t.Fatal("adding a present id pushed one out")
	}
	for i := range 100 {
		w.Add(fmt.Sprint(i))
	}
	if len(w.set) != 3 {
		t.Fatalf("window holds %d ids, want 3", len(w.set))
	}
}

// TestKeepsNoBody: the window holds ids by value: a long id is copied, a
// short one stored in place, and the same ids are still found.
func TestKeepsNoBody(t *testing.T) {
	w := New(4)
	body := []byte(`{"_unique_id": "0123456789abcdef0123456789abcdef", "x": "` + strings.Repeat("y", 40) + `"}`)
	// Views into the body, as the wire decoder makes them.
	short := unsafe.String(&body[16], 32)
	long := unsafe.String(&body[57], 40)
	if w.Seen(short) || w.Seen(long) {
		t.Fatal("new ids seen")
	}
	for i := range body {
		body[i] = 'z' // the window must not share this memory
	}
	if !w.Contains("0123456789abcdef0123456789abcdef") || !w.Contains(strings.Repeat("y", 40)) {
		t.Fatal("ids lost once the body changed")
	}
}
