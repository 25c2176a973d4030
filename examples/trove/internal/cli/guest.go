package cli

import (
	"flag"
	"os"
	"path/filepath"
	"time"

	"github.com/oslo-go/messaging/examples/trove/guestagent"
)

// GuestOptions are the settings of guest agents, given to trove-guestagent
// and to the commands that start guest agents.
type GuestOptions struct {
	DataDir           string
	HeartbeatInterval time.Duration
	InstallTime       time.Duration
}

// AddFlags defines the flags of the guest settings on fs.
func (g *GuestOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&g.DataDir, "data-dir", "",
		"`directory` of the guests' data: an instance's volume is <data-dir>/<instance id> (default $TMPDIR/trove-guests)")
	fs.DurationVar(&g.HeartbeatInterval, "heartbeat-interval", guestagent.DefaultHeartbeatInterval,
		"period of a guest's heartbeats to the conductor")
	fs.DurationVar(&g.InstallTime, "install-time", guestagent.DefaultInstallTime,
		"how long a guest takes to install its datastore")
}

// Args returns the guest settings as command-line flags, to start
// trove-guestagent with.
func (g *GuestOptions) Args() []string {
	return []string{
		"--data-dir=" + g.dataDir(),
		"--heartbeat-interval=" + g.HeartbeatInterval.String(),
		"--install-time=" + g.InstallTime.String(),
	}
}

// Config returns the configuration of guest agents with these settings
// that report to the conductor of o (InstanceID is left to set).
func (g *GuestOptions) Config(o *Options) guestagent.Config {
	return guestagent.Config{
		DataDir:           g.dataDir(),
		HeartbeatInterval: g.HeartbeatInterval,
		InstallTime:       g.InstallTime,
		Conductor:         o.ConductorAPI(),
	}
}

// dataDir returns the directory of the guests' data.
func (g *GuestOptions) dataDir() string {
	if g.DataDir == "" {
		return filepath.Join(os.TempDir(), "trove-guests")
	}
	return g.DataDir
}
