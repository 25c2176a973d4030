package config

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// sampleWidth is oslo-config-generator's default wrap width.
const sampleWidth = 70

// WriteSample writes a commented sample configuration of groups (every
// registered group when none is given), DEFAULT first and the others
// sorted, in oslo-config-generator's format: each option's help wrapped at
// 70 columns, its type, bounds, choices and deprecated names, and the
// option commented out with its default. For oslo.messaging's options the
// text is the generator's.
func (c *Config) WriteSample(w io.Writer, groups ...string) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	all := c.sortedGroups()
	if len(groups) == 0 {
		groups = all
	}
	bw := bufio.NewWriter(w)
	first := true
	for _, name := range all {
		if !slices.Contains(groups, name) {
			continue
		}
		if !first {
			bw.WriteString("\n\n")
		}
		first = false
		fmt.Fprintf(bw, "[%s]\n", name)
		if ns := namespaceOf(name); ns != "" {
			fmt.Fprintf(bw, "\n#\n# From %s\n#\n", ns)
		}
		for _, o := range c.groups[name].opts {
			bw.WriteString("\n")
			c.writeOpt(bw, name, o)
		}
	}
	for _, g := range groups {
		if c.groups[g] == nil {
			return fmt.Errorf("config: no group %s", g)
		}
	}
	return bw.Flush()
}

// namespaceOf returns the sample's namespace of the options of a group
// this package registers ("" for others).
func namespaceOf(group string) string {
	for _, g := range messagingGroups {
		if g.name == group {
			return g.namespace
		}
	}
	return ""
}

// writeOpt is the generator's _OptFormatter.format.
func (c *Config) writeOpt(w *bufio.Writer, group string, o *Opt) {
	prefix := ""
	if o.DeprecatedForRemoval && !strings.HasPrefix(o.Help, "DEPRECATED") {
		prefix = "DEPRECATED: "
	}
	help := "(" + o.Kind.String() + ")"
	if o.Help != "" {
		help = prefix + o.Help + " " + help
	}
	writeHelp(w, help)
	if o.Min != nil {
		fmt.Fprintf(w, "# Minimum value: %s\n", o.formatBound(*o.Min))
	}
	if o.Max != nil {
		fmt.Fprintf(w, "# Maximum value: %s\n", o.formatBound(*o.Max))
	}
	if len(o.Choices) > 0 {
		w.WriteString("# Possible values:\n")
		for _, ch := range o.Choices {
			if ch == "" {
				ch = "''"
			}
			writeHelp(w, ch+" - <No description provided>")
		}
	}
	for _, d := range o.Deprecated {
		if d.Name != "" && !strings.Contains(d.Name, "-") {
			g := d.Group
			if g == "" {
				g = group
			}
			fmt.Fprintf(w, "# Deprecated group/name - [%s]/%s\n", g, d.Name)
		}
	}
	if o.DeprecatedForRemoval {
		w.WriteString("# This option is deprecated for removal.\n# Its value may be silently ignored in the future.\n")
		if o.DeprecatedReason != "" {
			writeHelp(w, "Reason: "+o.DeprecatedReason)
		}
	}
	def, ok := c.defaults[optKey{group, o.Name}]
	if !ok {
		def = o.Default
	}
	for _, d := range sampleDefaults(o, def) {
		if d != "" {
			d = " " + strings.ReplaceAll(d, "\n", "\n#    ")
		}
		fmt.Fprintf(w, "#%s =%s\n", o.dest(), d)
	}
}

// sampleDefaults is the types' format_defaults: one line per default.
func sampleDefaults(o *Opt, def any) []string {
	quote := func(s string) string {
		if pyStrip(s) != s {
			return `"` + s + `"`
		}
		return s
	}
	switch d := def.(type) {
	case nil:
		if o.Kind.multi() {
			return []string{""}
		}
		return []string{"<None>"}
	case string:
		if o.Kind == List {
			return []string{d}
		}
		return []string{quote(d)}
	case bool:
		return []string{fmt.Sprint(d)}
	case float64:
		return []string{pyFloatRepr(d)}
	case time.Duration:
		return []string{d.String()}
	case []string:
		if o.Kind.multi() {
			if len(d) == 0 {
				return []string{""}
			}
			out := make([]string, len(d))
			for i, s := range d {
				out[i] = quote(s)
			}
			return out
		}
		items := make([]string, len(d))
		for i, s := range d {
			items[i] = quote(s)
		}
		return []string{strings.Join(items, ",")}
	}
	return []string{pyStr(def)}
}

// writeHelp writes text as "# " comment lines wrapped at sampleWidth, as
// the generator's _format_help does with textwrap.
func writeHelp(w *bufio.Writer, text string) {
	for _, line := range strings.Split(text, "\n") {
		wrapped := wrap(line, sampleWidth, "# ")
		if len(wrapped) == 0 {
			w.WriteString("#\n")
			continue
		}
		for _, l := range wrapped {
			w.WriteString(l)
			w.WriteByte('\n')
		}
	}
}

// wrap is Python's textwrap.wrap(text, width, initial_indent=indent,
// subsequent_indent=indent, break_long_words=False,
// replace_whitespace=False): tabs expanded, words split at white space and
// after hyphens inside words, lines filled greedily, white space dropped at
// line ends.
func wrap(text string, width int, indent string) []string {
	chunks := wordChunks(expandTabs(text))
	var lines []string
	n := utf8.RuneCountInString
	room := width - n(indent)
	for len(chunks) > 0 {
		if isBlank(chunks[0]) && len(lines) > 0 {
			chunks = chunks[1:]
		}
		var cur []string
		curLen := 0
		for len(chunks) > 0 && curLen+n(chunks[0]) <= room {
			cur = append(cur, chunks[0])
			curLen += n(chunks[0])
			chunks = chunks[1:]
		}
		if len(chunks) > 0 && n(chunks[0]) > room && len(cur) == 0 {
			cur = append(cur, chunks[0])
			chunks = chunks[1:]
		}
		if len(cur) > 0 && isBlank(cur[len(cur)-1]) {
			cur = cur[:len(cur)-1]
		}
		if len(cur) > 0 {
			lines = append(lines, indent+strings.Join(cur, ""))
		}
	}
	return lines
}

func isBlank(s string) bool { return pyStrip(s) == "" }

// expandTabs is str.expandtabs(8).
func expandTabs(s string) string {
	if !strings.Contains(s, "\t") {
		return s
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		switch r {
		case '\t':
			b.WriteString(strings.Repeat(" ", 8-col%8))
			col += 8 - col%8
		case '\n', '\r':
			b.WriteRune(r)
			col = 0
		default:
			b.WriteRune(r)
			col++
		}
	}
	return b.String()
}

// textwrap's character classes.
func twSpace(r rune) bool {
	return r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' || r == ' '
}
func twWord(r rune) bool   { return r == '_' || unicode.IsLetter(r) || unicode.Is(unicode.N, r) }
func twLetter(r rune) bool { return twWord(r) && !unicode.IsDigit(r) }
func twPunct(r rune) bool  { return twWord(r) || strings.ContainsRune("!\"'&.,?", r) }

// wordChunks splits text as TextWrapper.wordsep_re does (with
// break_on_hyphens): runs of white space, em-dashes ("--") between words,
// and words, a word ending after a hyphen that joins two letters.
func wordChunks(text string) []string {
	rs := []rune(text)
	at := func(i int) rune {
		if i < 0 || i >= len(rs) {
			return -1
		}
		return rs[i]
	}
	dashes := func(i int) bool { // -{2,}\w at i
		j := i
		for at(j) == '-' {
			j++
		}
		return j-i >= 2 && j < len(rs) && twWord(rs[j])
	}
	var chunks []string
	for i := 0; i < len(rs); {
		start := i
		switch {
		case twSpace(rs[i]):
			for i < len(rs) && twSpace(rs[i]) {
				i++
			}
		case i > 0 && twPunct(rs[i-1]) && dashes(i):
			for at(i) == '-' {
				i++
			}
		default:
			for j := i + 1; ; j++ {
				// j is a candidate end of the lazy run of non-space rs[i:j].
				if at(j) == '-' &&
					(twLetter(at(j-2)) && twLetter(at(j-1)) || twLetter(at(j-3)) && at(j-2) == '-' && twLetter(at(j-1))) &&
					(twLetter(at(j+1)) && twLetter(at(j+2)) || twLetter(at(j+1)) && at(j+2) == '-' && twLetter(at(j+3))) {
					i = j + 1
					break
				}
				if j >= len(rs) || twSpace(rs[j]) || twPunct(at(j-1)) && dashes(j) {
					i = j
					break
				}
			}
		}
		chunks = append(chunks, string(rs[start:i]))
	}
	return chunks
}
