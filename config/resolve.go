package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxValueSize bounds the length of a value after interpolation, so that
// options referring to each other cannot grow without bound.
const MaxValueSize = 1 << 20

// ErrNoSuchOption is matched by errors about an option that is neither
// registered nor set in the files: a getter's, or an interpolation's
// ($name) that names none.
var ErrNoSuchOption = errors.New("config: no such option")

// noOption is an error matching ErrNoSuchOption.
type noOption struct{ msg string }

func (e *noOption) Error() string        { return e.msg }
func (e *noOption) Is(target error) bool { return target == ErrNoSuchOption }

func noSuchRef(name string) error { return &noOption{"$" + name + ": no such option"} }

// ValueError reports a value that does not convert to its option's kind,
// is out of range, is not one of the choices, or refers ($name) to an
// option that does not exist. It names where the value came from; the
// value of a secret option is "****".
type ValueError struct {
	File   string // the file, or "" for the environment and defaults
	Line   int    // the line of the assignment in File
	Env    string // the environment variable, when it set the value
	Group  string
	Option string
	Value  string // as written, before interpolation; "****" for secrets
	Err    error  // the reason
}

// Error implements the error interface.
func (e *ValueError) Error() string {
	where := "default"
	switch {
	case e.File != "":
		where = e.File + ":" + strconv.Itoa(e.Line)
	case e.Env != "":
		where = "environment variable " + e.Env
	}
	v := e.Value
	if v != masked {
		v = strconv.Quote(v)
	}
	return fmt.Sprintf("config: %s: [%s] %s = %s: %v", where, e.Group, e.Option, v, e.Err)
}

// Unwrap returns the reason.
func (e *ValueError) Unwrap() error { return e.Err }

// masked is what secrets are shown as (oslo's '****').
const masked = "****"

// stack tracks one resolution: the options being resolved (to detect
// loops) and the unregistered keys already interpolated.
type stack struct {
	active map[optKey]bool
	raw    map[optKey]resolved
}

func newStack() *stack { return &stack{active: map[optKey]bool{}, raw: map[optKey]resolved{}} }

// resolve computes (and, for registered options, caches) the value of o
// in group.
func (c *Config) resolve(gname string, o *Opt, st *stack) (resolved, error) {
	k := optKey{gname, o.Name}
	if r, ok := c.values[k]; ok {
		return r, nil
	}
	if st.active[k] {
		return resolved{}, fmt.Errorf("[%s] %s: interpolation loop", gname, o.Name)
	}
	st.active[k] = true
	defer delete(st.active, k)

	var (
		r   resolved
		err error
	)
	if raws := c.find(gname, o); len(raws) > 0 {
		r, err = c.resolveRaw(gname, o, raws, st)
	} else {
		def, ok := c.defaults[k]
		if !ok {
			def = o.Default
		}
		r, err = c.resolveDefault(gname, o, def, st)
	}
	if err != nil {
		return resolved{}, err
	}
	r.tainted = r.tainted || o.Secret
	c.values[k] = r
	return r, nil
}

// resolveRaw interpolates and converts values found in files.
func (c *Config) resolveRaw(gname string, o *Opt, raws []rawValue, st *stack) (resolved, error) {
	r := resolved{src: raws}
	var items []string
	for _, raw := range raws {
		s, tainted, err := c.substitute(raw.text, gname, st)
		if err == nil {
			var v any
			v, err = o.convert(s)
			if err == nil {
				r.tainted = r.tainted || tainted
				if !o.Kind.multi() {
					r.v = v
					return r, nil
				}
				items = append(items, v.(string))
				continue
			}
		}
		var ve *ValueError
		if errors.As(err, &ve) {
			return resolved{}, err
		}
		return resolved{}, c.valueError(gname, o, raw, tainted, err)
	}
	r.v = items
	return r, nil
}

// resolveDefault interpolates and converts a default.
func (c *Config) resolveDefault(gname string, o *Opt, def any, st *stack) (resolved, error) {
	fail := func(s string, tainted bool, err error) (resolved, error) {
		var ve *ValueError
		if errors.As(err, &ve) {
			return resolved{}, err
		}
		return resolved{}, c.valueError(gname, o, rawValue{text: s}, tainted, err)
	}
	switch d := def.(type) {
	case string:
		s, tainted, err := c.substitute(d, gname, st)
		if err != nil {
			return fail(d, tainted, err)
		}
		v, err := o.convert(s)
		if err != nil {
			return fail(d, tainted, err)
		}
		if o.Kind.multi() {
			v = []string{v.(string)}
		}
		return resolved{v: v, tainted: tainted}, nil
	case []string:
		r := resolved{v: []string{}}
		for _, item := range d {
			s, tainted, err := c.substitute(item, gname, st)
			if err != nil {
				return fail(item, tainted, err)
			}
			r.v = append(r.v.([]string), s)
			r.tainted = r.tainted || tainted
		}
		return r, nil
	}
	return resolved{v: def}, nil
}

func (c *Config) valueError(gname string, o *Opt, raw rawValue, tainted bool, err error) error {
	v := raw.text
	if o.Secret || tainted {
		v = masked
	}
	return &ValueError{File: raw.file, Line: raw.line, Env: raw.env, Group: gname, Option: o.Name, Value: v, Err: err}
}

// substitute expands $name, ${name} and ${group.name} in s as oslo's
// ConfigOpts._substitute does with string.Template.safe_substitute: "$$"
// (or "\$") is a "$", a "$" not followed by a name stays as it is, and a
// name is looked up in group, then in DEFAULT. It reports whether a secret
// went into the result.
func (c *Config) substitute(s, gname string, st *stack) (string, bool, error) {
	if !strings.Contains(s, "$") {
		return s, false, nil
	}
	s = strings.ReplaceAll(s, `\$`, "$$")
	var (
		b       strings.Builder
		tainted bool
	)
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		rest := s[i+1:]
		var name string
		switch {
		case strings.HasPrefix(rest, "$"):
			b.WriteByte('$')
			s = rest[1:]
			continue
		case idLen(rest) > 0:
			name = rest[:idLen(rest)]
			s = rest[len(name):]
		case strings.HasPrefix(rest, "{") && idLen(rest[1:]) > 0 && strings.HasPrefix(rest[1+idLen(rest[1:]):], "}"):
			name = rest[1 : 1+idLen(rest[1:])]
			s = rest[len(name)+2:]
		default:
			b.WriteByte('$')
			s = rest
			continue
		}
		v, t, err := c.lookupRef(name, gname, st)
		if err != nil {
			return "", tainted, err
		}
		tainted = tainted || t
		b.WriteString(v)
		if b.Len() > MaxValueSize {
			return "", tainted, fmt.Errorf("longer than %d bytes after interpolation", MaxValueSize)
		}
	}
	return b.String(), tainted, nil
}

// idLen returns the length of the name at the start of s: oslo's pattern
// [_a-z][._a-z0-9]*, matched ignoring case as Python's re does (which
// also lets U+0130, U+0131, U+017F and U+212A pass as letters).
func idLen(s string) int {
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		ok := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == 0x130 || r == 0x131 || r == 0x17f || r == 0x212a
		if n > 0 {
			ok = ok || r == '.' || r >= '0' && r <= '9'
		}
		if !ok {
			break
		}
		n += size
	}
	return n
}

// lookupRef returns the text a reference stands for: the value of a
// registered option (str() of it, as Python formats it), or, for a name
// no registered option has, its last value in the files (an extension:
// oslo fails, since the service registers every option it reads).
func (c *Config) lookupRef(name, gname string, st *stack) (string, bool, error) {
	ref := func(g string, o *Opt) (string, bool, error) {
		r, err := c.resolve(g, o, st)
		return pyStr(r.v), r.tainted, err
	}
	if g, n, dotted := strings.Cut(name, "."); dotted {
		if grp := c.groups[g]; grp != nil && g != DefaultGroup {
			if o := grp.byDest[n]; o != nil {
				return ref(g, o)
			}
			if a, ok := c.aliases[g][n]; ok {
				return ref(a.group, a.opt)
			}
		} else if grp == nil {
			if s, t, ok, err := c.rawRef(g, n, st); ok || err != nil {
				return s, t, err
			}
		}
		return "", false, noSuchRef(name)
	}
	for _, g := range []string{gname, DefaultGroup} {
		if o := c.opt(g, name); o != nil {
			return ref(g, o)
		}
		if a, ok := c.aliases[g][name]; ok {
			return ref(a.group, a.opt)
		}
	}
	if c.groups[name] != nil {
		return "", false, fmt.Errorf("$%s: substituting a group is not supported", name)
	}
	for _, g := range []string{gname, DefaultGroup} {
		if s, t, ok, err := c.rawRef(g, name, st); ok || err != nil {
			return s, t, err
		}
	}
	return "", false, noSuchRef(name)
}

// rawRef interpolates the last value of an unregistered key.
func (c *Config) rawRef(gname, key string, st *stack) (string, bool, bool, error) {
	k := optKey{gname, key}
	if r, ok := st.raw[k]; ok {
		return r.v.(string), r.tainted, true, nil
	}
	raw, ok := c.findRaw(gname, key)
	if !ok {
		return "", false, false, nil
	}
	if st.active[k] {
		return "", false, true, fmt.Errorf("$%s: interpolation loop", key)
	}
	st.active[k] = true
	defer delete(st.active, k)
	s, tainted, err := c.substitute(raw.text, gname, st)
	if err != nil {
		return "", false, true, err
	}
	tainted = tainted || looksSecret(key)
	st.raw[k] = resolved{v: s, tainted: tainted}
	return s, tainted, true, nil
}

// looksSecret guesses whether an unregistered option holds a secret.
func looksSecret(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"pass", "secret", "token", "key", "url", "connection", "credential", "auth"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// pyStr formats a value as Python's str() does, for interpolation.
func pyStr(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return pyFloatRepr(x)
	case time.Duration:
		return x.String()
	case []string:
		items := make([]string, len(x))
		for i, s := range x {
			items[i] = pyRepr(s)
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return fmt.Sprint(v)
}
