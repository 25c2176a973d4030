package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of an option, as oslo.config's Opt classes.
type Kind int

// The kinds of options; the zero Kind is String. The value of an option
// of each kind, as Value returns it, is in parentheses; nil stands for
// Python's None (no default, or a blank Int or Float).
const (
	String      Kind = iota // StrOpt (string)
	Bool                    // BoolOpt: true/false, on/off, yes/no, 1/0 in any case (bool)
	Int                     // IntOpt (int64; blank is nil)
	Float                   // FloatOpt (float64; blank is nil)
	List                    // ListOpt: comma-separated strings, each stripped ([]string)
	MultiString             // MultiStrOpt: one string per assignment of the key, across files ([]string)
	Duration                // a Go duration ("1m30s") or a number of seconds (time.Duration; blank is nil); not in oslo.config
)

var kindNames = map[Kind]string{
	String: "string value", Bool: "boolean value", Int: "integer value", Float: "floating point value",
	List: "list value", MultiString: "multi valued", Duration: "duration value",
}

// String returns the kind's name as oslo-config-generator writes it, for
// example "integer value".
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// multi reports whether the kind collects every assignment of the key.
func (k Kind) multi() bool { return k == MultiString }

// Opt declares an option, as oslo.config's Opt. Only Name and Kind are
// required.
type Opt struct {
	// Name is the option's name. A "-" in it is read as "_" in files (oslo's
	// dest).
	Name string
	Kind Kind // String when zero
	// Default is the value used when no file sets the option: a value of
	// the Kind's Go type (see Kind; any integer type for Int, an integer or
	// a float64 for Float), or a string read as a file's value would be. A
	// string default may refer to other options ("$state_path/x"). nil is
	// oslo's None.
	Default any
	// Help is the text of the sample file.
	Help string
	// Secret marks values that must not be shown: Show-style output and
	// errors print "****" instead (oslo's secret=True).
	Secret bool
	// Min and Max bound Int, Float and Duration (in seconds) values; see
	// Bound.
	Min, Max *float64
	// Choices, when set, are the only values a String accepts.
	Choices []string
	// Deprecated are the older names and sections that are still read
	// (oslo's deprecated_name, deprecated_group and deprecated_opts).
	Deprecated []DeprecatedName
	// DeprecatedForRemoval and DeprecatedReason are shown in the sample.
	DeprecatedForRemoval bool
	DeprecatedReason     string
}

// DeprecatedName is an older spelling of an option (oslo's DeprecatedOpt).
// An empty Group is the option's own group; an empty Name is the option's
// own name.
type DeprecatedName struct {
	Group string
	Name  string
}

// Bound returns a pointer to v, for Opt.Min and Opt.Max.
func Bound(v float64) *float64 { return &v }

// dest is the name under which files hold the option.
func (o *Opt) dest() string { return strings.ReplaceAll(o.Name, "-", "_") }

// names returns the (normalized section, key) pairs a file value of o in
// group may be found under, the current name first, as
// Opt._get_from_namespace builds them.
func (o *Opt) names(group string) [][2]string {
	names := [][2]string{{normalizeGroup(group), o.dest()}}
	add := func(g, n string) {
		if g == "" {
			g = group
		}
		if n == "" {
			n = o.dest()
		}
		names = append(names, [2]string{normalizeGroup(g), n})
	}
	for _, d := range o.Deprecated {
		add(d.Group, d.Name)
		if strings.Contains(d.Name, "-") {
			add(d.Group, strings.ReplaceAll(d.Name, "-", "_"))
		}
	}
	return names
}

// check validates the declaration and returns o with its default in the
// Kind's Go type.
func (o Opt) check() (Opt, error) {
	if o.Name == "" || strings.HasPrefix(o.Name, "_") {
		return o, fmt.Errorf("config: illegal option name %q", o.Name)
	}
	if _, ok := kindNames[o.Kind]; !ok {
		return o, fmt.Errorf("config: option %s: unknown kind %d", o.Name, int(o.Kind))
	}
	if o.Min != nil && o.Max != nil && *o.Max < *o.Min {
		return o, fmt.Errorf("config: option %s: Max is less than Min", o.Name)
	}
	d, err := o.normalizeDefault(o.Default)
	if err != nil {
		return o, fmt.Errorf("config: option %s: default %v: %w", o.Name, o.Default, err)
	}
	o.Default = d
	o.Choices = slices.Clone(o.Choices)
	o.Deprecated = slices.Clone(o.Deprecated)
	return o, nil
}

// normalizeDefault converts a default to the Kind's Go type. Strings that
// refer to other options stay strings, converted when read.
func (o *Opt) normalizeDefault(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if s, ok := v.(string); ok && o.Kind != String && o.Kind != List && o.Kind != MultiString {
		if hasReference(s) {
			return s, nil
		}
		return o.convert(s)
	}
	switch o.Kind {
	case String:
		s, ok := v.(string)
		if !ok {
			break
		}
		if !hasReference(s) {
			if _, err := o.convert(s); err != nil {
				return nil, err
			}
		}
		return s, nil
	case Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case Int:
		if n, ok := toInt64(v); ok {
			return n, o.checkRange(float64(n))
		}
	case Float:
		if n, ok := toInt64(v); ok {
			return float64(n), o.checkRange(float64(n))
		}
		if f, ok := v.(float64); ok {
			return f, o.checkRange(f)
		}
	case Duration:
		if d, ok := v.(time.Duration); ok {
			return d, o.checkRange(d.Seconds())
		}
	case List, MultiString:
		switch l := v.(type) {
		case []string:
			return slices.Clone(l), nil
		case string:
			if o.Kind == List {
				return l, nil // converted, after interpolation, when read
			}
			return []string{l}, nil
		}
	}
	return nil, fmt.Errorf("a %T is not a default for a %s option", v, o.Kind)
}

// toInt64 accepts any integer type.
func toInt64(v any) (int64, bool) {
	rv := reflect.ValueOf(v)
	switch {
	case rv.CanInt():
		return rv.Int(), true
	case rv.CanUint() && rv.Uint() <= math.MaxInt64:
		return int64(rv.Uint()), true
	}
	return 0, false
}

// convert turns one string (after interpolation) into the option's value,
// as the oslo_config.types classes do. For MultiString it converts one
// item.
func (o *Opt) convert(s string) (any, error) {
	switch o.Kind {
	case String, MultiString:
		if o.Choices != nil && !slices.Contains(o.Choices, s) {
			return nil, fmt.Errorf("valid values are [%s]", strings.Join(o.Choices, ", "))
		}
		return s, nil
	case Bool:
		switch pyLower(s) {
		case "true", "1", "on", "yes":
			return true, nil
		case "false", "0", "off", "no":
			return false, nil
		}
		return nil, errors.New("not a boolean (true/false, on/off, yes/no, 1/0)")
	case Int:
		if pyStrip(s) == "" {
			return nil, nil
		}
		n, err := pyInt(s)
		if errors.Is(err, errNumber) {
			return nil, errors.New("not an integer")
		} else if err != nil {
			return nil, err
		}
		return n, o.checkRange(float64(n))
	case Float:
		if pyStrip(s) == "" {
			return nil, nil
		}
		f, err := pyFloat(s)
		if err != nil {
			return nil, errors.New("not a number")
		}
		return f, o.checkRange(f)
	case Duration:
		t := pyStrip(s)
		if t == "" {
			return nil, nil
		}
		var d time.Duration
		if f, err := pyFloat(t); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < math.MaxInt64/1e9 {
			d = time.Duration(f * float64(time.Second))
		} else if d, err = time.ParseDuration(t); err != nil {
			return nil, errors.New(`not a duration ("1m30s", "500ms") or a number of seconds`)
		}
		return d, o.checkRange(d.Seconds())
	case List:
		return splitList(s), nil
	}
	return nil, fmt.Errorf("unknown kind %d", int(o.Kind))
}

// splitList is types.List with String items: strip, drop the trailing
// commas, split on commas, strip each item.
func splitList(s string) []string {
	s = strings.TrimRight(pyStrip(s), ",")
	if s == "" {
		return []string{}
	}
	items := strings.Split(s, ",")
	for i, it := range items {
		items[i] = pyStrip(it)
	}
	return items
}

// checkRange applies Min and Max as types.Number does (NaN passes, as in
// Python).
func (o *Opt) checkRange(x float64) error {
	if o.Min != nil && x < *o.Min {
		return fmt.Errorf("should be greater than or equal to %s", o.formatBound(*o.Min))
	}
	if o.Max != nil && x > *o.Max {
		return fmt.Errorf("should be less than or equal to %s", o.formatBound(*o.Max))
	}
	return nil
}

// formatBound writes a bound as Python writes the option type's min or
// max: an int for Int, a float otherwise.
func (o *Opt) formatBound(b float64) string {
	if o.Kind == Int {
		return strconv.FormatFloat(b, 'f', -1, 64)
	}
	return pyFloatRepr(b)
}

// hasReference reports whether s refers to another option, as
// Opt._default_is_ref tells.
func hasReference(s string) bool {
	s = strings.ReplaceAll(strings.ReplaceAll(s, `\$`, ""), "$$", "")
	return strings.Contains(s, "$")
}
