package dedup

import (
	"fmt"
	"slices"
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
	if n := len(w.hexes) + len(w.others); n != 3 {
		t.Fatalf("window holds %d ids, want 3", n)
	}
}

// TestKeepsNoBody: the window holds ids by value: an oslo id as its 16
// bytes, any other copied, and the same ids are still found.
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

// TestIDForms: oslo's hex ids and any other ids share one window, in the
// order they came; ids that differ only in case are different ids.
func TestIDForms(t *testing.T) {
	const lower = "0123456789abcdef0123456789abcdef"
	upper := strings.ToUpper(lower)
	notHex := "0123456789abcdef0123456789abcdeg" // 32 characters, one not a hex digit
	w := New(4)
	for _, id := range []string{lower, upper, notHex, "short"} {
		if w.Seen(id) {
			t.Fatalf("%q seen before it was added", id)
		}
	}
	for _, id := range []string{lower, upper, notHex, "short"} {
		if !w.Seen(id) {
			t.Fatalf("%q not seen after it was added", id)
		}
	}
	w.Add("0123456789abcdef0123456789abcde0") // pushes out lower
	w.Add("x")                                // pushes out upper
	if w.Contains(lower) || w.Contains(upper) || !w.Contains(notHex) || !w.Contains("short") || !w.Contains("x") {
		t.Fatal("the oldest ids were not the ones pushed out")
	}
	if n := len(w.hexes) + len(w.others); n != 4 {
		t.Fatalf("window holds %d ids, want 4", n)
	}
}

// BenchmarkSeen is a server's duplicate check of new oslo ids in a full
// window.
func BenchmarkSeen(b *testing.B) {
	const n = 1 << 12
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15)
	}
	w := New(n / 2)
	i := 0
	for b.Loop() {
		w.Seen(ids[i%n])
		i++
	}
}

// FuzzWindow checks the window against a plain model (the last n distinct
// ids, compared as strings) on a sequence of ids cut from the input at
// commas: oslo hex ids, ids that only look like them, and any others.
func FuzzWindow(f *testing.F) {
	f.Add(uint8(3), "0123456789abcdef0123456789abcdef,a,0123456789ABCDEF0123456789abcdef,a,b,c,0123456789abcdef0123456789abcdef")
	f.Add(uint8(1), "x,x,y,x")
	f.Add(uint8(2), ",,0123456789abcdef0123456789abcdeg,0123456789abcdef0123456789abcdeg")
	f.Fuzz(func(t *testing.T, size uint8, input string) {
		n := int(size%8) + 1
		w := New(n)
		var model []string // oldest first
		for _, id := range strings.Split(input, ",") {
			want := slices.Contains(model, id)
			if got := w.Seen(id); got != want {
				t.Fatalf("Seen(%q) = %v, want %v (window %q)", id, got, want, model)
			}
			if !want {
				if model = append(model, id); len(model) > n {
					model = model[1:]
				}
			}
			for _, m := range model {
				if !w.Contains(m) {
					t.Fatalf("Contains(%q) = false; window %q", m, model)
				}
			}
		}
	})
}

// TestLongIDsBounded: an id longer than maxKept is held as its digest, so a
// window of huge ids stays small, and such ids are still told apart.
func TestLongIDsBounded(t *testing.T) {
	w := New(8)
	huge := strings.Repeat("h", 1<<20)
	other := huge[:len(huge)-1] + "i"
	if w.Seen(huge) || w.Seen(other) {
		t.Fatal("new long ids seen")
	}
	if !w.Seen(huge) || !w.Contains(other) {
		t.Fatal("long ids in the window not found")
	}
	for k := range w.others {
		if len(k) > len(digestPrefix)+32 {
			t.Fatalf("the window keeps a key of %d bytes", len(k))
		}
	}
	exact := strings.Repeat("e", maxKept) // kept as it is
	if w.Seen(exact) || !w.Contains(exact) {
		t.Fatal("an id of maxKept bytes is not kept")
	}
	if _, ok := w.others[exact]; !ok {
		t.Fatal("an id of maxKept bytes is not kept as it is")
	}
}

// TestLongIDNoCopy: hashing a long id allocates only its key.
func TestLongIDNoCopy(t *testing.T) {
	huge := strings.Repeat("h", 1<<20)
	if n := testing.AllocsPerRun(10, func() { _ = otherKey(huge) }); n > 1 {
		t.Fatalf("otherKey of a 1 MiB id: %v allocations, want at most 1 (the key)", n)
	}
}
