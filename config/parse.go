package config

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxFileSize bounds the size of one configuration file.
const MaxFileSize = 16 << 20

// rawValue is one assignment as written in a file (or the environment),
// before interpolation and conversion.
type rawValue struct {
	text string
	file string // "" for the environment
	line int
	env  string // the environment variable, when file is ""
}

// file is one parsed configuration file: sections by normalized name,
// each with its keys and their values in file order.
type file struct {
	name     string
	sections map[string]map[string][]rawValue
}

// ParseError reports a file that oslo.config's parser refuses. It names
// the file and the line, not the line's text, which may hold a secret.
type ParseError struct {
	File   string
	Line   int
	Reason string // oslo's message, for example "No ':' or '=' found in assignment"
}

// Error implements the error interface.
func (e *ParseError) Error() string {
	return fmt.Sprintf("config: %s:%d: %s", e.File, e.Line, e.Reason)
}

// normalizeGroup is oslo's _normalize_group_name: section names are case
// insensitive, except that only "DEFAULT" is the default section.
func normalizeGroup(name string) string {
	if name == "DEFAULT" {
		return name
	}
	return pyLower(name)
}

// parseFile parses data as oslo_config.iniparser.BaseParser and
// cfg.ConfigParser do:
//
//   - lines end with \n, \r\n or \r; trailing white space is dropped;
//   - a blank line ends a multi-line value;
//   - a line starting with a space or a tab continues the previous value
//     (its leading white space dropped, joined with "\n");
//   - "[name]" starts a section; "#" and ";" start comments, at the start
//     of a line only;
//   - "key = value" or "key: value" (the first of "=" and ":" splits),
//     key and value stripped, one pair of matching quotes around the value
//     removed; a key may repeat (multi-valued options);
//   - an assignment before any section is an error.
func parseFile(name string, data []byte) (*file, error) {
	if !utf8.Valid(data) {
		return nil, &ParseError{File: name, Line: invalidUTF8Line(data), Reason: "not valid UTF-8"}
	}
	f := &file{name: name, sections: map[string]map[string][]rawValue{}}
	var (
		section  map[string][]rawValue
		key      string
		value    []string
		keyLine  int
		lineno   int
		haveKey  bool
		text     = string(data)
		flushErr error
	)
	flush := func() {
		haveKey = false
		if section == nil {
			flushErr = &ParseError{File: name, Line: keyLine, Reason: "Section must be started before assignment"}
			return
		}
		section[key] = append(section[key], rawValue{text: strings.Join(value, "\n"), file: name, line: keyLine})
	}
	for len(text) > 0 {
		var line string
		line, text = nextLine(text)
		lineno++
		line = pyRstrip(line)
		switch {
		case line == "":
			if haveKey {
				flush()
			}
		case line[0] == ' ' || line[0] == '\t':
			if !haveKey {
				return nil, &ParseError{File: name, Line: lineno, Reason: "Unexpected continuation line"}
			}
			value = append(value, pyLstrip(line))
		default:
			if haveKey {
				flush()
				if flushErr != nil {
					return nil, flushErr
				}
			}
			switch line[0] {
			case '[':
				if !strings.HasSuffix(line, "]") {
					return nil, &ParseError{File: name, Line: lineno, Reason: "Invalid section (must end with ])"}
				}
				if len(line) <= 2 {
					return nil, &ParseError{File: name, Line: lineno, Reason: "Empty section name"}
				}
				norm := normalizeGroup(line[1 : len(line)-1])
				if f.sections[norm] == nil {
					f.sections[norm] = map[string][]rawValue{}
				}
				section = f.sections[norm]
			case '#', ';':
			default:
				k, v, ok := splitKeyValue(line)
				if !ok {
					return nil, &ParseError{File: name, Line: lineno, Reason: "No ':' or '=' found in assignment"}
				}
				if k == "" {
					return nil, &ParseError{File: name, Line: lineno, Reason: "Key cannot be empty"}
				}
				key, value, keyLine, haveKey = k, []string{v}, lineno, true
			}
		}
		if flushErr != nil {
			return nil, flushErr
		}
	}
	if haveKey {
		flush()
	}
	if flushErr != nil {
		return nil, flushErr
	}
	return f, nil
}

// nextLine splits off the first line of text, as Python's universal
// newlines do (\n, \r\n or \r), without its end.
func nextLine(text string) (line, rest string) {
	i := strings.IndexAny(text, "\r\n")
	if i < 0 {
		return text, ""
	}
	if text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n' {
		return text[:i], text[i+2:]
	}
	return text[:i], text[i+1:]
}

// splitKeyValue is BaseParser._split_key_value.
func splitKeyValue(line string) (key, value string, ok bool) {
	colon := strings.IndexByte(line, ':')
	equal := strings.IndexByte(line, '=')
	switch {
	case colon < 0 && equal < 0:
		return "", "", false
	case colon < 0 || equal >= 0 && equal < colon:
		key, value = line[:equal], line[equal+1:]
	default:
		key, value = line[:colon], line[colon+1:]
	}
	value = pyStrip(value)
	if value != "" && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
		if len(value) == 1 {
			value = ""
		} else {
			value = value[1 : len(value)-1]
		}
	}
	return pyStrip(key), value, true
}

// invalidUTF8Line returns the number of the first line holding invalid
// UTF-8.
func invalidUTF8Line(data []byte) int {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return line
		}
		if r == '\n' || r == '\r' && !bytes.HasPrefix(data[1:], []byte("\n")) {
			line++
		}
		data = data[size:]
	}
	return line
}
