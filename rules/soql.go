package rules

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// This file reads the condition of a SOQL WHERE clause, as Salesforce documents it ("SOQL and
// SOSL Reference": conditionExpression, comparison operators, quoted string escape sequences,
// date formats and date literals). It is written apart from the sandbox's SOQL engine on
// purpose: a misreading of the grammar in one is caught by the tests of the other.
//
// A condition is comparisons of a field with values, joined by AND, OR and NOT with
// parentheses. Refused although Salesforce may take them, as a playbook has no use for them:
// subqueries (semi-joins), functions (CALENDAR_YEAR(…)), currency-prefixed numbers (USD5000),
// and the datetime forms the reference does not list (fractional seconds, +hhmm), spaces
// around the colon of LAST_N_DAYS:30 included.

// soqlKind is the kind of a token of a SOQL condition.
type soqlKind int

const (
	soqlEnd      soqlKind = iota
	soqlName              // a field path (Account.Type) or a keyword (AND, NULL)
	soqlString            // 'text'
	soqlNumber            // 42, -2.5
	soqlDate              // 2026-11-02
	soqlDateTime          // 2026-11-02T10:00:00Z
	soqlDateLit           // TODAY, LAST_N_DAYS:30: a range of days relative to now
	soqlBool              // true, false
	soqlNull              // null
	soqlOp                // = != <> < <= > >=
	soqlLParen
	soqlRParen
	soqlComma
)

// soqlToken is one token: its kind, its text as written and its byte offset in the condition.
type soqlToken struct {
	kind soqlKind
	text string
	off  int
	// likeEscape is the offset of the first \_ or \% of a string, which only LIKE patterns
	// may hold; -1 when there is none.
	likeEscape int
}

// soqlError is a problem at a byte offset of a condition.
type soqlError struct {
	off int
	msg string
}

// soqlComparison is one comparison of a condition: a field, an operator (upper case, "NOT IN"
// for the two words) and the values it compares the field with (one, or a list for IN, NOT
// IN, INCLUDES and EXCLUDES).
type soqlComparison struct {
	field  soqlToken
	op     soqlToken
	values []soqlToken
}

// soqlKeywords are the words SOQL reserves, which are never field names, with the literals
// true, false and null, and IS for its message.
var soqlKeywords = map[string]bool{
	"AND": true, "ASC": true, "DESC": true, "EXCLUDES": true, "FIRST": true, "FROM": true,
	"GROUP": true, "HAVING": true, "IN": true, "INCLUDES": true, "LAST": true, "LIKE": true,
	"LIMIT": true, "NOT": true, "NULL": true, "NULLS": true, "OR": true, "SELECT": true,
	"USING": true, "WHERE": true, "WITH": true, "TRUE": true, "FALSE": true, "IS": true,
}

// soqlDateLiterals are the date literals; true for those that take a number (LAST_N_DAYS:30).
var soqlDateLiterals = map[string]bool{
	"YESTERDAY": false, "TODAY": false, "TOMORROW": false,
	"LAST_WEEK": false, "THIS_WEEK": false, "NEXT_WEEK": false,
	"LAST_MONTH": false, "THIS_MONTH": false, "NEXT_MONTH": false,
	"LAST_90_DAYS": false, "NEXT_90_DAYS": false,
	"LAST_N_DAYS": true, "NEXT_N_DAYS": true, "N_DAYS_AGO": true,
	"NEXT_N_WEEKS": true, "LAST_N_WEEKS": true, "N_WEEKS_AGO": true,
	"NEXT_N_MONTHS": true, "LAST_N_MONTHS": true, "N_MONTHS_AGO": true,
	"THIS_QUARTER": false, "LAST_QUARTER": false, "NEXT_QUARTER": false,
	"NEXT_N_QUARTERS": true, "LAST_N_QUARTERS": true, "N_QUARTERS_AGO": true,
	"THIS_YEAR": false, "LAST_YEAR": false, "NEXT_YEAR": false,
	"NEXT_N_YEARS": true, "LAST_N_YEARS": true, "N_YEARS_AGO": true,
	"THIS_FISCAL_QUARTER": false, "LAST_FISCAL_QUARTER": false, "NEXT_FISCAL_QUARTER": false,
	"NEXT_N_FISCAL_QUARTERS": true, "LAST_N_FISCAL_QUARTERS": true, "N_FISCAL_QUARTERS_AGO": true,
	"THIS_FISCAL_YEAR": false, "LAST_FISCAL_YEAR": false, "NEXT_FISCAL_YEAR": false,
	"NEXT_N_FISCAL_YEARS": true, "LAST_N_FISCAL_YEARS": true, "N_FISCAL_YEARS_AGO": true,
}

var (
	soqlNumberRE = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)
	soqlDateRE   = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	// The three datetime forms the reference lists: Z, +hh:mm and -hh:mm.
	soqlDateTimeRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})$`)
)

const (
	// soqlEscapes are the characters a backslash may escape in a string; _ and % only in
	// LIKE patterns, and u starts \uXXXX.
	soqlEscapes     = `\'"nNrRtTbBfF_%u`
	soqlEscapesHelp = `SOQL knows \\ \' \" \n \r \t \b \f \uXXXX, and \_ \% in LIKE patterns`
)

// soqlLexer splits a condition into tokens.
type soqlLexer struct {
	src string
	i   int
}

func (l *soqlLexer) next() (soqlToken, *soqlError) {
	for l.i < len(l.src) && strings.IndexByte(" \t\r\n", l.src[l.i]) >= 0 {
		l.i++
	}
	start := l.i
	tok := func(k soqlKind, end int) (soqlToken, *soqlError) {
		l.i = end
		return soqlToken{kind: k, text: l.src[start:end], off: start, likeEscape: -1}, nil
	}
	if start == len(l.src) {
		return tok(soqlEnd, start)
	}
	switch c := l.src[start]; {
	case c == '(':
		return tok(soqlLParen, start+1)
	case c == ')':
		return tok(soqlRParen, start+1)
	case c == ',':
		return tok(soqlComma, start+1)
	case c == '=':
		return tok(soqlOp, start+1)
	case c == '!' && l.peek(1) == '=':
		return tok(soqlOp, start+2)
	case c == '<' && (l.peek(1) == '=' || l.peek(1) == '>'), c == '>' && l.peek(1) == '=':
		return tok(soqlOp, start+2)
	case c == '<', c == '>':
		return tok(soqlOp, start+1)
	case c == '\'':
		return l.string()
	case c == '"':
		return soqlToken{}, &soqlError{start, `strings are written in single quotes in SOQL: 'text'`}
	case isLetter(c):
		return l.name()
	case isDigit(c), (c == '-' || c == '+') && isDigit(l.peek(1)):
		return l.value()
	default:
		r, _ := utf8.DecodeRuneInString(l.src[start:])
		return soqlToken{}, &soqlError{start, fmt.Sprintf("unexpected character %q", r)}
	}
}

func (l *soqlLexer) peek(n int) byte {
	if l.i+n < len(l.src) {
		return l.src[l.i+n]
	}
	return 0
}

// isHex reports whether s starts with n hex digits.
func isHex(s string, n int) bool {
	if len(s) < n {
		return false
	}
	for _, c := range []byte(s[:n]) {
		if !isDigit(c) && !('a' <= c && c <= 'f') && !('A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// string reads 'text', checking its escape sequences.
func (l *soqlLexer) string() (soqlToken, *soqlError) {
	t := soqlToken{kind: soqlString, off: l.i, likeEscape: -1}
	for i := l.i + 1; i < len(l.src); i++ {
		switch l.src[i] {
		case '\'':
			t.text = l.src[t.off : i+1]
			l.i = i + 1
			return t, nil
		case '\\':
			e := byte(0)
			if i+1 < len(l.src) {
				e = l.src[i+1]
			}
			if e == 0 || strings.IndexByte(soqlEscapes, e) < 0 {
				return soqlToken{}, &soqlError{i, "invalid escape sequence in a string: " + soqlEscapesHelp}
			}
			if (e == '_' || e == '%') && t.likeEscape < 0 {
				t.likeEscape = i
			}
			i++
			if e == 'u' {
				if !isHex(l.src[i+1:], 4) {
					return soqlToken{}, &soqlError{i - 1, `invalid escape sequence in a string: \u takes four hex digits, as in \u00e9`}
				}
				i += 4
			}
		}
	}
	return soqlToken{}, &soqlError{t.off, "unterminated string: the quote opened here is never closed"}
}

// name reads a field path or a keyword, or a date literal with its number (LAST_N_DAYS:30).
func (l *soqlLexer) name() (soqlToken, *soqlError) {
	start := l.i
	for l.i < len(l.src) && (isLetter(l.src[l.i]) || isDigit(l.src[l.i]) || l.src[l.i] == '_' ||
		l.src[l.i] == '.' && isLetter(l.peek(1))) {
		l.i++
	}
	t := soqlToken{kind: soqlName, text: l.src[start:l.i], off: start, likeEscape: -1}
	takesN, isDate := soqlDateLiterals[strings.ToUpper(t.text)]
	if !isDate {
		return t, nil
	}
	t.kind = soqlDateLit
	if !takesN {
		return t, nil
	}
	if l.peek(0) != ':' || !isDigit(l.peek(1)) {
		return soqlToken{}, &soqlError{l.i, fmt.Sprintf("%s takes a number of days, weeks, months, quarters or years: %s:30", t.text, t.text)}
	}
	for l.i++; isDigit(l.peek(0)); l.i++ {
	}
	t.text = l.src[start:l.i]
	return t, nil
}

// value reads a number, a date or a datetime: the whole run of letters, digits and _.:+- that
// starts it, so that a malformed one is reported whole.
func (l *soqlLexer) value() (soqlToken, *soqlError) {
	start := l.i
	for l.i < len(l.src) && (isLetter(l.src[l.i]) || isDigit(l.src[l.i]) || strings.IndexByte("_.:+-", l.src[l.i]) >= 0) {
		l.i++
	}
	t := soqlToken{text: l.src[start:l.i], off: start, likeEscape: -1}
	switch {
	case soqlNumberRE.MatchString(t.text):
		t.kind = soqlNumber
	case soqlDateRE.MatchString(t.text):
		t.kind = soqlDate
		return t, inCalendar(t, "date", time.DateOnly)
	case soqlDateTimeRE.MatchString(t.text):
		t.kind = soqlDateTime
		return t, inCalendar(t, "datetime", time.RFC3339)
	default:
		return soqlToken{}, &soqlError{start, fmt.Sprintf("invalid value %s: want a number (42, -2.5), a date (2026-11-02) or a datetime (2026-11-02T10:00:00Z, 2026-11-02T10:00:00+01:00)", t.text)}
	}
	return t, nil
}

// inCalendar checks that a date or datetime of the right shape names a real day and time.
func inCalendar(t soqlToken, kind, layout string) *soqlError {
	_, err := time.Parse(layout, t.text)
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return &soqlError{t.off, fmt.Sprintf("invalid %s %s%s", kind, t.text, pe.Message)}
	}
	return nil
}

// soqlParser is a recursive-descent parser of a condition, one token of lookahead.
type soqlParser struct {
	lex   soqlLexer
	tok   soqlToken
	comps []soqlComparison
}

// parseSOQLCondition parses the condition of a WHERE clause and returns its comparisons in
// order, or the first problem. It checks the grammar only: which fields exist and what type
// of value each takes is the caller's to check.
func parseSOQLCondition(src string) ([]soqlComparison, *soqlError) {
	p := &soqlParser{lex: soqlLexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.condition(); err != nil {
		return nil, err
	}
	switch {
	case p.tok.kind == soqlRParen:
		return nil, &soqlError{p.tok.off, "unbalanced parenthesis: ')' has no '('"}
	case p.tok.kind != soqlEnd:
		return nil, p.expected("AND, OR or the end of the condition")
	}
	return p.comps, nil
}

func (p *soqlParser) advance() *soqlError {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// is reports whether the current token is the keyword kw (upper case); SOQL ignores case.
func (p *soqlParser) is(kw string) bool {
	return p.tok.kind == soqlName && strings.EqualFold(p.tok.text, kw)
}

// expected reports the current token where something else was due.
func (p *soqlParser) expected(what string) *soqlError {
	return &soqlError{p.tok.off, fmt.Sprintf("expected %s, found %s", what, p.tok.describe())}
}

func (t soqlToken) describe() string {
	if t.kind == soqlEnd {
		return "the end"
	}
	return t.text
}

// condition parses operands joined by AND, or by OR: SOQL refuses both at one level without
// parentheses, as `a AND b OR c` could be read either way.
func (p *soqlParser) condition() *soqlError {
	if err := p.operand(); err != nil {
		return err
	}
	var joiner string
	for p.is("AND") || p.is("OR") {
		op := strings.ToUpper(p.tok.text)
		if joiner != "" && op != joiner {
			return &soqlError{p.tok.off, "AND and OR need parentheses to be mixed: (a AND b) OR c"}
		}
		joiner = op
		if err := p.advance(); err != nil {
			return err
		}
		if err := p.operand(); err != nil {
			return err
		}
	}
	return nil
}

// operand parses NOT operand, a parenthesized condition or a comparison.
func (p *soqlParser) operand() *soqlError {
	switch {
	case p.is("NOT"):
		if err := p.advance(); err != nil {
			return err
		}
		return p.operand()
	case p.tok.kind == soqlLParen:
		open := p.tok
		if err := p.advance(); err != nil {
			return err
		}
		if err := p.condition(); err != nil {
			return err
		}
		switch p.tok.kind {
		case soqlRParen:
			return p.advance()
		case soqlEnd:
			return &soqlError{open.off, "unbalanced parenthesis: this '(' is never closed"}
		}
		return p.expected("')', AND or OR")
	}
	return p.comparison()
}

// comparison parses `field operator value` or `field IN (value, …)`.
func (p *soqlParser) comparison() *soqlError {
	field := p.tok
	switch {
	case field.kind == soqlName && soqlKeywords[strings.ToUpper(field.text)]:
		return p.expected("a field name")
	case field.kind == soqlName && p.lex.peek(0) == '(':
		return &soqlError{field.off, fmt.Sprintf("%s(…): functions are not supported; compare a field with a value", field.text)}
	case field.kind != soqlName:
		return p.expected("a field name")
	}
	if err := p.advance(); err != nil {
		return err
	}
	c := soqlComparison{field: field, op: p.tok}
	switch {
	case p.tok.kind == soqlOp:
	case p.is("LIKE"), p.is("IN"), p.is("INCLUDES"), p.is("EXCLUDES"):
		c.op.text = strings.ToUpper(c.op.text)
	case p.is("NOT"):
		if err := p.advance(); err != nil {
			return err
		}
		if p.is("LIKE") {
			return &soqlError{c.op.off, fmt.Sprintf("NOT LIKE is not SOQL: write NOT %s LIKE …", field.text)}
		}
		if !p.is("IN") {
			return p.expected("IN after NOT")
		}
		c.op.text = "NOT IN"
	case p.is("IS"):
		return &soqlError{p.tok.off, fmt.Sprintf("IS NULL is not SOQL: write %s = null, or %s != null", field.text, field.text)}
	default:
		return p.expected(fmt.Sprintf("an operator after %s (=, !=, <>, <, <=, >, >=, LIKE, IN, NOT IN, INCLUDES or EXCLUDES)", field.text))
	}
	if err := p.advance(); err != nil {
		return err
	}
	var err *soqlError
	switch c.op.text {
	case "IN", "NOT IN", "INCLUDES", "EXCLUDES":
		c.values, err = p.list(c.op.text)
	default:
		var v soqlToken
		v, err = p.value(c.op.text)
		c.values = []soqlToken{v}
	}
	if err != nil {
		return err
	}
	for _, v := range c.values {
		if v.likeEscape >= 0 && c.op.text != "LIKE" {
			return &soqlError{v.likeEscape, `\_ and \% escape the wildcards of LIKE patterns; elsewhere write _ and %`}
		}
	}
	p.comps = append(p.comps, c)
	return nil
}

// list parses `(value, …)` after op.
func (p *soqlParser) list(op string) ([]soqlToken, *soqlError) {
	if p.tok.kind != soqlLParen {
		return nil, p.expected(fmt.Sprintf("a list of values after %s, as in ('a', 'b')", op))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.is("SELECT") {
		return nil, &soqlError{p.tok.off, "subqueries are not supported: list the values"}
	}
	var values []soqlToken
	after := "("
	for {
		v, err := p.value(after)
		if err != nil {
			return nil, err
		}
		values = append(values, v)
		switch p.tok.kind {
		case soqlComma:
			after = ","
			if err := p.advance(); err != nil {
				return nil, err
			}
		case soqlRParen:
			return values, p.advance()
		case soqlEnd:
			return nil, p.expected("',' or ')' to close the list")
		default:
			return nil, p.expected("',' or ')' in the list")
		}
	}
}

// value parses one value: a string, number, date, datetime, date literal, true, false or
// null. after names what comes before it, for messages.
func (p *soqlParser) value(after string) (soqlToken, *soqlError) {
	v := p.tok
	switch {
	case v.kind == soqlName && !soqlKeywords[strings.ToUpper(v.text)]:
		return soqlToken{}, &soqlError{v.off, fmt.Sprintf("expected a value after %s, found the field %s: SOQL compares a field with a value, not with another field", after, v.text)}
	case p.is("NULL"):
		v.kind = soqlNull
	case p.is("TRUE"), p.is("FALSE"):
		v.kind = soqlBool
	case v.kind == soqlName, v.kind == soqlOp, v.kind == soqlLParen, v.kind == soqlRParen, v.kind == soqlComma, v.kind == soqlEnd:
		return soqlToken{}, p.expected("a value after " + after)
	}
	return v, p.advance()
}
