package soql

import "time"

// expr compiles a WHERE condition into a predicate over the queried object's records.
func (c *compiler) expr(obj *Object, e Expr) (func(Record) bool, error) {
	switch e := e.(type) {
	case *Paren:
		return c.expr(obj, e.X)
	case *Not:
		x, err := c.expr(obj, e.X)
		if err != nil {
			return nil, err
		}
		return func(r Record) bool { return !x(r) }, nil
	case *Logical:
		terms := make([]func(Record) bool, len(e.Terms))
		for i, t := range e.Terms {
			f, err := c.expr(obj, t)
			if err != nil {
				return nil, err
			}
			terms[i] = f
		}
		if e.Op == "OR" {
			return func(r Record) bool {
				for _, t := range terms {
					if t(r) {
						return true
					}
				}
				return false
			}, nil
		}
		return func(r Record) bool {
			for _, t := range terms {
				if !t(r) {
					return false
				}
			}
			return true
		}, nil
	case *Comparison:
		return c.comparison(obj, e)
	}
	return nil, errAt(c.src, e.exprPos(), CodeMalformedQuery, "unsupported condition %T", e)
}

// bound is a literal converted for comparison with one field: a value, a [lo, hi) range for
// relative date literals, or null.
type bound struct {
	null   bool
	lo, hi key
	isSpan bool
}

// cmp places a field's key relative to the bound (inside a range counts as equal).
func (b *bound) cmp(c category, k key) int {
	if !b.isSpan {
		return compareKeys(c, k, b.lo)
	}
	if compareKeys(c, k, b.lo) < 0 {
		return -1
	}
	if compareKeys(c, k, b.hi) >= 0 {
		return 1
	}
	return 0
}

// eq is the = test, null-aware.
func (b *bound) eq(c category, k key, ok bool) bool {
	if b.null {
		return !ok
	}
	return ok && b.cmp(c, k) == 0
}

func (c *compiler) comparison(obj *Object, e *Comparison) (func(Record) bool, error) {
	acc, err := c.resolve(obj, &e.Field)
	if err != nil {
		return nil, err
	}
	f := acc.field
	if isLongText(f) {
		return nil, errAt(c.src, e.Field.Pos, CodeInvalidField, "field '%s' can not be filtered in a query call", f.Name)
	}
	cat := categoryOf(f.Type)
	if e.Op == "LIKE" {
		if cat != catText {
			return nil, errAt(c.src, e.OpPos, CodeInvalidFilterOp, "invalid operator on %s field", soapType(f.Type))
		}
		if e.Value.Type != LitString {
			return nil, c.typeError(f, e.Value)
		}
		pat := compileLike(e.Value.Str)
		return func(r Record) bool {
			s, _ := acc.get(r).(string)
			return s != "" && pat.match(s)
		}, nil
	}
	if cat == catBool && e.Op != "=" && e.Op != "!=" && e.Op != "IN" && e.Op != "NOT IN" {
		return nil, errAt(c.src, e.OpPos, CodeInvalidFilterOp, "invalid operator on boolean field")
	}
	if e.Op == "IN" || e.Op == "NOT IN" {
		bounds := make([]bound, len(e.Values))
		for i, l := range e.Values {
			if bounds[i], err = c.bound(f, l); err != nil {
				return nil, err
			}
		}
		want := e.Op == "IN"
		return func(r Record) bool {
			k, ok := toKey(cat, acc.get(r))
			for i := range bounds {
				if bounds[i].eq(cat, k, ok) {
					return want
				}
			}
			return !want
		}, nil
	}
	b, err := c.bound(f, e.Value)
	if err != nil {
		return nil, err
	}
	test := opTest(e.Op)
	switch {
	case b.null && e.Op == "=":
		return func(r Record) bool { _, ok := toKey(cat, acc.get(r)); return !ok }, nil
	case b.null && e.Op == "!=":
		return func(r Record) bool { _, ok := toKey(cat, acc.get(r)); return ok }, nil
	case b.null: // an ordering against null holds for nothing
		return func(Record) bool { return false }, nil
	}
	nullMatches := e.Op == "!=" // Salesforce's != includes nulls
	return func(r Record) bool {
		k, ok := toKey(cat, acc.get(r))
		if !ok {
			return nullMatches
		}
		return test(b.cmp(cat, k))
	}, nil
}

func opTest(op string) func(int) bool {
	switch op {
	case "!=":
		return func(c int) bool { return c != 0 }
	case "<":
		return func(c int) bool { return c < 0 }
	case "<=":
		return func(c int) bool { return c <= 0 }
	case ">":
		return func(c int) bool { return c > 0 }
	case ">=":
		return func(c int) bool { return c >= 0 }
	}
	return func(c int) bool { return c == 0 }
}

// bound type-checks a literal against the field and converts it, as Salesforce does before
// running anything.
func (c *compiler) bound(f *Field, l Literal) (bound, error) {
	if l.Type == LitNull {
		return bound{null: true}, nil
	}
	cat := categoryOf(f.Type)
	switch {
	case cat == catText && l.Type == LitString:
		return bound{lo: key{s: l.Str}}, nil
	case cat == catID && l.Type == LitString:
		if !validID(l.Str) {
			return bound{}, errAt(c.src, l.Pos, CodeInvalidFilterOp, "invalid ID field: %s", l.Str)
		}
		return bound{lo: key{s: idKey(l.Str)}}, nil
	case cat == catBool && l.Type == LitBoolean:
		k, _ := toKey(catBool, l.Bool)
		return bound{lo: k}, nil
	case cat == catNumber && (l.Type == LitInteger || l.Type == LitDecimal):
		return bound{lo: key{f: l.Num}}, nil
	case cat == catDate && l.Type == LitDate:
		return bound{lo: key{s: l.Time.Format(time.DateOnly)}}, nil
	case cat == catDateTime && l.Type == LitDateTime:
		return bound{lo: key{s: l.Time.UTC().Format(dateTimeLayout)}}, nil
	case (cat == catDate || cat == catDateTime) && (l.Type == LitDateLiteral || l.Type == LitDateNLiteral):
		from, to := dateRange(l, c.env.Now, c.env.Loc)
		format := func(t time.Time) key { return key{s: t.Format(time.DateOnly)} }
		if cat == catDateTime {
			format = func(t time.Time) key { return key{s: t.UTC().Format(dateTimeLayout)} }
		}
		return bound{lo: format(from), hi: format(to), isSpan: true}, nil
	}
	return bound{}, c.typeError(f, l)
}

func (c *compiler) typeError(f *Field, l Literal) error {
	quotes := "not "
	if cat := categoryOf(f.Type); cat == catText || cat == catID {
		quotes = ""
	}
	return errAt(c.src, l.Pos, CodeInvalidField, "value of filter criterion for field '%s' must be of type %s and should %sbe enclosed in quotes", f.Name, soapType(f.Type), quotes)
}
