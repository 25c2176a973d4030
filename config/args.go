package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// ParseArgs loads the configuration a command line names, as oslo's
// ConfigOpts(args) does: the --config-file and --config-dir arguments of
// args ("--config-file F" or "--config-file=F", with one dash or two), in
// the order given, and the process environment (see Environ). opts come
// after, so Environ(nil) turns the environment off and Project adds the
// default files. It returns the other arguments in order; "--" ends the
// options.
func ParseArgs(args []string, opts ...LoadOption) (*Config, []string, error) {
	var (
		f    Flags
		rest []string
	)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config-file" && name != "config-dir" {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				return nil, nil, fmt.Errorf("config: %s needs a value", a)
			}
			i++
			value = args[i]
		}
		f.add(value, name == "config-dir")
	}
	c, err := f.Load(opts...)
	return c, rest, err
}

// Flags are the --config-file and --config-dir flags of a command, for
// programs that parse their command line with package flag. The zero
// value is ready to use.
//
//	var cf config.Flags
//	cf.AddFlags(fs)
//	fs.Parse(args)
//	conf, err := cf.Load()
type Flags struct {
	sources []source
}

// AddFlags defines --config-file and --config-dir on fs; each may be
// repeated, and they are read in the order given.
func (f *Flags) AddFlags(fs *flag.FlagSet) {
	fs.Var(sourceFlag{f, false}, "config-file",
		"`path` of a configuration file; repeat for several, later ones win")
	fs.Var(sourceFlag{f, true}, "config-dir",
		"`directory` whose *.conf files are read, in sorted order, after the files given before it")
}

// Given reports whether any --config-file or --config-dir was given.
func (f *Flags) Given() bool { return len(f.sources) > 0 }

// Args returns the flags given, for a child process: "--config-file=F"
// and "--config-dir=D" in order.
func (f *Flags) Args() []string {
	out := make([]string, len(f.sources))
	for i, s := range f.sources {
		if s.dir {
			out[i] = "--config-dir=" + s.path
		} else {
			out[i] = "--config-file=" + s.path
		}
	}
	return out
}

// Load loads the files and directories given, with the process
// environment (see Environ), then opts.
func (f *Flags) Load(opts ...LoadOption) (*Config, error) {
	all := []LoadOption{Environ(os.Environ()), func(l *loader) { l.sources = append(l.sources, f.sources...) }}
	return Load(append(all, opts...)...)
}

func (f *Flags) add(path string, dir bool) {
	f.sources = append(f.sources, source{path: path, dir: dir})
}

// sourceFlag is the flag.Value of --config-file (dir false) and
// --config-dir.
type sourceFlag struct {
	f   *Flags
	dir bool
}

func (s sourceFlag) String() string {
	if s.f == nil {
		return ""
	}
	var paths []string
	for _, src := range s.f.sources {
		if src.dir == s.dir {
			paths = append(paths, src.path)
		}
	}
	return strings.Join(paths, ",")
}

func (s sourceFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty path")
	}
	s.f.add(v, s.dir)
	return nil
}
