package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a config file, at a position of the file.
type Error struct {
	File   string
	Line   int // 1-based; 0 when the problem has no position
	Column int // 1-based; 0 when only the line is known (YAML syntax errors)
	Msg    string
}

func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return e.File + ": " + e.Msg
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// entry is one mapping pair or sequence item of the document, with its dotted path
// ("roles.legal.email[1]"). The decoder into Config knows no positions, so errors found after
// decoding take them from these entries.
type entry struct {
	path  string
	key   *yaml.Node // nil for sequence items
	value *yaml.Node
}

// index is the document's entries in document order.
type index struct {
	file    string
	entries []entry
}

func newIndex(file string, doc *yaml.Node) *index {
	x := &index{file: file}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		x.walk("", doc.Content[0])
	}
	return x
}

func (x *index) walk(path string, n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			x.entries = append(x.entries, entry{path: p, key: n.Content[i], value: n.Content[i+1]})
			x.walk(p, n.Content[i+1])
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			x.entries = append(x.entries, entry{path: p, value: item})
			x.walk(p, item)
		}
	}
}

// pos is where an error about the entry points: at a scalar value, or at the key of a mapping
// or list (a mapping's own position is that of its first key, which would mislead).
func (en entry) pos() (line, column int) {
	if en.key != nil && en.value.Kind != yaml.ScalarNode {
		return en.key.Line, en.key.Column
	}
	return en.value.Line, en.value.Column
}

func (x *index) lookup(path string) (entry, bool) {
	for _, e := range x.entries {
		if e.path == path {
			return e, true
		}
	}
	return entry{}, false
}

// errorf reports a problem with the value at path: at the value when it is a scalar, at its key
// otherwise, and at the nearest enclosing key that exists when path itself is absent (a
// required field that was left out).
func (x *index) errorf(path, format string, args ...any) *Error {
	e := &Error{File: x.file, Line: 1, Column: 1, Msg: path + ": " + fmt.Sprintf(format, args...)}
	for p := path; p != ""; p = parent(p) {
		if en, ok := x.lookup(p); ok {
			e.Line, e.Column = en.pos()
			break
		}
	}
	return e
}

// keyErrorf reports a problem with the key at path itself, such as a key that must not be
// combined with another.
func (x *index) keyErrorf(path, format string, args ...any) *Error {
	e := x.errorf(path, format, args...)
	if en, ok := x.lookup(path); ok && en.key != nil {
		e.Line, e.Column = en.key.Line, en.key.Column
	}
	return e
}

func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

var (
	lineRe      = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownRe   = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	duplicateRe = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
	typeRe      = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (\\S+)$")
)

// yamlError turns one of the yaml package's messages ("line 3: field x not found in type
// config.Slack") into a positioned Error that speaks of keys and kinds instead of Go types.
func (x *index) yamlError(msg string) *Error {
	m := lineRe.FindStringSubmatch(msg)
	if m == nil {
		return &Error{File: x.file, Msg: strings.TrimPrefix(msg, "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	e := &Error{File: x.file, Line: line, Msg: m[2]}
	if u := unknownRe.FindStringSubmatch(m[2]); u != nil {
		if en, ok := x.keyAt(line, u[1]); ok {
			e.Column = en.key.Column
			e.Msg = prefixed(parent(en.path), fmt.Sprintf("unknown key %q", u[1]))
		}
		return e
	}
	if d := duplicateRe.FindStringSubmatch(m[2]); d != nil {
		if en, ok := x.keyAt(line, d[1]); ok {
			e.Column = en.key.Column
			e.Msg = prefixed(parent(en.path), fmt.Sprintf("key %q already given at line %s", d[1], d[2]))
		}
		return e
	}
	t := typeRe.FindStringSubmatch(m[2])
	tag, value := "", ""
	if t != nil {
		tag, value = t[1], t[2]
	}
	en, ok := x.valueAt(line, tag, value)
	if !ok {
		return e
	}
	e.Line, e.Column = en.pos()
	if t != nil {
		e.Msg = "want " + kindOfGoType(t[3]) + ", not " + kindOfTag(t[1])
		if en.value.Kind == yaml.ScalarNode {
			e.Msg += fmt.Sprintf(" %q", en.value.Value)
		}
	}
	e.Msg = prefixed(en.path, e.Msg)
	return e
}

func prefixed(path, msg string) string {
	if path == "" {
		return msg
	}
	return path + ": " + msg
}

func (x *index) keyAt(line int, key string) (entry, bool) {
	for _, e := range x.entries {
		if e.key != nil && e.key.Line == line && e.key.Value == key {
			return e, true
		}
	}
	return entry{}, false
}

// valueAt finds the value that starts at line with the given tag and text, as the yaml
// package quotes them (text cut to "1234567..." when long); an empty tag matches any scalar.
// A mapping starts on the line of its first key, so the tag tells a mapping from its first
// value, and the text tells apart scalars on one line.
func (x *index) valueAt(line int, tag, text string) (entry, bool) {
	prefix, cut := strings.CutSuffix(text, "...")
	for _, e := range x.entries {
		v := e.value
		switch {
		case v.Line != line:
		case tag == "" && v.Kind == yaml.ScalarNode:
			return e, true
		case tag != "" && v.ShortTag() == tag && (text == "" || v.Value == text || cut && strings.HasPrefix(v.Value, prefix)):
			return e, true
		}
	}
	return entry{}, false
}

func kindOfTag(tag string) string {
	switch tag {
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "null"
	}
	return "a string"
}

func kindOfGoType(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case t == "int":
		return "an integer"
	case t == "bool":
		return "true or false"
	case t == "string", t == "config.Secret", t == "config.Grant", t == "config.TLSMode":
		return "a string"
	}
	return "a mapping"
}
