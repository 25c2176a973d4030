package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// DefaultGroup is the name of the [DEFAULT] section.
const DefaultGroup = "DEFAULT"

// Config is a loaded configuration: the options registered on it and the
// values the files, the environment and the defaults give them. It is safe
// for concurrent use.
type Config struct {
	mu       sync.RWMutex
	sources  []source // what Load read, for Reload
	files    []*file  // in the order read; later files win
	names    []string
	env      map[string]string // OS_<GROUP>__<OPTION> variables
	groups   map[string]*group
	order    []string                     // groups in registration order
	aliases  map[string]map[string]optRef // deprecated group -> deprecated name -> option
	defaults map[optKey]any               // SetDefault
	values   map[optKey]resolved
}

type optKey struct{ group, name string }

type optRef struct {
	group string
	opt   *Opt
}

type group struct {
	name   string
	opts   []*Opt
	byDest map[string]*Opt
}

// resolved is the value of an option, where it came from, and whether a
// secret went into it (by interpolation).
type resolved struct {
	v       any
	src     []rawValue // nil for a default
	tainted bool
}

// LoadOption configures Load.
type LoadOption func(*loader)

type loader struct {
	sources      []source
	env          map[string]string
	defs         []definition
	defaults     []definition
	project      string
	prog         string
	haveDefaults bool
}

type source struct {
	path string
	dir  bool
}

type definition struct {
	group string
	name  string
	value any
	opts  []Opt
}

// Files reads the configuration files at paths, in order, after the files
// and directories given before (later values win, as with several
// --config-file arguments).
func Files(paths ...string) LoadOption {
	return func(l *loader) {
		for _, p := range paths {
			l.sources = append(l.sources, source{path: p})
		}
	}
}

// Dirs reads the *.conf files of each directory in paths, in sorted order
// and skipping hidden files, as --config-dir does. A directory that does
// not exist is an error.
func Dirs(paths ...string) LoadOption {
	return func(l *loader) {
		for _, p := range paths {
			l.sources = append(l.sources, source{path: p, dir: true})
		}
	}
}

// Environ makes the environment variables OS_<GROUP>__<OPTION> of env
// (KEY=VALUE strings, as os.Environ returns) override the files, as
// oslo.config's environment source does: OS_DEFAULT__TRANSPORT_URL sets
// [DEFAULT] transport_url. Only the current name of an option is read,
// and a variable gives a MultiString option one value. Load reads no
// environment unless given this option; ParseArgs and Flags.Load pass
// os.Environ().
func Environ(env []string) LoadOption {
	return func(l *loader) {
		l.env = map[string]string{}
		for _, kv := range env {
			k, v, ok := strings.Cut(kv, "=")
			if ok && strings.HasPrefix(k, "OS_") {
				l.env[k] = v
			}
		}
	}
}

// Define registers options before the files are read, as Register does
// after; options that refer to them ($name) then resolve at Load.
func Define(group string, opts ...Opt) LoadOption {
	return func(l *loader) { l.defs = append(l.defs, definition{group: group, opts: opts}) }
}

// Default changes the default of a registered option (oslo's
// set_default; oslo.messaging's set_transport_defaults is
// Default("DEFAULT", "control_exchange", name)).
func Default(group, name string, value any) LoadOption {
	return func(l *loader) {
		l.defaults = append(l.defaults, definition{group: group, name: name, value: value})
	}
}

// Project makes Load look for oslo's default files when no Files are
// given, and default directories when no Dirs are given, as a service
// started without --config-file does: <project>.conf and <prog>.conf in
// ~/.<project>/, ~/, /etc/<project>/, /etc/ (the first found of each),
// and likewise the directories <project>.conf.d and <prog>.conf.d. prog
// "" is the program's name.
func Project(project, prog string) LoadOption {
	return func(l *loader) { l.project, l.prog, l.haveDefaults = project, prog, true }
}

// Load registers oslo.messaging's options (see the package documentation),
// applies opts and reads the files, then resolves every registered option.
// A value that does not convert fails Load with a *ValueError for each
// (errors.As finds the first); a file that does not parse fails it with a
// *ParseError; missing files with an error matching fs.ErrNotExist.
func Load(opts ...LoadOption) (*Config, error) {
	var l loader
	for _, o := range opts {
		o(&l)
	}
	c := newConfig()
	for _, g := range messagingGroups {
		if err := c.register(g.name, g.opts); err != nil {
			panic(err) // the tables are wrong
		}
	}
	for _, d := range l.defs {
		if err := c.register(d.group, d.opts); err != nil {
			return nil, err
		}
	}
	for _, d := range l.defaults {
		if err := c.setDefault(d.group, d.name, d.value); err != nil {
			return nil, err
		}
	}
	c.env = l.env
	c.sources = l.allSources()
	if err := c.read(c.sources); err != nil {
		return nil, err
	}
	if err := c.resolveAll(); err != nil {
		return nil, err
	}
	return c, nil
}

func newConfig() *Config {
	return &Config{
		groups:   map[string]*group{},
		aliases:  map[string]map[string]optRef{},
		defaults: map[optKey]any{},
		values:   map[optKey]resolved{},
	}
}

// allSources puts oslo's default files and directories, when asked for
// and not overridden, before the given sources.
func (l *loader) allSources() []source {
	if !l.haveDefaults {
		return l.sources
	}
	var files, dirs bool
	for _, s := range l.sources {
		files = files || !s.dir
		dirs = dirs || s.dir
	}
	var out []source
	if !files {
		for _, p := range findDefaults(l.project, l.prog, ".conf") {
			out = append(out, source{path: p})
		}
	}
	if !dirs {
		for _, p := range findDefaults(l.project, l.prog, ".conf.d") {
			out = append(out, source{path: p, dir: true})
		}
	}
	return append(out, l.sources...)
}

// findDefaults is oslo's find_config_files (or find_config_dirs): the
// first existing <name><ext> in each default directory, for the project
// and for the program.
func findDefaults(project, prog, ext string) []string {
	if prog == "" {
		prog = strings.TrimSuffix(filepath.Base(os.Args[0]), ".py")
	}
	home, _ := os.UserHomeDir()
	var dirs []string
	if project != "" && home != "" {
		dirs = append(dirs, filepath.Join(home, "."+project))
	}
	if home != "" {
		dirs = append(dirs, home)
	}
	if project != "" {
		dirs = append(dirs, filepath.Join("/etc", project))
	}
	dirs = append(dirs, "/etc")
	if sc := os.Getenv("SNAP_COMMON"); sc != "" && project != "" {
		dirs = append(dirs, filepath.Join(sc, "etc", project))
	}
	if s := os.Getenv("SNAP"); s != "" && project != "" {
		dirs = append(dirs, filepath.Join(s, "etc", project))
	}
	var found []string
	for _, name := range []string{project, prog} {
		if name == "" {
			continue
		}
		for _, d := range dirs {
			p := filepath.Join(d, name+ext)
			if _, err := os.Stat(p); err == nil {
				found = append(found, p)
				break
			}
		}
	}
	return found
}

// read parses the sources in order. Missing and unreadable files are
// collected and reported together, as oslo does.
func (c *Config) read(sources []source) error {
	var missing, denied []string
	readFile := func(path string) error {
		f, err := loadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, path)
		case errors.Is(err, fs.ErrPermission):
			denied = append(denied, path)
		case err != nil:
			return err
		default:
			c.files = append(c.files, f)
			c.names = append(c.names, path)
		}
		return nil
	}
	for _, s := range sources {
		path := fixPath(s.path)
		if !s.dir {
			if err := readFile(path); err != nil {
				return err
			}
			continue
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("config: config directory %s not found: %w", path, fs.ErrNotExist)
			}
			return fmt.Errorf("config: config directory: %w", err)
		}
		for _, e := range entries {
			if ok, _ := filepath.Match("*.conf", e.Name()); ok && !strings.HasPrefix(e.Name(), ".") {
				if err := readFile(filepath.Join(path, e.Name())); err != nil {
					return err
				}
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("config: config files not found: %s: %w", strings.Join(missing, ", "), fs.ErrNotExist)
	}
	if len(denied) > 0 {
		return fmt.Errorf("config: config files not readable: %s: %w", strings.Join(denied, ", "), fs.ErrPermission)
	}
	return nil
}

// fixPath is oslo's _fixpath: ~ expanded, made absolute.
func fixPath(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[1:])
		}
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

func loadFile(path string) (*file, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("config: %s is larger than %d bytes", path, MaxFileSize)
	}
	return parseFile(path, data)
}

// Register adds options to group ("" is DEFAULT), as oslo's register_opts.
// Registering the same option again does nothing; another option with the
// same name is an error. Once loaded, the options are resolved at once: a
// value that does not convert is an error and leaves them unregistered.
func (c *Config) Register(group string, opts ...Opt) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	saved := c.snapshot()
	if err := c.register(group, opts); err != nil {
		c.restore(saved)
		return err
	}
	if err := c.resolveAll(); err != nil {
		c.restore(saved)
		return err
	}
	return nil
}

// Reload reads the configuration files and directories again, as oslo's
// reload_config_files does on SIGHUP (service.ReloadConfig): the values
// change to what the files say now. When a file no longer parses or a
// value no longer converts, Reload returns the error and the values stay
// as they were. Transports and clients already made keep their settings;
// what reads the values again (a periodic task, a Reload hook) sees the
// new ones.
func (c *Config) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	files, names, values := c.files, c.names, c.values
	c.files, c.names, c.values = nil, nil, map[optKey]resolved{}
	err := c.read(c.sources)
	if err == nil {
		err = c.resolveAll()
	}
	if err != nil {
		c.files, c.names, c.values = files, names, values
	}
	return err
}

// SetDefault changes the default of a registered option, as oslo's
// set_default (see Default).
func (c *Config) SetDefault(group, name string, value any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	saved := c.snapshot()
	if err := c.setDefault(group, name, value); err != nil {
		return err
	}
	if err := c.resolveAll(); err != nil {
		c.restore(saved)
		return err
	}
	return nil
}

type snapshot struct {
	groups   map[string]*group
	order    []string
	aliases  map[string]map[string]optRef
	defaults map[optKey]any
	values   map[optKey]resolved
}

func (c *Config) snapshot() snapshot {
	s := snapshot{
		groups:   map[string]*group{},
		order:    slices.Clone(c.order),
		aliases:  map[string]map[string]optRef{},
		defaults: maps.Clone(c.defaults),
		values:   maps.Clone(c.values),
	}
	for k, g := range c.groups {
		s.groups[k] = &group{name: g.name, opts: slices.Clone(g.opts), byDest: maps.Clone(g.byDest)}
	}
	for k, m := range c.aliases {
		s.aliases[k] = maps.Clone(m)
	}
	return s
}

func (c *Config) restore(s snapshot) {
	c.groups, c.order, c.aliases, c.defaults, c.values = s.groups, s.order, s.aliases, s.defaults, s.values
}

func groupName(g string) string {
	if g == "" {
		return DefaultGroup
	}
	return g
}

func (c *Config) register(gname string, opts []Opt) error {
	gname = groupName(gname)
	g := c.groups[gname]
	if g == nil {
		g = &group{name: gname, byDest: map[string]*Opt{}}
		c.groups[gname] = g
		c.order = append(c.order, gname)
	}
	for _, o := range opts {
		o, err := o.check()
		if err != nil {
			return err
		}
		if prev := g.byDest[o.dest()]; prev != nil {
			if !sameOpt(prev, &o) {
				return fmt.Errorf("config: duplicate option %s in [%s]", o.Name, gname)
			}
			continue
		}
		p := &o
		g.opts = append(g.opts, p)
		g.byDest[o.dest()] = p
		for _, d := range o.Deprecated {
			if d.Name == "" {
				continue
			}
			dg := d.Group
			if dg == "" {
				dg = DefaultGroup // oslo tracks these under DEFAULT
			}
			if c.aliases[dg] == nil {
				c.aliases[dg] = map[string]optRef{}
			}
			c.aliases[dg][strings.ReplaceAll(d.Name, "-", "_")] = optRef{gname, p}
		}
	}
	return nil
}

func sameOpt(a, b *Opt) bool {
	return a.Name == b.Name && a.Kind == b.Kind && fmt.Sprint(a.Default) == fmt.Sprint(b.Default) &&
		a.Secret == b.Secret && slices.Equal(a.Choices, b.Choices) && slices.Equal(a.Deprecated, b.Deprecated) &&
		eqBound(a.Min, b.Min) && eqBound(a.Max, b.Max)
}

func eqBound(a, b *float64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func (c *Config) setDefault(gname, name string, value any) error {
	gname = groupName(gname)
	o := c.opt(gname, name)
	if o == nil {
		return &noOption{fmt.Sprintf("config: no such option [%s] %s", gname, name)}
	}
	v, err := o.normalizeDefault(value)
	if err != nil {
		return fmt.Errorf("config: [%s] %s: default %v: %w", gname, name, value, err)
	}
	c.defaults[optKey{gname, o.Name}] = v
	return nil
}

// opt returns the registered option name (or dest) of group.
func (c *Config) opt(gname, name string) *Opt {
	g := c.groups[gname]
	if g == nil {
		return nil
	}
	return g.byDest[strings.ReplaceAll(name, "-", "_")]
}

// resolveAll computes the value of every registered option.
func (c *Config) resolveAll() error {
	c.values = map[optKey]resolved{}
	var errs []error
	for _, gname := range c.sortedGroups() {
		for _, o := range c.groups[gname].opts {
			if _, err := c.resolve(gname, o, newStack()); err != nil {
				if !slices.ContainsFunc(errs, func(e error) bool { return e.Error() == err.Error() }) {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// sortedGroups returns DEFAULT first, then the other groups sorted.
func (c *Config) sortedGroups() []string {
	var out []string
	for _, g := range c.order {
		if g != DefaultGroup {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	if c.groups[DefaultGroup] != nil {
		out = append([]string{DefaultGroup}, out...)
	}
	return out
}

// find returns the values set for o in group: from the environment, else
// from the files (newest first). A MultiString gets every value, oldest
// first, as oslo's _get_file_value collects them.
func (c *Config) find(gname string, o *Opt) []rawValue {
	envName := "OS_" + strings.ToUpper(gname) + "__" + strings.ToUpper(o.dest())
	if v, ok := c.env[envName]; ok {
		return []rawValue{{text: v, env: envName}}
	}
	names := o.names(gname)
	var acc []rawValue
	for i := len(c.files) - 1; i >= 0; i-- {
		for _, n := range names {
			vals := c.files[i].sections[n[0]][n[1]]
			if len(vals) == 0 {
				continue
			}
			if !o.Kind.multi() {
				return vals[len(vals)-1:]
			}
			acc = append(slices.Clone(vals), acc...)
		}
	}
	return acc
}

// findRaw returns the last value of an unregistered key.
func (c *Config) findRaw(gname, key string) (rawValue, bool) {
	sec := normalizeGroup(gname)
	for i := len(c.files) - 1; i >= 0; i-- {
		if vals := c.files[i].sections[sec][key]; len(vals) > 0 {
			return vals[len(vals)-1], true
		}
	}
	return rawValue{}, false
}
