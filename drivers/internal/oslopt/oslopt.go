// Package oslopt parses driver options given by their oslo.config names,
// as URL query parameters or Go options: a table of named options with
// defaults, setters for oslo's option types, and oslo.config's boolean
// spellings.
package oslopt

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Spec is one option of a driver's options struct O.
type Spec[O any] struct {
	Name    string
	Default string
	Set     func(o *O, value string) error
}

// Table is the options of a driver, for error messages prefixed with
// Prefix ("amqp1").
type Table[O any] struct {
	Prefix string
	Specs  []Spec[O]
}

// Defaults sets every option of o to its default; a bad default panics.
func (t *Table[O]) Defaults(o *O) {
	for _, s := range t.Specs {
		if err := s.Set(o, s.Default); err != nil {
			panic(t.Prefix + ": bad default for " + s.Name + ": " + err.Error())
		}
	}
}

// Set sets option name of o from its string form.
func (t *Table[O]) Set(o *O, name, value string) error {
	for _, s := range t.Specs {
		if s.Name == name {
			if err := s.Set(o, value); err != nil {
				return fmt.Errorf("%s: option %s: %v", t.Prefix, name, err)
			}
			return nil
		}
	}
	names := make([]string, 0, len(t.Specs))
	for _, s := range t.Specs {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return fmt.Errorf("%s: unknown option %q; known options: %s", t.Prefix, name, strings.Join(names, ", "))
}

// SetAll sets the options of query, in the order of their names.
func (t *Table[O]) SetAll(o *O, query map[string]string) error {
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := t.Set(o, k, query[k]); err != nil {
			return err
		}
	}
	return nil
}

// ParseBool accepts oslo.config's boolean spellings.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on", "y", "t":
		return true, nil
	case "false", "0", "no", "off", "n", "f":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", v)
}

// Bool is the setter of a BoolOpt.
func Bool[O any](field func(*O) *bool) func(*O, string) error {
	return func(o *O, v string) error {
		b, err := ParseBool(v)
		if err != nil {
			return err
		}
		*field(o) = b
		return nil
	}
}

// Int is the setter of an IntOpt with a minimum.
func Int[O any](lo int64, set func(*O, int)) func(*O, string) error {
	return func(o *O, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		if n < lo {
			return fmt.Errorf("%d is below the minimum %d", n, lo)
		}
		set(o, int(n))
		return nil
	}
}

// String is the setter of a StrOpt, limited to choices when there are
// any.
func String[O any](field func(*O) *string, choices ...string) func(*O, string) error {
	return func(o *O, v string) error {
		if len(choices) > 0 && !slices.Contains(choices, v) {
			return fmt.Errorf("%q is not one of %s", v, strings.Join(choices, ", "))
		}
		*field(o) = v
		return nil
	}
}
