package config

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Value returns the value of an option in group ("" is DEFAULT), in the
// Go type its Kind lists; nil is oslo's None. For an option that is not
// registered but set in the files it returns the last value set, as a
// string, interpolated. An option that is neither fails with an error
// matching ErrNoSuchOption.
func (c *Config) Value(group, name string) (any, error) {
	return c.get(group, name, String)
}

// get returns the value of a registered option, or converts the file's
// value of an unregistered one to kind.
func (c *Config) get(gname, name string, kind Kind) (any, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	gname = groupName(gname)
	if o := c.opt(gname, name); o != nil {
		return c.values[optKey{gname, o.Name}].v, nil
	}
	o := &Opt{Name: name, Kind: kind}
	raws := c.find(gname, o)
	if len(raws) == 0 {
		return nil, fmt.Errorf("config: [%s] %s: %w", gname, name, ErrNoSuchOption)
	}
	if looksSecret(name) {
		o.Secret = true // keep a guessed secret out of errors
	}
	r, err := c.resolveRaw(gname, o, raws, newStack())
	return r.v, err
}

// kindError reports a getter that does not fit the option's kind.
func (c *Config) kindError(gname, name, want string) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	k := String
	if o := c.opt(groupName(gname), name); o != nil {
		k = o.Kind
	}
	return fmt.Errorf("config: [%s] %s is a %s option, not %s", groupName(gname), name, k, want)
}

// String returns the value of a String option ("" for None).
func (c *Config) String(group, name string) (string, error) {
	v, err := c.get(group, name, String)
	if err != nil {
		return "", err
	}
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	}
	return "", c.kindError(group, name, "a string")
}

// Int returns the value of an Int option (0 for None).
func (c *Config) Int(group, name string) (int, error) {
	v, err := c.get(group, name, Int)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case nil:
		return 0, nil
	case int64:
		if x > math.MaxInt || x < math.MinInt {
			return 0, fmt.Errorf("config: [%s] %s = %d overflows int", groupName(group), name, x)
		}
		return int(x), nil
	}
	return 0, c.kindError(group, name, "an integer")
}

// Bool returns the value of a Bool option.
func (c *Config) Bool(group, name string) (bool, error) {
	v, err := c.get(group, name, Bool)
	if err != nil {
		return false, err
	}
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	}
	return false, c.kindError(group, name, "a boolean")
}

// Float returns the value of a Float or Int option (0 for None).
func (c *Config) Float(group, name string) (float64, error) {
	v, err := c.get(group, name, Float)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case nil:
		return 0, nil
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	}
	return 0, c.kindError(group, name, "a number")
}

// Duration returns the value of a Duration option, or of an Int or Float
// option as a number of seconds (oslo's timeouts); 0 for None.
func (c *Config) Duration(group, name string) (time.Duration, error) {
	v, err := c.get(group, name, Duration)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case nil:
		return 0, nil
	case time.Duration:
		return x, nil
	case int64:
		if x > math.MaxInt64/int64(time.Second) || x < math.MinInt64/int64(time.Second) {
			return 0, fmt.Errorf("config: [%s] %s = %d seconds overflows a duration", groupName(group), name, x)
		}
		return time.Duration(x) * time.Second, nil
	case float64:
		if math.IsNaN(x) || math.Abs(x) > math.MaxInt64/1e9 {
			return 0, fmt.Errorf("config: [%s] %s = %v seconds is not a duration", groupName(group), name, x)
		}
		return time.Duration(x * float64(time.Second)), nil
	}
	return 0, c.kindError(group, name, "a duration")
}

// List returns the value of a List or MultiString option (a copy).
func (c *Config) List(group, name string) ([]string, error) {
	v, err := c.get(group, name, List)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []string:
		return slices.Clone(x), nil
	}
	return nil, c.kindError(group, name, "a list")
}

// IsSet reports whether the files or the environment set the option
// (under its name or a deprecated one), rather than its default giving its
// value.
func (c *Config) IsSet(group, name string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	gname := groupName(group)
	if o := c.opt(gname, name); o != nil {
		return len(c.find(gname, o)) > 0
	}
	return len(c.find(gname, &Opt{Name: name, Kind: String})) > 0
}

// Raw returns the values a key is given in a section of the files, in the
// order read (every file, every assignment), as written: before
// interpolation and conversion, deprecated names not followed. It is nil
// when no file sets the key.
func (c *Config) Raw(group, key string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	sec := normalizeGroup(groupName(group))
	var out []string
	for _, f := range c.files {
		for _, v := range f.sections[sec][key] {
			out = append(out, v.text)
		}
	}
	return out
}

// Groups returns the groups that have registered options: DEFAULT first,
// then the others sorted.
func (c *Config) Groups() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.sortedGroups()
}

// Opts returns the options registered in group, in registration order.
func (c *Config) Opts(group string) []Opt {
	c.mu.RLock()
	defer c.mu.RUnlock()
	g := c.groups[groupName(group)]
	if g == nil {
		return nil
	}
	out := make([]Opt, len(g.opts))
	for i, o := range g.opts {
		out[i] = *o
		out[i].Choices = slices.Clone(o.Choices)
		out[i].Deprecated = slices.Clone(o.Deprecated)
	}
	return out
}

// Secret reports whether the value of the option must not be shown: the
// option is Secret, or a secret went into its value by interpolation, or
// (for an option that is not registered) its name suggests one.
func (c *Config) Secret(group, name string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	gname := groupName(group)
	if o := c.opt(gname, name); o != nil {
		return c.values[optKey{gname, o.Name}].tainted
	}
	return looksSecret(name)
}

// Files returns the files read, in order.
func (c *Config) Files() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.names)
}
