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
		v := c.values[optKey{gname, o.Name}].v
		if l, ok := v.([]string); ok {
			return slices.Clone(l), nil
		}
		return v, nil
	}
	o := &Opt{Name: name, Kind: kind}
	raws := c.find(gname, o)
	if len(raws) == 0 {
		return nil, &noOption{fmt.Sprintf("config: no such option [%s] %s", gname, name)}
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

// getAs returns the value of an option converted by conv, the zero T
// for None.
func getAs[T any](c *Config, group, name string, kind Kind, want string, conv func(any) (T, bool, error)) (T, error) {
	var zero T
	v, err := c.get(group, name, kind)
	if err != nil || v == nil {
		return zero, err
	}
	x, ok, err := conv(v)
	if !ok {
		return zero, c.kindError(group, name, want)
	}
	return x, err
}

// String returns the value of a String option ("" for None).
func (c *Config) String(group, name string) (string, error) {
	return getAs(c, group, name, String, "a string", func(v any) (string, bool, error) {
		s, ok := v.(string)
		return s, ok, nil
	})
}

// Int returns the value of an Int option (0 for None).
func (c *Config) Int(group, name string) (int, error) {
	return getAs(c, group, name, Int, "an integer", func(v any) (int, bool, error) {
		x, ok := v.(int64)
		if ok && (x > math.MaxInt || x < math.MinInt) {
			return 0, true, fmt.Errorf("config: [%s] %s = %d overflows int", groupName(group), name, x)
		}
		return int(x), ok, nil
	})
}

// Bool returns the value of a Bool option.
func (c *Config) Bool(group, name string) (bool, error) {
	return getAs(c, group, name, Bool, "a boolean", func(v any) (bool, bool, error) {
		b, ok := v.(bool)
		return b, ok, nil
	})
}

// Float returns the value of a Float or Int option (0 for None).
func (c *Config) Float(group, name string) (float64, error) {
	return getAs(c, group, name, Float, "a number", func(v any) (float64, bool, error) {
		if n, ok := v.(int64); ok {
			return float64(n), true, nil
		}
		f, ok := v.(float64)
		return f, ok, nil
	})
}

// Duration returns the value of a Duration option, or of an Int or Float
// option as a number of seconds (oslo's timeouts); 0 for None.
func (c *Config) Duration(group, name string) (time.Duration, error) {
	return getAs(c, group, name, Duration, "a duration", func(v any) (time.Duration, bool, error) {
		secs := 0.0
		switch x := v.(type) {
		case time.Duration:
			return x, true, nil
		case int64:
			secs = float64(x)
		case float64:
			secs = x
		default:
			return 0, false, nil
		}
		if math.IsNaN(secs) || math.Abs(secs) > math.MaxInt64/1e9 {
			return 0, true, fmt.Errorf("config: [%s] %s = %v seconds is not a duration", groupName(group), name, v)
		}
		return time.Duration(secs * float64(time.Second)), true, nil
	})
}

// List returns the value of a List or MultiString option (a copy).
func (c *Config) List(group, name string) ([]string, error) {
	return getAs(c, group, name, List, "a list", func(v any) ([]string, bool, error) {
		l, ok := v.([]string)
		return l, ok, nil
	})
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
