package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/oslo-go/messaging/config"
)

// runConfig is "config show" and "config sample".
func runConfig(args []string, stdout, stderr io.Writer) int {
	const cmd = name + " config"
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		w, code := stderr, 2
		if len(args) > 0 {
			w, code = stdout, 0
		}
		fmt.Fprintf(w, "usage: %s show|sample [flags]\n\n"+
			"  show    print the effective value of every messaging option, as JSON\n"+
			"  sample  print a commented sample configuration\n", cmd)
		return code
	}
	switch args[0] {
	case "show":
		return configShow(args[1:], stdout, stderr)
	case "sample":
		return configSample(args[1:], stdout, stderr)
	}
	return usageError(stderr, cmd, fmt.Sprintf("unknown subcommand %q", args[0]))
}

// configShow prints the groups' options and values as JSON.
func configShow(args []string, stdout, stderr io.Writer) int {
	var (
		files       config.Flags
		showSecrets bool
	)
	fs := newFlagSet("config show", "[--config-file F]... [--config-dir D]... [--group G]... [--show-secrets]",
		"Prints the value every messaging option takes from the configuration, as JSON {\"group\": {\"option\": value}}.")
	files.AddFlags(fs)
	fs.BoolVar(&showSecrets, "show-secrets", false, "print secret values (transport_url) instead of ****")
	return withGroups(fs, args, stdout, stderr, files.Load, func(conf *config.Config, groups []string) error {
		out, err := showJSON(conf, groups, showSecrets)
		if err == nil {
			_, err = stdout.Write(out)
		}
		return err
	})
}

// configSample prints the sample configuration of the groups.
func configSample(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("config sample", "[--group G]...",
		"Prints a commented sample configuration of the messaging options, as oslo-config-generator does.")
	return withGroups(fs, args, stdout, stderr, func(...config.LoadOption) (*config.Config, error) { return config.Load() },
		func(conf *config.Config, groups []string) error { return conf.WriteSample(stdout, groups...) })
}

// withGroups adds --group to fs, parses args, loads the configuration,
// checks the groups asked for and calls do with them; it returns the exit
// status.
func withGroups(fs *flag.FlagSet, args []string, stdout, stderr io.Writer,
	load func(...config.LoadOption) (*config.Config, error), do func(*config.Config, []string) error) int {
	var groups listFlag
	fs.Var(&groups, "group", "`group` to print; repeat for several (default: every messaging group)")
	if code := parse(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	conf, err := load()
	if err != nil {
		return fail(stderr, fs.Name(), err)
	}
	for _, g := range groups {
		if !slices.Contains(conf.Groups(), g) {
			return usageError(stderr, fs.Name(), fmt.Sprintf("no group %q; the groups are %v", g, conf.Groups()))
		}
	}
	if err := do(conf, groups); err != nil {
		return fail(stderr, fs.Name(), err)
	}
	return 0
}

// showJSON writes the options of groups (all when empty), in registration
// order, with their values.
func showJSON(conf *config.Config, groups []string, showSecrets bool) ([]byte, error) {
	if len(groups) == 0 {
		groups = conf.Groups()
	}
	var b bytes.Buffer
	b.WriteString("{")
	for i, g := range groups {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n  %s: {", jsonString(g))
		for j, o := range conf.Opts(g) {
			if j > 0 {
				b.WriteString(",")
			}
			v, err := conf.Value(g, o.Name)
			if err != nil {
				return nil, err
			}
			val := jsonValue(v)
			if conf.Secret(g, o.Name) && !showSecrets {
				val = jsonString("****")
			}
			fmt.Fprintf(&b, "\n    %s: %s", jsonString(o.Name), val)
		}
		b.WriteString("\n  }")
	}
	b.WriteString("\n}\n")
	return b.Bytes(), nil
}

// jsonValue writes a value as Python's json.dumps would, floats as
// Python's repr (1.0); NaN and infinities, which JSON lacks, as strings.
func jsonValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return jsonString(x)
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		switch {
		case math.IsNaN(x):
			return jsonString("nan")
		case math.IsInf(x, 1):
			return jsonString("inf")
		case math.IsInf(x, -1):
			return jsonString("-inf")
		}
		return pyFloat(x)
	case time.Duration:
		return jsonString(x.String())
	case []string:
		b := []byte("[")
		for i, s := range x {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, jsonString(s)...)
		}
		return string(append(b, ']'))
	}
	return jsonString(fmt.Sprint(v))
}

// pyFloat writes f as Python's repr does for finite floats.
func pyFloat(f float64) string {
	if abs := math.Abs(f); abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !bytes.ContainsAny([]byte(s), ".") {
		s += ".0"
	}
	return s
}

func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
