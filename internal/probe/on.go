//go:build probe

package probe

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Enabled reports whether the build has the probe tag.
const Enabled = true

var (
	mu     sync.Mutex
	timing bool
	last   time.Time
	sum    [numStages]time.Duration
	count  [numStages]int
)

// Start starts timing a call: the first Mark is timed from here.
func Start() {
	mu.Lock()
	timing, last = true, time.Now()
	mu.Unlock()
}

// Mark ends stage s of the call being timed.
func Mark(s Stage) {
	now := time.Now()
	mu.Lock()
	if timing && s < numStages {
		sum[s] += now.Sub(last)
		count[s]++
		last = now
	}
	mu.Unlock()
}

// Report returns each stage's average time since the stage before it, and
// their sum, and resets them.
func Report() string {
	mu.Lock()
	defer mu.Unlock()
	var b strings.Builder
	var total time.Duration
	for s := range numStages {
		if count[s] == 0 {
			continue
		}
		avg := sum[s] / time.Duration(count[s])
		total += avg
		fmt.Fprintf(&b, "%-18s %8.1f µs  (%d)\n", Stage(s), float64(avg)/1e3, count[s])
	}
	fmt.Fprintf(&b, "%-18s %8.1f µs\n", "in all", float64(total)/1e3)
	sum, count, timing = [numStages]time.Duration{}, [numStages]int{}, false
	return b.String()
}
