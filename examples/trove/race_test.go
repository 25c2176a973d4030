//go:build race

package trove_test

// The race detector is on: build the commands with it too, which also
// reuses the packages the test binary was compiled with.
func init() { raceEnabled = true }
