package soql

import (
	"strconv"
	"strings"
	"time"
)

// Parse parses a SOQL query. Syntax errors are *Error with Code MALFORMED_QUERY; names and
// types are checked later by Execute, which knows the schema.
func Parse(query string) (*Query, error) {
	toks, err := lex(query)
	if err != nil {
		return nil, err
	}
	p := &parser{src: query, toks: toks}
	q, err := p.query(false)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.unexpected(t)
	}
	return q, nil
}

// reserved are the words Salesforce reserves: they cannot name a field.
var reserved = map[string]bool{
	"AND": true, "ASC": true, "DESC": true, "EXCLUDES": true, "FIRST": true, "FROM": true,
	"GROUP": true, "HAVING": true, "IN": true, "INCLUDES": true, "LAST": true, "LIKE": true,
	"LIMIT": true, "NOT": true, "NULL": true, "NULLS": true, "OR": true, "SELECT": true,
	"WHERE": true, "WITH": true,
}

type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// accept consumes the keyword kw if it comes next.
func (p *parser) accept(kw string) bool {
	if p.peek().is(kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expect(kw string) error {
	if !p.accept(kw) {
		return p.unexpected(p.peek())
	}
	return nil
}

func (p *parser) expectKind(kind tokenKind) (token, error) {
	t := p.next()
	if t.kind != kind {
		return t, p.unexpected(t)
	}
	return t, nil
}

func (p *parser) unexpected(t token) *Error {
	return errAt(p.src, t.pos, CodeMalformedQuery, "unexpected token: '%s'", t.display())
}

// query parses SELECT … FROM … [WHERE …] [ORDER BY …] [LIMIT n] [OFFSET n]; a subquery
// stops before its closing parenthesis.
func (p *parser) query(sub bool) (*Query, error) {
	q := &Query{src: p.src}
	if err := p.expect("SELECT"); err != nil {
		return nil, err
	}
	for {
		item, err := p.selectItem()
		if err != nil {
			return nil, err
		}
		q.Fields = append(q.Fields, item)
		if p.peek().kind != tokComma {
			break
		}
		p.next()
	}
	for _, it := range q.Fields {
		if it.Count != nil && it.Count.Field == nil && len(q.Fields) > 1 {
			return nil, errAt(p.src, it.Count.Pos, CodeMalformedQuery, "COUNT() must be the only element of the SELECT list")
		}
	}
	if err := p.expect("FROM"); err != nil {
		return nil, err
	}
	from, err := p.expectKind(tokIdent)
	if err != nil {
		return nil, err
	}
	// GROUP is reserved (GROUP BY) but also names the Group object: SELECT Id FROM Group.
	isGroup := strings.EqualFold(from.text, "GROUP") && !p.peek().is("BY")
	if (reserved[strings.ToUpper(from.text)] && !isGroup) || strings.Contains(from.text, ".") {
		return nil, p.unexpected(from)
	}
	q.From, q.FromPos = from.text, from.pos
	if p.accept("WHERE") {
		if q.Where, err = p.condition(); err != nil {
			return nil, err
		}
	}
	if p.accept("ORDER") {
		if err := p.expect("BY"); err != nil {
			return nil, err
		}
		if q.OrderBy, err = p.orderBy(); err != nil {
			return nil, err
		}
	}
	if p.accept("LIMIT") {
		if q.Limit, err = p.nonNegInt(); err != nil {
			return nil, err
		}
	}
	if p.accept("OFFSET") {
		if q.Offset, err = p.nonNegInt(); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t.kind != tokEOF && !(sub && t.kind == tokRParen) {
		return nil, p.unexpected(t)
	}
	return q, nil
}

func (p *parser) selectItem() (SelectItem, error) {
	t := p.peek()
	switch {
	case t.kind == tokLParen:
		p.next()
		sub, err := p.query(true)
		if err != nil {
			return SelectItem{}, err
		}
		if _, err := p.expectKind(tokRParen); err != nil {
			return SelectItem{}, err
		}
		return SelectItem{Subquery: sub}, nil
	case t.is("COUNT") && p.toks[p.i+1].kind == tokLParen:
		p.i += 2
		c := &CountFunc{Pos: t.pos}
		if p.peek().kind != tokRParen {
			f, err := p.fieldRef()
			if err != nil {
				return SelectItem{}, err
			}
			c.Field = &f
		}
		if _, err := p.expectKind(tokRParen); err != nil {
			return SelectItem{}, err
		}
		if a := p.peek(); c.Field != nil && a.kind == tokIdent && !reserved[strings.ToUpper(a.text)] {
			if strings.Contains(a.text, ".") {
				return SelectItem{}, p.unexpected(a)
			}
			c.Alias = p.next().text
		}
		return SelectItem{Count: c}, nil
	}
	f, err := p.fieldRef()
	if err != nil {
		return SelectItem{}, err
	}
	if p.peek().kind == tokLParen {
		// A function other than COUNT (SUM, toLabel, FORMAT…): not supported here.
		return SelectItem{}, p.unexpected(p.peek())
	}
	// Salesforce's grammar lets any select item take an alias and refuses it afterwards for a
	// plain field ("SELECT Id Name FROM Account"), with a message of its own.
	if a, after := p.peek(), p.toks[min(p.i+1, len(p.toks)-1)]; a.kind == tokIdent && !reserved[strings.ToUpper(a.text)] &&
		!strings.Contains(a.text, ".") && (after.is("FROM") || after.kind == tokComma) {
		return SelectItem{}, errAt(p.src, a.pos, CodeMalformedQuery, "Only aggregate expressions use field aliasing")
	}
	return SelectItem{Field: &f}, nil
}

// fieldRef parses a dotted field path.
func (p *parser) fieldRef() (FieldRef, error) {
	t, err := p.expectKind(tokIdent)
	if err != nil {
		return FieldRef{}, err
	}
	path := strings.Split(t.text, ".")
	off := t.pos
	for _, part := range path {
		if part == "" || isDigit(part[0]) || reserved[strings.ToUpper(part)] {
			return FieldRef{}, errAt(p.src, off, CodeMalformedQuery, "unexpected token: '%s'", t.text)
		}
		off += Pos(len(part) + 1)
	}
	return FieldRef{Path: path, Pos: t.pos}, nil
}

func (p *parser) orderBy() ([]OrderItem, error) {
	var items []OrderItem
	for {
		f, err := p.fieldRef()
		if err != nil {
			return nil, err
		}
		o := OrderItem{Field: f}
		switch {
		case p.accept("ASC"):
			o.Order = "ASC"
		case p.accept("DESC"):
			o.Order = "DESC"
		}
		if p.accept("NULLS") {
			switch {
			case p.accept("FIRST"):
				o.Nulls = "FIRST"
			case p.accept("LAST"):
				o.Nulls = "LAST"
			default:
				return nil, p.unexpected(p.peek())
			}
		}
		items = append(items, o)
		if p.peek().kind != tokComma {
			return items, nil
		}
		p.next()
	}
}

// nonNegInt parses the non-negative integer of LIMIT or OFFSET.
func (p *parser) nonNegInt() (*int, error) {
	t, err := p.expectKind(tokNumber)
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(t.text)
	if err != nil || !isDigit(t.text[0]) {
		return nil, p.unexpected(t)
	}
	return &n, nil
}

// condition parses terms joined by AND or by OR. Salesforce gives the two no precedence:
// mixing them without parentheses is refused at the second operator.
func (p *parser) condition() (Expr, error) {
	first, err := p.term()
	if err != nil {
		return nil, err
	}
	l := &Logical{Terms: []Expr{first}}
	for {
		t := p.peek()
		op := strings.ToUpper(t.text)
		if t.kind != tokIdent || op != "AND" && op != "OR" {
			break
		}
		if l.Op != "" && op != l.Op {
			return nil, p.unexpected(t)
		}
		p.next()
		l.Op = op
		x, err := p.term()
		if err != nil {
			return nil, err
		}
		l.Terms = append(l.Terms, x)
	}
	if len(l.Terms) == 1 {
		return first, nil
	}
	return l, nil
}

func (p *parser) term() (Expr, error) {
	t := p.peek()
	switch {
	case t.is("NOT"):
		p.next()
		x, err := p.term()
		if err != nil {
			return nil, err
		}
		return &Not{X: x, Pos: t.pos}, nil
	case t.kind == tokLParen:
		p.next()
		x, err := p.condition()
		if err != nil {
			return nil, err
		}
		if _, err := p.expectKind(tokRParen); err != nil {
			return nil, err
		}
		return &Paren{X: x, Pos: t.pos}, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (Expr, error) {
	f, err := p.fieldRef()
	if err != nil {
		return nil, err
	}
	c := &Comparison{Field: f}
	t := p.next()
	c.OpPos = t.pos
	switch {
	case t.kind == tokOp:
		c.Op = t.text
		if c.Op == "<>" {
			c.Op = "!="
		}
	case t.is("LIKE"):
		c.Op = "LIKE"
	case t.is("IN"):
		c.Op = "IN"
	case t.is("NOT") && p.peek().is("IN"):
		p.next()
		c.Op = "NOT IN"
	default:
		return nil, p.unexpected(t)
	}
	if c.Op != "IN" && c.Op != "NOT IN" {
		c.Value, err = p.literal(c.Op == "LIKE")
		return c, err
	}
	if _, err := p.expectKind(tokLParen); err != nil {
		return nil, err
	}
	for {
		v, err := p.literal(false)
		if err != nil {
			return nil, err
		}
		c.Values = append(c.Values, v)
		if p.peek().kind != tokComma {
			break
		}
		p.next()
	}
	if _, err := p.expectKind(tokRParen); err != nil {
		return nil, err
	}
	return c, nil
}

// literal parses a value; like says it is the pattern of a LIKE.
func (p *parser) literal(like bool) (Literal, error) {
	t := p.next()
	l := Literal{Raw: t.text, Pos: t.pos}
	switch t.kind {
	case tokString:
		s, err := decodeString(p.src, t, like)
		l.Type, l.Str = LitString, s
		return l, err
	case tokNumber:
		n, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return l, p.unexpected(t)
		}
		l.Type, l.Num = LitInteger, n
		if strings.Contains(t.text, ".") {
			l.Type = LitDecimal
		}
		return l, nil
	case tokDate:
		d, err := time.Parse(time.DateOnly, t.text)
		if err != nil {
			return l, errAt(p.src, t.pos, CodeMalformedQuery, "invalid date: %s", t.text)
		}
		l.Type, l.Time = LitDate, d
		return l, nil
	case tokDateTime:
		d, err := parseDateTimeLiteral(t.text)
		if err != nil {
			return l, errAt(p.src, t.pos, CodeMalformedQuery, "invalid datetime: %s", t.text)
		}
		l.Type, l.Time = LitDateTime, d
		return l, nil
	case tokColon:
		if p.peek().kind == tokIdent {
			return l, errAt(p.src, t.pos, CodeMalformedQuery, "Bind variables only allowed in Apex code")
		}
	case tokIdent:
		return p.wordLiteral(t, l)
	}
	return l, p.unexpected(t)
}

// wordLiteral parses the literals spelled as words: TRUE, FALSE, NULL, TODAY, LAST_N_DAYS:n…
func (p *parser) wordLiteral(t token, l Literal) (Literal, error) {
	name := strings.ToUpper(t.text)
	switch {
	case name == "TRUE" || name == "FALSE":
		l.Type, l.Bool = LitBoolean, name == "TRUE"
		return l, nil
	case name == "NULL":
		l.Type = LitNull
		return l, nil
	}
	d, ok := dateLiterals[name]
	if !ok {
		return l, p.unexpected(t)
	}
	l.Name = name
	if !d.takesN {
		l.Type = LitDateLiteral
		return l, nil
	}
	if _, err := p.expectKind(tokColon); err != nil {
		return l, err
	}
	n := p.next()
	v, err := strconv.Atoi(n.text)
	if n.kind != tokNumber || err != nil || !isDigit(n.text[0]) {
		return l, p.unexpected(n)
	}
	l.Type, l.N = LitDateNLiteral, v
	l.Raw = p.src[t.pos : int(n.pos)+len(n.text)]
	return l, nil
}

// parseDateTimeLiteral accepts Z, ±hh:mm and ±hhmm offsets, with or without fractional seconds.
func parseDateTimeLiteral(s string) (time.Time, error) {
	s = strings.ToUpper(s)
	t, err := time.Parse("2006-01-02T15:04:05Z07:00", s)
	if err != nil {
		t, err = time.Parse("2006-01-02T15:04:05Z0700", s)
	}
	return t, err
}

// decodeString decodes a quoted string token. Salesforce's escapes are \\ \' \" \n \r \t \b \f
// and \uXXXX; in a LIKE pattern \% and \_ too, which stay escaped in the result.
func decodeString(src string, t token, like bool) (string, error) {
	body := t.text[1 : len(t.text)-1]
	if !strings.Contains(body, `\`) {
		return body, nil
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		bad := func() error {
			seq := body[i:min(i+2, len(body))]
			return errAt(src, t.pos+1+Pos(i), CodeMalformedQuery,
				"Invalid string literal '%s'. Illegal character sequence '%s' in string literal.", body, seq)
		}
		if i+1 >= len(body) {
			return "", bad()
		}
		switch e := body[i+1]; e {
		case '\\':
			if like {
				b.WriteString(`\\`)
			} else {
				b.WriteByte('\\')
			}
		case '\'', '"':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case '%', '_':
			if !like {
				return "", bad()
			}
			b.WriteByte('\\')
			b.WriteByte(e)
		case 'u':
			if i+6 > len(body) {
				return "", bad()
			}
			r, err := strconv.ParseUint(body[i+2:i+6], 16, 32)
			if err != nil {
				return "", bad()
			}
			if like && (r == '%' || r == '_' || r == '\\') {
				b.WriteByte('\\')
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			return "", bad()
		}
		i++
	}
	return b.String(), nil
}
