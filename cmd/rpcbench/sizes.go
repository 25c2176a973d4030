package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
)

// maxSize bounds a payload's size.
const maxSize = 64 << 20

// sizes draws payload sizes: always the same, or from a distribution.
type sizes struct {
	// cum[i] is the total weight of sizes[0..i].
	cum   []int64
	sizes []int
}

// fixedSize always draws n.
func fixedSize(n int) *sizes { return &sizes{cum: []int64{1}, sizes: []int{n}} }

// parseSizeDist parses "size:weight,size:weight,...", for example
// "100:50,1024:30,65536:20": 100 bytes half the time, 1 KiB 30%, 64 KiB
// 20%. A size without weight has weight 1.
func parseSizeDist(s string) (*sizes, error) {
	d := &sizes{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		sz, w, hasWeight := strings.Cut(item, ":")
		if !hasWeight {
			w = "1"
		}
		n, err1 := strconv.Atoi(strings.TrimSpace(sz))
		weight, err2 := strconv.ParseInt(strings.TrimSpace(w), 10, 64)
		if err1 != nil || err2 != nil || n < 0 || n > maxSize || weight < 0 || weight > 1<<40 {
			return nil, fmt.Errorf("-size-dist: %q: want size:weight, a size from 0 to %d and a weight from 0", item, maxSize)
		}
		d.add(n, weight)
	}
	return d, d.check("-size-dist")
}

// readSizeFile reads one size per line (lines starting with # and blank
// lines are skipped), as oslo simulator's messages_length.txt: each line
// is drawn with the same probability. At most 10 million lines.
func readSizeFile(path string) (*sizes, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-size-file: %w", err)
	}
	defer f.Close()
	return parseSizes(f, path)
}

func parseSizes(r io.Reader, name string) (*sizes, error) {
	counts := map[int]int64{}
	sc := bufio.NewScanner(r)
	lines := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if lines++; lines > 10_000_000 {
			return nil, fmt.Errorf("-size-file %s: more than 10 million sizes", name)
		}
		n, err := strconv.Atoi(line)
		if err != nil || n < 0 || n > maxSize {
			return nil, fmt.Errorf("-size-file %s:%d: %q is not a size from 0 to %d", name, lines, line, maxSize)
		}
		counts[n]++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("-size-file %s: %w", name, err)
	}
	keys := make([]int, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	d := &sizes{}
	for _, k := range keys {
		d.add(k, counts[k])
	}
	return d, d.check("-size-file " + name)
}

func (d *sizes) add(n int, weight int64) {
	if weight == 0 {
		return
	}
	var total int64
	if len(d.cum) > 0 {
		total = d.cum[len(d.cum)-1]
	}
	d.sizes = append(d.sizes, n)
	d.cum = append(d.cum, total+weight)
}

func (d *sizes) check(what string) error {
	if len(d.sizes) == 0 {
		return errors.New(what + ": no size with a positive weight")
	}
	return nil
}

// draw returns a size.
func (d *sizes) draw() int {
	if len(d.sizes) == 1 {
		return d.sizes[0]
	}
	x := rand.Int64N(d.cum[len(d.cum)-1])
	return d.sizes[sort.Search(len(d.cum), func(i int) bool { return d.cum[i] > x })]
}

// largest returns the largest size.
func (d *sizes) largest() int {
	m := 0
	for _, s := range d.sizes {
		m = max(m, s)
	}
	return m
}

// String describes the distribution for reports.
func (d *sizes) String() string {
	if len(d.sizes) == 1 {
		return strconv.Itoa(d.sizes[0]) + "B"
	}
	total := d.cum[len(d.cum)-1]
	var parts []string
	prev := int64(0)
	for i, s := range d.sizes {
		if len(parts) == 6 {
			parts = append(parts, fmt.Sprintf("... (%d sizes)", len(d.sizes)))
			break
		}
		parts = append(parts, fmt.Sprintf("%dB:%.0f%%", s, 100*float64(d.cum[i]-prev)/float64(total)))
		prev = d.cum[i]
	}
	return strings.Join(parts, ",")
}
