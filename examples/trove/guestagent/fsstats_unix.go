//go:build linux || darwin || freebsd

package guestagent

import (
	"fmt"
	"math"
	"syscall"
)

// filesystemStats returns the statistics of the filesystem holding path,
// as Trove's get_filesystem_volume_stats computes them from statvfs.
func filesystemStats(path string) (FSStats, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return FSStats{}, fmt.Errorf("filesystem not found (%s): %w", path, err)
	}
	blockSize := uint64(st.Bsize)
	total := st.Blocks * blockSize
	free := st.Bfree * blockSize
	return FSStats{
		BlockSize:   blockSize,
		TotalBlocks: st.Blocks,
		FreeBlocks:  st.Bfree,
		Total:       gigabytes(total),
		Free:        gigabytes(free),
		Used:        gigabytes(total - free),
	}, nil
}

// gigabytes converts bytes to GB (GiB, as Trove counts), rounded to two
// decimals.
func gigabytes(bytes uint64) float64 {
	return math.Round(float64(bytes)/(1<<30)*100) / 100
}
