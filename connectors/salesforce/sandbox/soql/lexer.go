package soql

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Pos is a byte offset into the query text.
type Pos int

type tokenKind int

const (
	tokEOF      tokenKind = iota
	tokIdent              // a name or keyword, dots included: Account.Owner.Name
	tokString             // 'quoted', escapes still in place
	tokNumber             // 42, -1.5
	tokDate               // 2026-11-21
	tokDateTime           // 2026-11-21T10:00:00Z
	tokOp                 // = != <> < <= > >=
	tokLParen
	tokRParen
	tokComma
	tokColon
)

type token struct {
	kind tokenKind
	text string // the source text
	pos  Pos
}

// display is how error messages quote the token.
func (t token) display() string {
	if t.kind == tokEOF {
		return "<EOF>"
	}
	return t.text
}

// is reports whether t is the keyword kw (case-insensitive, as SOQL keywords are).
func (t token) is(kw string) bool {
	return t.kind == tokIdent && strings.EqualFold(t.text, kw)
}

// lex splits the query into tokens. Its errors mimic Salesforce's lexer, which reports
// "line 1:12 no viable alternative at character ' '" with a 0-based column.
func lex(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
			continue
		case isIdentStart(c):
			for i < len(src) && (isIdentPart(src[i]) || src[i] == '.') {
				i++
			}
			toks = append(toks, token{tokIdent, src[start:i], Pos(start)})
		case isDigit(c) || ((c == '-' || c == '+') && i+1 < len(src) && isDigit(src[i+1])):
			kind, end, err := lexNumberOrDate(src, i)
			if err != nil {
				return nil, err
			}
			i = end
			toks = append(toks, token{kind, src[start:i], Pos(start)})
		case c == '\'':
			i++
			for i < len(src) && src[i] != '\'' {
				if src[i] == '\\' {
					i++ // the escaped character, validated when the literal is decoded
				}
				i++
			}
			if i >= len(src) {
				return nil, lexError(src, len(src), "mismatched character '<EOF>' expecting '''")
			}
			i++
			toks = append(toks, token{tokString, src[start:i], Pos(start)})
		case punctuation[c] != 0:
			i++
			toks = append(toks, token{punctuation[c], src[start:i], Pos(start)})
		case c == '!':
			if i+1 >= len(src) || src[i+1] != '=' {
				return nil, lexError(src, i, "no viable alternative at character '%c'", c)
			}
			i += 2
			toks = append(toks, token{tokOp, "!=", Pos(start)})
		case c == '<' || c == '>':
			i++
			if i < len(src) && (src[i] == '=' || (c == '<' && src[i] == '>')) {
				i++
			}
			toks = append(toks, token{tokOp, src[start:i], Pos(start)})
		default:
			r, _ := utf8.DecodeRuneInString(src[i:])
			return nil, lexError(src, i, "no viable alternative at character '%c'", r)
		}
	}
	return append(toks, token{tokEOF, "", Pos(len(src))}), nil
}

// lexNumberOrDate scans a number (optionally signed, optionally decimal), a date
// (2026-11-21) or a datetime (2026-11-21T10:00:00[.000](Z|±hh:mm|±hhmm)) starting at i.
func lexNumberOrDate(src string, i int) (tokenKind, int, error) {
	start := i
	if src[i] == '-' || src[i] == '+' {
		i++
	}
	digits := i
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	if i-digits == 4 && i == start+4 && i+1 < len(src) && src[i] == '-' && isDigit(src[i+1]) {
		return lexDate(src, start)
	}
	if i+1 < len(src) && src[i] == '.' && isDigit(src[i+1]) {
		i++
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i < len(src) && (isIdentPart(src[i]) || src[i] == '.') {
		return 0, 0, lexError(src, i, "no viable alternative at character '%c'", src[i])
	}
	return tokNumber, i, nil
}

// lexDate scans the shape of a date or datetime; the values are checked when parsed.
func lexDate(src string, i int) (tokenKind, int, error) {
	expect := func(pattern string) bool {
		if len(src)-i < len(pattern) {
			return false
		}
		for k := 0; k < len(pattern); k++ {
			c := src[i+k]
			if pattern[k] == '9' && !isDigit(c) || pattern[k] != '9' && pattern[k] != c {
				return false
			}
		}
		i += len(pattern)
		return true
	}
	bad := func() (tokenKind, int, error) {
		at := min(i, len(src)-1)
		for at < len(src) && (isDigit(src[at]) || src[at] == '-' || src[at] == ':') {
			at++
		}
		if at >= len(src) {
			return 0, 0, lexError(src, len(src), "mismatched character '<EOF>'")
		}
		return 0, 0, lexError(src, at, "no viable alternative at character '%c'", src[at])
	}
	if !expect("9999-99-99") {
		return bad()
	}
	if i >= len(src) || src[i] != 'T' && src[i] != 't' {
		if i < len(src) && (isIdentPart(src[i]) || src[i] == '.') {
			return bad()
		}
		return tokDate, i, nil
	}
	i++
	if !expect("99:99:99") {
		return bad()
	}
	if i < len(src) && src[i] == '.' {
		i++
		n := i
		for i < len(src) && isDigit(src[i]) {
			i++
		}
		if i == n {
			return bad()
		}
	}
	switch {
	case i < len(src) && (src[i] == 'Z' || src[i] == 'z'):
		i++
	case i < len(src) && (src[i] == '+' || src[i] == '-'):
		i++
		if !expect("99:99") && !expect("9999") {
			return bad()
		}
	default:
		return bad()
	}
	if i < len(src) && (isIdentPart(src[i]) || src[i] == '.') {
		return bad()
	}
	return tokDateTime, i, nil
}

// punctuation are the one-character tokens.
var punctuation = [256]tokenKind{'=': tokOp, '(': tokLParen, ')': tokRParen, ',': tokComma, ':': tokColon}

func lexError(src string, at int, format string, args ...any) *Error {
	row, col, _ := locate(src, Pos(at))
	return &Error{Code: CodeMalformedQuery, Message: fmt.Sprintf("line %d:%d ", row, col-1) + fmt.Sprintf(format, args...)}
}

func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isIdentStart(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }
