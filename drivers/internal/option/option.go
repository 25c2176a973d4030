// Package option reads driver settings from a transport URL's query and
// from the Go options given to transport.Open, the same way for every
// driver: oslo's option names and their deprecated aliases, oslo.config's
// spellings of booleans and numbers, defaults, unknown keys refused with
// the list of known ones, and errors that name the driver, the key and
// the value (unless the value is secret).
package option

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Spec is one setting a driver reads from the URL query into its
// configuration C.
type Spec[C any] struct {
	Name    string
	Aliases []string // other names oslo accepts (deprecated or misspelled)
	// Default is applied by [Table.Defaults]; "" applies nothing.
	Default string
	// Secret keeps the value out of error messages (URLs with passwords).
	Secret bool
	Set    func(c *C, v string) error
}

// Table is a driver's list of settings.
type Table[C any] struct {
	Driver string // the error prefix: "rabbit", "nats", ...
	Specs  []Spec[C]
}

// Lookup finds the spec for a name or alias.
func (t *Table[C]) Lookup(name string) *Spec[C] {
	for i := range t.Specs {
		s := &t.Specs[i]
		if s.Name == name || slices.Contains(s.Aliases, name) {
			return s
		}
	}
	return nil
}

// Names returns the sorted names of the settings (not their aliases).
func (t *Table[C]) Names() []string {
	names := make([]string, 0, len(t.Specs))
	for _, s := range t.Specs {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

// Defaults sets every setting that has a Default.
func (t *Table[C]) Defaults(c *C) error {
	for _, s := range t.Specs {
		if s.Default == "" {
			continue
		}
		if err := s.Set(c, s.Default); err != nil {
			return fmt.Errorf("%s: bad default for %s: %w", t.Driver, s.Name, err)
		}
	}
	return nil
}

// Set sets one setting by name or alias from its string form.
func (t *Table[C]) Set(c *C, name, value string) error {
	s := t.Lookup(name)
	if s == nil {
		return fmt.Errorf("%s: unknown option %q; known options: %s", t.Driver, name, strings.Join(t.Names(), ", "))
	}
	if err := s.Set(c, value); err != nil {
		if s.Secret {
			return fmt.Errorf("%s: option %s: invalid value: %w", t.Driver, name, err)
		}
		return fmt.Errorf("%s: option %s=%q: %w", t.Driver, name, value, err)
	}
	return nil
}

// Query sets the settings of a URL query, in sorted key order. Unknown
// keys fail, all of them named at once.
func (t *Table[C]) Query(c *C, query map[string]string) error {
	keys := make([]string, 0, len(query))
	var unknown []string
	for k := range query {
		if t.Lookup(k) == nil {
			unknown = append(unknown, k)
		}
		keys = append(keys, k)
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("%s: unknown URL query parameter(s) %s; known: %s",
			t.Driver, strings.Join(unknown, ", "), strings.Join(t.Names(), ", "))
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := t.Set(c, k, query[k]); err != nil {
			return err
		}
	}
	return nil
}

// Func is a driver's Go option (the value its option functions wrap with
// transport.WithDriverOption). The type parameter keeps the options of
// different drivers apart.
type Func[C any] struct {
	Name  string
	Apply func(*C) error
}

// Funcs applies the Go options given to transport.Open; a value that is
// not a Func[C] is another driver's option and fails.
func Funcs[C any](driver string, c *C, opts []any) error {
	for _, v := range opts {
		f, ok := v.(Func[C])
		if !ok {
			return fmt.Errorf("%s: unknown driver option of type %T (an option of another driver?)", driver, v)
		}
		if err := f.Apply(c); err != nil {
			if strings.HasPrefix(err.Error(), driver+": ") {
				return err // it names the driver and the option already
			}
			return fmt.Errorf("%s: option %s: %w", driver, f.Name, err)
		}
	}
	return nil
}

// Bool parses oslo.config's boolean spellings.
func Bool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on", "y", "t":
		return true, nil
	case "false", "0", "no", "off", "n", "f":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// Int parses an integer in [min, max].
func Int(v string, min, max int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, errors.New("not an integer")
	}
	if n < min {
		return 0, fmt.Errorf("%d is below the minimum %d", n, min)
	}
	if n > max {
		return 0, fmt.Errorf("%d is above the maximum %d", n, max)
	}
	return n, nil
}

// Seconds parses a number of seconds in [min, max] (oslo's IntOpt and
// FloatOpt durations).
func Seconds(v string, min, max float64) (time.Duration, error) {
	x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, errors.New("not a number of seconds")
	}
	if x < min || x > max {
		return 0, fmt.Errorf("%v is outside %v..%v", x, min, max)
	}
	return time.Duration(x * float64(time.Second)), nil
}

// Duration parses a Go duration ("500ms", "2s") or a number of seconds
// (oslo's unit). Negative durations fail, and so does zero unless zeroOK.
func Duration(v string, zeroOK bool) (time.Duration, error) {
	v = strings.TrimSpace(v)
	var d time.Duration
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		if f*float64(time.Second) > math.MaxInt64 {
			return 0, errors.New("too long")
		}
		d = time.Duration(f * float64(time.Second))
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, errors.New("not a duration such as 2s, 500ms or a number of seconds")
	}
	if d < 0 || (d == 0 && !zeroOK) {
		return 0, errors.New("not a positive duration")
	}
	return d, nil
}

// OneOf checks that v is one of choices.
func OneOf(v string, choices ...string) error {
	if slices.Contains(choices, v) {
		return nil
	}
	return fmt.Errorf("not one of %s", strings.Join(choices, ", "))
}

// Setters for the common kinds of setting, for Spec.Set.

// BoolField sets the bool f points at.
func BoolField[C any](f func(*C) *bool) func(*C, string) error {
	return func(c *C, v string) error {
		b, err := Bool(v)
		if err == nil {
			*f(c) = b
		}
		return err
	}
}

// IntField sets the int f points at from an integer of at least min;
// values above max are taken as max (oslo's IntOpts have no upper bound,
// the broker fields do).
func IntField[C any](lo, hi int64, f func(*C) *int) func(*C, string) error {
	return func(c *C, v string) error {
		n, err := Int(v, lo, math.MaxInt64)
		if err == nil {
			*f(c) = int(min(n, hi))
		}
		return err
	}
}

// Int64Field is IntField for an int64.
func Int64Field[C any](lo, hi int64, f func(*C) *int64) func(*C, string) error {
	return func(c *C, v string) error {
		n, err := Int(v, lo, math.MaxInt64)
		if err == nil {
			*f(c) = min(n, hi)
		}
		return err
	}
}

// SecondsField sets the duration f points at, from seconds in [min, max].
func SecondsField[C any](min, max float64, f func(*C) *time.Duration) func(*C, string) error {
	return func(c *C, v string) error {
		d, err := Seconds(v, min, max)
		if err == nil {
			*f(c) = d
		}
		return err
	}
}

// DurationField sets the duration f points at (see [Duration]).
func DurationField[C any](zeroOK bool, f func(*C) *time.Duration) func(*C, string) error {
	return func(c *C, v string) error {
		d, err := Duration(v, zeroOK)
		if err == nil {
			*f(c) = d
		}
		return err
	}
}

// StringField sets the string f points at; with choices, v must be one
// of them.
func StringField[C any](f func(*C) *string, choices ...string) func(*C, string) error {
	return func(c *C, v string) error {
		if len(choices) > 0 {
			if err := OneOf(v, choices...); err != nil {
				return err
			}
		}
		*f(c) = v
		return nil
	}
}
