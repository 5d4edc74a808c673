package soql

import (
	"strconv"
	"strings"
	"time"
)

// The AST follows the vocabulary of soql-parser-js (fields, sObject/relationshipName, where,
// orderBy, limit, offset; literal types STRING, INTEGER, DATE_N_LITERAL, …) so that a test can
// compare the two structurally. WHERE is a tree here where soql-parser-js keeps a right-nested
// list with parenthesis counts; Paren nodes keep the information needed to map one onto the other.

// Query is a parsed SELECT, or a child relationship subquery inside one.
type Query struct {
	Fields  []SelectItem
	From    string // the sObject; for a subquery, the child relationship name ("Tasks")
	FromPos Pos
	Where   Expr // nil when there is no WHERE
	OrderBy []OrderItem
	Limit   *int
	Offset  *int

	src string // the whole query text, for error positions
}

// SelectItem is one entry of the SELECT list. Exactly one field is set.
type SelectItem struct {
	Field    *FieldRef  // Id, Account.Owner.Name
	Count    *CountFunc // COUNT() or COUNT(field)
	Subquery *Query     // (SELECT … FROM Tasks …)
}

// FieldRef is a field, possibly reached through parent relationships: Path is
// ["Account", "Owner", "Name"] for Account.Owner.Name and ["Id"] for Id.
type FieldRef struct {
	Path []string
	Pos  Pos
}

// CountFunc is COUNT() (Field nil: only the number of rows is returned) or COUNT(field).
type CountFunc struct {
	Field *FieldRef
	Alias string // "" when none; COUNT(field) then is named expr0 as in Salesforce
	Pos   Pos
}

// Expr is a WHERE condition: *Logical, *Not, *Paren or *Comparison.
type Expr interface {
	exprPos() Pos
}

// Logical is a run of conditions joined by the same operator; SOQL has no precedence
// between AND and OR, so a mixed run without parentheses is a syntax error.
type Logical struct {
	Op    string // "AND" or "OR"
	Terms []Expr // at least two
}

// Not negates X.
type Not struct {
	X   Expr
	Pos Pos
}

// Paren is a parenthesised condition, kept so the shape of the query survives parsing.
type Paren struct {
	X   Expr
	Pos Pos
}

// Comparison is field op value, field [NOT] IN (values) or field LIKE 'pattern'.
type Comparison struct {
	Field  FieldRef
	Op     string    // =, !=, <, <=, >, >=, LIKE, IN, NOT IN; <> is read as !=
	Value  Literal   // for every operator but IN and NOT IN
	Values []Literal // for IN and NOT IN
	OpPos  Pos
}

// LiteralType is the kind of a literal, named as soql-parser-js names it.
type LiteralType string

const (
	LitString       LiteralType = "STRING"
	LitInteger      LiteralType = "INTEGER"
	LitDecimal      LiteralType = "DECIMAL"
	LitBoolean      LiteralType = "BOOLEAN"
	LitNull         LiteralType = "NULL"
	LitDate         LiteralType = "DATE"
	LitDateTime     LiteralType = "DATETIME"
	LitDateLiteral  LiteralType = "DATE_LITERAL"   // TODAY, LAST_WEEK
	LitDateNLiteral LiteralType = "DATE_N_LITERAL" // LAST_N_DAYS:30
)

// Literal is a value in a condition.
type Literal struct {
	Type LiteralType
	Raw  string // as written: 'Acme%' with its quotes, 10, true, LAST_N_DAYS:30
	Pos  Pos

	// Str is a STRING's value with escapes decoded. For LIKE it is a pattern in which a
	// backslash still escapes the next character (\% and \_ are a literal % and _), so that
	// escaped wildcards stay distinguishable from real ones.
	Str  string
	Num  float64   // INTEGER, DECIMAL
	Bool bool      // BOOLEAN
	Time time.Time // DATE (midnight UTC), DATETIME (the instant, in the literal's offset)
	Name string    // DATE_LITERAL, DATE_N_LITERAL: upper-case name without ":n" ("LAST_N_DAYS")
	N    int       // DATE_N_LITERAL: n
}

// OrderItem is one ORDER BY key. Order and Nulls are as written ("" when omitted); Salesforce's
// defaults are ASC, NULLS FIRST for ASC and NULLS LAST for DESC.
type OrderItem struct {
	Field FieldRef
	Order string // "", "ASC" or "DESC"
	Nulls string // "", "FIRST" or "LAST"
}

func (e *Logical) exprPos() Pos    { return e.Terms[0].exprPos() }
func (e *Not) exprPos() Pos        { return e.Pos }
func (e *Paren) exprPos() Pos      { return e.Pos }
func (e *Comparison) exprPos() Pos { return e.Field.Pos }

// String renders the query in a canonical form: keywords upper case, names as written,
// each WHERE term's grouping explicit. It is meant for logs and tests.
func (q *Query) String() string {
	var b strings.Builder
	q.write(&b)
	return b.String()
}

func (q *Query) write(b *strings.Builder) {
	b.WriteString("SELECT ")
	for i, it := range q.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		switch {
		case it.Field != nil:
			b.WriteString(it.Field.String())
		case it.Count != nil:
			b.WriteString("COUNT(")
			if it.Count.Field != nil {
				b.WriteString(it.Count.Field.String())
			}
			b.WriteString(")")
			if it.Count.Alias != "" {
				b.WriteString(" " + it.Count.Alias)
			}
		case it.Subquery != nil:
			b.WriteString("(")
			it.Subquery.write(b)
			b.WriteString(")")
		}
	}
	b.WriteString(" FROM " + q.From)
	if q.Where != nil {
		b.WriteString(" WHERE ")
		writeExpr(b, q.Where)
	}
	for i, o := range q.OrderBy {
		if i == 0 {
			b.WriteString(" ORDER BY ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(o.Field.String())
		if o.Order != "" {
			b.WriteString(" " + o.Order)
		}
		if o.Nulls != "" {
			b.WriteString(" NULLS " + o.Nulls)
		}
	}
	if q.Limit != nil {
		b.WriteString(" LIMIT " + strconv.Itoa(*q.Limit))
	}
	if q.Offset != nil {
		b.WriteString(" OFFSET " + strconv.Itoa(*q.Offset))
	}
}

func writeExpr(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case *Logical:
		for i, t := range e.Terms {
			if i > 0 {
				b.WriteString(" " + e.Op + " ")
			}
			writeExpr(b, t)
		}
	case *Not:
		b.WriteString("NOT ")
		writeExpr(b, e.X)
	case *Paren:
		b.WriteString("(")
		writeExpr(b, e.X)
		b.WriteString(")")
	case *Comparison:
		b.WriteString(e.Field.String() + " " + e.Op + " ")
		if e.Op != "IN" && e.Op != "NOT IN" {
			b.WriteString(e.Value.Raw)
			return
		}
		b.WriteString("(")
		for i, v := range e.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(v.Raw)
		}
		b.WriteString(")")
	}
}

// String is the dotted path.
func (f *FieldRef) String() string { return strings.Join(f.Path, ".") }
