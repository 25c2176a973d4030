package notify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/oslo-go/messaging/internal/wire"
	"go.yaml.in/yaml/v3"
)

// RoutingRule is one driver entry of the routing driver's configuration:
// the driver gets a notification when its priority matches one of
// Priorities and its event type matches one of Events. The rules of one
// entry are ANDed; separate entries (and groups) are ORed, and a driver
// accepted by several entries still gets the notification once.
//
// Patterns are shell patterns as Python's fnmatch understands them ("*",
// "?", "[seq]", "[!seq]"; "*" also matches "."). Priorities are matched
// case-insensitively, event types case-sensitively. A nil list does not
// constrain; an empty non-nil list matches nothing, as in oslo.
type RoutingRule struct {
	// Driver names the driver: any driver but "routing".
	Driver string
	// Priorities are oslo's accepted_priorities.
	Priorities []string
	// Events are oslo's accepted_events.
	Events []string
}

// RoutingConfig makes the routing driver load its rules from the YAML file
// at path (oslo's [oslo_messaging_notifications] routing_config), in
// oslo's format:
//
//	group_1:
//	  messagingv2:
//	    accepted_priorities: ['info', 'error']
//	  log:
//	    accepted_events: ['compute.instance.*', 'volume.*']
//	group_2:
//	  log:
//	    accepted_priorities: ['critical']
//	    accepted_events: ['compute.*.error']
//
// The file is read by New. It is used only with Driver("routing").
func RoutingConfig(path string) Option {
	return optionFunc(func(o *notifierOptions) { o.routingFiles = append(o.routingFiles, path) })
}

// RoutingRules gives the routing driver rules directly, in addition to
// those of RoutingConfig. They are used only with Driver("routing").
func RoutingRules(rules ...RoutingRule) Option {
	return optionFunc(func(o *notifierOptions) { o.routingRules = append(o.routingRules, rules...) })
}

type compiledRule struct {
	driver             string
	priorities, events []*regexp.Regexp // nil: any
}

// routingDriver hands each notification to the drivers whose rules accept
// it (oslo's RoutingDriver).
type routingDriver struct {
	c       *core
	rules   []compiledRule
	names   []string // sorted: the order drivers are called in
	drivers map[string]notifyDriver
}

func newRoutingDriver(c *core, o *notifierOptions) (*routingDriver, error) {
	if len(o.routingFiles) == 0 && o.routingRules == nil {
		return nil, errors.New("notify: the routing driver needs RoutingConfig or RoutingRules")
	}
	rules := slices.Clone(o.routingRules)
	for _, path := range o.routingFiles {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("notify: routing config: %w", err)
		}
		rs, err := ParseRoutingConfig(data)
		if err != nil {
			return nil, fmt.Errorf("%w (in %s)", err, path)
		}
		rules = append(rules, rs...)
	}
	d := &routingDriver{c: c, drivers: map[string]notifyDriver{}}
	for _, r := range rules {
		cr, err := compileRule(r)
		if err != nil {
			return nil, err
		}
		d.rules = append(d.rules, cr)
		if _, ok := d.drivers[r.Driver]; ok {
			continue
		}
		if r.Driver == "routing" {
			return nil, errors.New("notify: routing rules cannot name the routing driver")
		}
		sub, err := newDriver(r.Driver, c, o)
		if err != nil {
			return nil, fmt.Errorf("notify: routing rule: %s", strings.TrimPrefix(err.Error(), "notify: "))
		}
		d.drivers[r.Driver] = sub
		d.names = append(d.names, r.Driver)
	}
	sort.Strings(d.names)
	return d, nil
}

func compileRule(r RoutingRule) (compiledRule, error) {
	cr := compiledRule{driver: r.Driver}
	compile := func(pats []string, lower bool) ([]*regexp.Regexp, error) {
		if pats == nil {
			return nil, nil
		}
		out := make([]*regexp.Regexp, 0, len(pats))
		for _, p := range pats {
			if lower {
				p = strings.ToLower(p)
			}
			re, err := compileFnmatch(p)
			if err != nil {
				return nil, fmt.Errorf("notify: routing rule for %s: pattern %q: %w", r.Driver, p, err)
			}
			out = append(out, re)
		}
		return out, nil
	}
	var err error
	if cr.priorities, err = compile(r.Priorities, true); err != nil {
		return cr, err
	}
	if cr.events, err = compile(r.Events, false); err != nil {
		return cr, err
	}
	if r.Priorities != nil && cr.priorities == nil {
		cr.priorities = []*regexp.Regexp{}
	}
	if r.Events != nil && cr.events == nil {
		cr.events = []*regexp.Regexp{}
	}
	return cr, nil
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	if res == nil {
		return true
	}
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func (r compiledRule) accepts(priority, eventType string) bool {
	return anyMatch(r.priorities, priority) && anyMatch(r.events, eventType)
}

func (d *routingDriver) notify(ctx context.Context, n *wire.Notification, retry int) error {
	prio := strings.ToLower(n.Priority)
	accepted := map[string]bool{}
	for _, r := range d.rules {
		if !accepted[r.driver] && r.accepts(prio, n.EventType) {
			accepted[r.driver] = true
		}
	}
	var errs []error
	for _, name := range d.names {
		if !accepted[name] {
			continue
		}
		d.c.logger.Debug("notify: routing notification", "event_type", n.EventType, "driver", name)
		if err := d.drivers[name].notify(ctx, n, retry); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ParseRoutingConfig parses the routing driver's YAML configuration (see
// RoutingConfig) into rules, one per driver entry of each group. Keys of
// an entry other than accepted_priorities and accepted_events are ignored,
// as in oslo. An empty document gives no rules.
func ParseRoutingConfig(data []byte) ([]RoutingRule, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("notify: routing config: %w", err)
	}
	var rules []RoutingRule
	for _, group := range slices.Sorted(maps.Keys(doc)) {
		drivers, ok := doc[group].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("notify: routing config: group %q: want a mapping of driver names to rules", group)
		}
		for _, name := range slices.Sorted(maps.Keys(drivers)) {
			entry, ok := drivers[name].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("notify: routing config: group %q, driver %q: want a mapping with accepted_priorities and/or accepted_events", group, name)
			}
			r := RoutingRule{Driver: name}
			for key, val := range entry {
				var dst *[]string
				switch key {
				case "accepted_priorities":
					dst = &r.Priorities
				case "accepted_events":
					dst = &r.Events
				default:
					continue
				}
				list, ok := val.([]any)
				if !ok {
					return nil, fmt.Errorf("notify: routing config: group %q, driver %q: %s: want a list of patterns", group, name, key)
				}
				*dst = make([]string, 0, len(list))
				for _, p := range list {
					s, ok := p.(string)
					if !ok {
						return nil, fmt.Errorf("notify: routing config: group %q, driver %q: %s: pattern %v is not a string", group, name, key, p)
					}
					*dst = append(*dst, s)
				}
			}
			rules = append(rules, r)
		}
	}
	return rules, nil
}

// compileFnmatch compiles a shell pattern as Python's fnmatch.translate
// does: "*" matches any run of characters (including "/" and "."), "?" one
// character, "[seq]" and "[!seq]" a character class; a "[" without its
// "]" is literal. The whole string must match.
func compileFnmatch(pat string) (*regexp.Regexp, error) {
	rs := []rune(pat)
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for i := 0; i < len(rs); {
		c := rs[i]
		i++
		switch c {
		case '*':
			for i < len(rs) && rs[i] == '*' {
				i++
			}
			b.WriteString(".*")
		case '?':
			b.WriteByte('.')
		case '[':
			j := i
			if j < len(rs) && rs[j] == '!' {
				j++
			}
			if j < len(rs) && rs[j] == ']' {
				j++
			}
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j >= len(rs) {
				b.WriteString(`\[`)
				continue
			}
			set := rs[i:j]
			i = j + 1
			b.WriteByte('[')
			if len(set) > 0 && set[0] == '!' {
				b.WriteByte('^')
				set = set[1:]
			}
			for _, sc := range set {
				if sc == '-' {
					b.WriteByte('-')
					continue
				}
				b.WriteString(regexp.QuoteMeta(string(sc)))
			}
			b.WriteByte(']')
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteByte('$')
	return regexp.Compile(b.String())
}
