package dedup

import (
	"fmt"
	"testing"
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
