package soql

import (
	"bufio"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// corpus reads a testdata file of one query per line, skipping blank lines and # comments.
// The same files can be fed to soql-parser-js.
func corpus(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if l := s.Text(); strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseValidCorpus(t *testing.T) {
	queries := corpus(t, "valid.soql")
	if len(queries) < 80 {
		t.Fatalf("only %d valid queries", len(queries))
	}
	for _, q := range queries {
		parsed, err := Parse(q)
		if err != nil {
			t.Errorf("Parse(%q): %v", q, err)
			continue
		}
		// The canonical form parses to itself: String loses nothing Parse found.
		again, err := Parse(parsed.String())
		if err != nil || again.String() != parsed.String() {
			t.Errorf("Parse(%q).String() = %q does not round-trip: %v", q, parsed.String(), err)
		}
	}
}

// TestParseInvalidCorpus needs no Node.js: the refusals of soql-parser-js are checked by
// TestConformanceWithSoqlParserJS.
func TestParseInvalidCorpus(t *testing.T) {
	queries := corpus(t, "invalid.soql")
	if len(queries) < 60 {
		t.Fatalf("only %d invalid queries", len(queries))
	}
	queries = append(queries, queriesOf(annotatedCorpus(t, "invalid-salesforce-only.soql"))...)
	queries = append(queries, queriesOf(annotatedCorpus(t, "unsupported.soql"))...)
	for _, q := range queries {
		_, err := Parse(q)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeMalformedQuery {
			t.Errorf("Parse(%q) = %v, want MALFORMED_QUERY", q, err)
		}
	}
}

func TestParseErrorMessages(t *testing.T) {
	tests := []struct{ query, want string }{
		{"SELECT Id FORM Account",
			"\nSELECT Id FORM Account\n          ^\nERROR at Row:1:Column:11\nunexpected token: 'FORM'"},
		{"SELECT Id FROM",
			"\nSELECT Id FROM\n              ^\nERROR at Row:1:Column:15\nunexpected token: '<EOF>'"},
		{"SELECT Id Name FROM Account",
			"\nSELECT Id Name FROM Account\n          ^\nERROR at Row:1:Column:11\nOnly aggregate expressions use field aliasing"},
		{"SELECT Id, Name n, Industry FROM Account",
			"\nSELECT Id, Name n, Industry FROM Account\n                ^\nERROR at Row:1:Column:17\nOnly aggregate expressions use field aliasing"},
		{"SELECT Id FROM Account WHERE a = 1 AND b = 2 OR c = 3",
			"\nSELECT Id FROM Account WHERE a = 1 AND b = 2 OR c = 3\n                                             ^\nERROR at Row:1:Column:46\nunexpected token: 'OR'"},
		{"SELECT Id\nFROM Account\nWHERE Name = 'x' OR Name = 'y' AND Id = 'z'",
			"\nWHERE Name = 'x' OR Name = 'y' AND Id = 'z'\n                               ^\nERROR at Row:3:Column:32\nunexpected token: 'AND'"},
		{`SELECT Id FROM Account WHERE Name = "x"`,
			`line 1:36 no viable alternative at character '"'`},
		{"SELECT Id FROM Account WHERE Name = 'x",
			"line 1:38 mismatched character '<EOF>' expecting '''"},
		{"SELECT Id FROM Account WHERE Name = 'a\\qb'",
			"\nSELECT Id FROM Account WHERE Name = 'a\\qb'\n                                      ^\nERROR at Row:1:Column:39\nInvalid string literal 'a\\qb'. Illegal character sequence '\\q' in string literal."},
		{"SELECT Id FROM Account WHERE Name = :name",
			"\nSELECT Id FROM Account WHERE Name = :name\n                                    ^\nERROR at Row:1:Column:37\nBind variables only allowed in Apex code"},
		{"SELECT Id FROM Account WHERE Name = 'Zürich' OR Name = 'Genève' AND Id = null",
			"\nSELECT Id FROM Account WHERE Name = 'Zürich' OR Name = 'Genève' AND Id = null\n                                                                ^\nERROR at Row:1:Column:65\nunexpected token: 'AND'"},
		{"SELECT Id, COUNT() FROM Account",
			"\nSELECT Id, COUNT() FROM Account\n           ^\nERROR at Row:1:Column:12\nCOUNT() must be the only element of the SELECT list"},
		{"SELECT Id FROM Task WHERE ActivityDate = 2026-02-30",
			"\nSELECT Id FROM Task WHERE ActivityDate = 2026-02-30\n                                         ^\nERROR at Row:1:Column:42\ninvalid date: 2026-02-30"},
		{"SELECT Id FROM Account WHERE Name = 'Zürich' AND ° = 1",
			"line 1:49 no viable alternative at character '°'"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.query)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeMalformedQuery || e.Message != tt.want {
			t.Errorf("Parse(%q):\ngot  %#v\nwant %q", tt.query, err, tt.want)
		}
	}
}

// clearPos zeroes positions and the source so ASTs compare by shape.
func clearPos(q *Query) *Query {
	q.src, q.FromPos = "", 0
	for i := range q.Fields {
		it := &q.Fields[i]
		switch {
		case it.Field != nil:
			it.Field.Pos = 0
		case it.Count != nil:
			it.Count.Pos = 0
			if it.Count.Field != nil {
				it.Count.Field.Pos = 0
			}
		case it.Subquery != nil:
			clearPos(it.Subquery)
		}
	}
	var walk func(e Expr)
	walk = func(e Expr) {
		switch e := e.(type) {
		case *Logical:
			for _, t := range e.Terms {
				walk(t)
			}
		case *Not:
			e.Pos = 0
			walk(e.X)
		case *Paren:
			e.Pos = 0
			walk(e.X)
		case *Comparison:
			e.Field.Pos, e.OpPos, e.Value.Pos = 0, 0, 0
			for i := range e.Values {
				e.Values[i].Pos = 0
			}
		}
	}
	if q.Where != nil {
		walk(q.Where)
	}
	for i := range q.OrderBy {
		q.OrderBy[i].Field.Pos = 0
	}
	return q
}

func field(path ...string) *FieldRef { return &FieldRef{Path: path} }
func intp(n int) *int                { return &n }
func str(raw, s string) Literal      { return Literal{Type: LitString, Raw: raw, Str: s} }

func TestParseShape(t *testing.T) {
	tests := []struct {
		query string
		want  *Query
	}{
		{
			query: "SELECT Id, CaseNumber, Account.Name, Account.Owner.Name, (SELECT Id, Subject FROM Tasks WHERE Casebot_Key__c != null ORDER BY ActivityDate DESC LIMIT 5) FROM Case WHERE (Type = 'Termination' AND IsClosed = false) ORDER BY Id",
			want: &Query{
				Fields: []SelectItem{
					{Field: field("Id")}, {Field: field("CaseNumber")}, {Field: field("Account", "Name")},
					{Field: field("Account", "Owner", "Name")},
					{Subquery: &Query{
						Fields:  []SelectItem{{Field: field("Id")}, {Field: field("Subject")}},
						From:    "Tasks",
						Where:   &Comparison{Field: *field("Casebot_Key__c"), Op: "!=", Value: Literal{Type: LitNull, Raw: "null"}},
						OrderBy: []OrderItem{{Field: *field("ActivityDate"), Order: "DESC"}},
						Limit:   intp(5),
					}},
				},
				From: "Case",
				Where: &Paren{X: &Logical{Op: "AND", Terms: []Expr{
					&Comparison{Field: *field("Type"), Op: "=", Value: str("'Termination'", "Termination")},
					&Comparison{Field: *field("IsClosed"), Op: "=", Value: Literal{Type: LitBoolean, Raw: "false"}},
				}}},
				OrderBy: []OrderItem{{Field: *field("Id")}},
			},
		},
		{
			query: "select Id, Name from Account where Name like 'Acme\\_%' order by Name desc nulls last, Id asc nulls first limit 10 offset 5",
			want: &Query{
				Fields: []SelectItem{{Field: field("Id")}, {Field: field("Name")}},
				From:   "Account",
				Where:  &Comparison{Field: *field("Name"), Op: "LIKE", Value: str(`'Acme\_%'`, `Acme\_%`)},
				OrderBy: []OrderItem{
					{Field: *field("Name"), Order: "DESC", Nulls: "LAST"},
					{Field: *field("Id"), Order: "ASC", Nulls: "FIRST"},
				},
				Limit: intp(10), Offset: intp(5),
			},
		},
		{
			query: "SELECT COUNT() FROM Case WHERE NOT (A = 1 OR B <> -2.5) AND C NOT IN ('x', null) AND D IN (TODAY)",
			want: &Query{
				Fields: []SelectItem{{Count: &CountFunc{}}},
				From:   "Case",
				Where: &Logical{Op: "AND", Terms: []Expr{
					&Not{X: &Paren{X: &Logical{Op: "OR", Terms: []Expr{
						&Comparison{Field: *field("A"), Op: "=", Value: Literal{Type: LitInteger, Raw: "1", Num: 1}},
						&Comparison{Field: *field("B"), Op: "!=", Value: Literal{Type: LitDecimal, Raw: "-2.5", Num: -2.5}},
					}}}},
					&Comparison{Field: *field("C"), Op: "NOT IN", Values: []Literal{str("'x'", "x"), {Type: LitNull, Raw: "null"}}},
					&Comparison{Field: *field("D"), Op: "IN", Values: []Literal{{Type: LitDateLiteral, Raw: "TODAY", Name: "TODAY"}}},
				}},
			},
		},
		{
			query: "SELECT COUNT(Name) total FROM Account WHERE CreatedDate > LAST_N_DAYS : 30",
			want: &Query{
				Fields: []SelectItem{{Count: &CountFunc{Field: field("Name"), Alias: "total"}}},
				From:   "Account",
				Where: &Comparison{Field: *field("CreatedDate"), Op: ">",
					Value: Literal{Type: LitDateNLiteral, Raw: "LAST_N_DAYS : 30", Name: "LAST_N_DAYS", N: 30}},
			},
		},
		{
			query: "SELECT Id FROM Task WHERE ActivityDate >= 2026-11-21 AND CreatedDate < 2026-11-21T10:00:00.5+02:00 AND Flag__c = TRUE",
			want: &Query{
				Fields: []SelectItem{{Field: field("Id")}},
				From:   "Task",
				Where: &Logical{Op: "AND", Terms: []Expr{
					&Comparison{Field: *field("ActivityDate"), Op: ">=", Value: Literal{Type: LitDate, Raw: "2026-11-21",
						Time: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}},
					&Comparison{Field: *field("CreatedDate"), Op: "<", Value: Literal{Type: LitDateTime, Raw: "2026-11-21T10:00:00.5+02:00",
						Time: time.Date(2026, 11, 21, 10, 0, 0, 5e8, time.FixedZone("", 7200))}},
					&Comparison{Field: *field("Flag__c"), Op: "=", Value: Literal{Type: LitBoolean, Raw: "TRUE", Bool: true}},
				}},
			},
		},
	}
	for _, tt := range tests {
		q, err := Parse(tt.query)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.query, err)
			continue
		}
		if got := clearPos(q); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q)\ngot  %s\nwant %s", tt.query, got, tt.want)
		}
	}
}

func TestParseStringLiterals(t *testing.T) {
	tests := []struct {
		lit  string
		like bool
		want string
	}{
		{`'plain'`, false, "plain"},
		{`''`, false, ""},
		{`'O\'Brien'`, false, "O'Brien"},
		{`'back\\slash'`, false, `back\slash`},
		{`'say \"hi\"'`, false, `say "hi"`},
		{`'a\nb\rc\td\be\ff'`, false, "a\nb\rc\td\be\ff"},
		{`'caf\u00e9 \u00E9'`, false, "café é"},
		{`'Zürich'`, false, "Zürich"},
		{`'100\%'`, true, `100\%`},
		{`'a\_b%'`, true, `a\_b%`},
		{`'a\\%'`, true, `a\\%`},
		{`'\u0025'`, true, `\%`},
		{`'it\'s%'`, true, "it's%"},
	}
	for _, tt := range tests {
		op := "="
		if tt.like {
			op = "LIKE"
		}
		q, err := Parse("SELECT Id FROM Account WHERE Name " + op + " " + tt.lit)
		if err != nil {
			t.Errorf("%s: %v", tt.lit, err)
			continue
		}
		if got := q.Where.(*Comparison).Value; got.Str != tt.want || got.Raw != tt.lit {
			t.Errorf("%s: got Str %q Raw %q, want %q", tt.lit, got.Str, got.Raw, tt.want)
		}
	}
}

// TestLikeMatch covers the pattern matcher on its own, escapes included.
func TestLikeMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"acme%", "Acme Corp", true},
		{"acme%", "The Acme", false},
		{"%acme%", "The ACME co", true},
		{"a_c", "abc", true},
		{"a_c", "abbc", false},
		{"a%c", "ac", true},
		{"a%c", "abcbc", true},
		{"a%c", "abcb", false},
		{"%", "", true},
		{"", "", true},
		{"", "a", false},
		{`100\%`, "100%", true},
		{`100\%`, "1000", false},
		{`a\_b`, "a_b", true},
		{`a\_b`, "axb", false},
		{`a\\%`, `a\bc`, true},
		{"zür%", "ZÜRICH", true},
		{"_", "ü", true},
		{"%a%b%c%", "xxaxxbxxcxx", true},
		{"%a%b%c%", "xxaxxcxxbxx", false},
	}
	for _, tt := range tests {
		if got := compileLike(tt.pattern).match(tt.s); got != tt.want {
			t.Errorf("%q LIKE %q = %v, want %v", tt.s, tt.pattern, got, tt.want)
		}
	}
}

func TestDateRange(t *testing.T) {
	now := time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC) // a Saturday
	tests := []struct {
		lit      string
		from, to string
	}{
		{"TODAY", "2026-11-21", "2026-11-22"},
		{"YESTERDAY", "2026-11-20", "2026-11-21"},
		{"TOMORROW", "2026-11-22", "2026-11-23"},
		{"THIS_WEEK", "2026-11-15", "2026-11-22"},
		{"LAST_WEEK", "2026-11-08", "2026-11-15"},
		{"NEXT_WEEK", "2026-11-22", "2026-11-29"},
		{"THIS_MONTH", "2026-11-01", "2026-12-01"},
		{"LAST_MONTH", "2026-10-01", "2026-11-01"},
		{"NEXT_MONTH", "2026-12-01", "2027-01-01"},
		{"THIS_QUARTER", "2026-10-01", "2027-01-01"},
		{"NEXT_QUARTER", "2027-01-01", "2027-04-01"},
		{"LAST_YEAR", "2025-01-01", "2026-01-01"},
		{"LAST_90_DAYS", "2026-08-23", "2026-11-22"},
		{"LAST_N_DAYS:0", "2026-11-21", "2026-11-22"},
		{"LAST_N_DAYS:30", "2026-10-22", "2026-11-22"},
		{"NEXT_N_DAYS:7", "2026-11-22", "2026-11-29"},
		{"N_DAYS_AGO:21", "2026-10-31", "2026-11-01"},
		{"LAST_N_WEEKS:2", "2026-11-01", "2026-11-15"},
		{"N_MONTHS_AGO:11", "2025-12-01", "2026-01-01"},
		{"NEXT_N_YEARS:2", "2027-01-01", "2029-01-01"},
		{"THIS_FISCAL_YEAR", "2026-01-01", "2027-01-01"},
		{"LAST_N_FISCAL_QUARTERS:2", "2026-04-01", "2026-10-01"},
		{"N_WEEKS_AGO:1", "2026-11-08", "2026-11-15"},
	}
	for _, tt := range tests {
		q, err := Parse("SELECT Id FROM Task WHERE ActivityDate = " + tt.lit)
		if err != nil {
			t.Errorf("%s: %v", tt.lit, err)
			continue
		}
		from, to := dateRange(q.Where.(*Comparison).Value, now, time.UTC)
		if f, e := from.Format(time.DateOnly), to.Format(time.DateOnly); f != tt.from || e != tt.to {
			t.Errorf("%s = [%s, %s), want [%s, %s)", tt.lit, f, e, tt.from, tt.to)
		}
	}
	// In the org's zone the day can differ from UTC's.
	tokyo := time.FixedZone("JST", 9*3600)
	from, _ := dateRange(Literal{Type: LitDateLiteral, Name: "TODAY"}, time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC), tokyo)
	if want := time.Date(2026, 11, 22, 0, 0, 0, 0, tokyo); !from.Equal(want) {
		t.Errorf("TODAY in Tokyo starts %v, want %v", from, want)
	}
}
