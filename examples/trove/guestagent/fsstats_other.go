//go:build !(linux || darwin || freebsd)

package guestagent

import (
	"fmt"
	"runtime"
)

// filesystemStats is not implemented on this system.
func filesystemStats(path string) (FSStats, error) {
	return FSStats{}, fmt.Errorf("filesystem statistics are not supported on %s", runtime.GOOS)
}
