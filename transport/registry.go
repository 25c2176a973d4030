package transport

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/oslo-go/messaging/transport/driver"
)

var (
	driversMu sync.RWMutex
	drivers   = map[string]driver.Driver{}
)

// ErrUnknownDriver is matched by the error Open returns for a URL whose
// scheme no registered driver serves.
var ErrUnknownDriver = errors.New("transport: unknown driver")

// Register makes a driver available under name (the URL scheme, or its
// part before "+"). Drivers call it from init; it panics if d is nil or
// name is already registered, as database/sql.Register does.
func Register(name string, d driver.Driver) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if d == nil {
		panic("transport: Register driver is nil")
	}
	if _, dup := drivers[name]; dup {
		panic("transport: Register called twice for driver " + name)
	}
	drivers[name] = d
}

// Drivers returns the sorted names of the registered drivers.
func Drivers() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func lookupDriver(name string) (driver.Driver, error) {
	driversMu.RLock()
	d, ok := drivers[name]
	driversMu.RUnlock()
	if ok {
		return d, nil
	}
	known := Drivers()
	list := "none"
	if len(known) > 0 {
		list = strings.Join(known, ", ")
	}
	return nil, fmt.Errorf("%w %q (forgotten import?); registered drivers: %s", ErrUnknownDriver, name, list)
}
