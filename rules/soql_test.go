package rules

import (
	"strings"
	"testing"
)

// TestParseSOQLCondition checks the conditions the parser takes, by the comparisons it finds
// in them, written back one a line as "field op value, value".
func TestParseSOQLCondition(t *testing.T) {
	tests := []struct{ src, want string }{
		{"Type = 'Termination' AND IsClosed = false", "Type = 'Termination'; IsClosed = false"},
		{"Type = 'A' OR Type = 'B' OR Type = 'C'", "Type = 'A'; Type = 'B'; Type = 'C'"},
		{"(Type = 'A' OR Type = 'B') AND IsClosed = false", "Type = 'A'; Type = 'B'; IsClosed = false"},
		{"Type = 'A' OR (Status = 'New' AND NOT IsClosed = true)", "Type = 'A'; Status = 'New'; IsClosed = true"},
		{"NOT (Status = 'New' OR Status = 'Closed')", "Status = 'New'; Status = 'Closed'"},
		{"NOT NOT Status = 'New'", "Status = 'New'"},
		{"((Status = 'New'))", "Status = 'New'"},
		{"Status != 'New' and Status <> 'Closed' aNd Type = null", "Status != 'New'; Status <> 'Closed'; Type = null"},
		{"N < 1 AND N <= -2 AND N > +3.5 AND N >= 0.25", "N < 1; N <= -2; N > +3.5; N >= 0.25"},
		{"Subject LIKE 'term%' OR Subject like 'a\\_b\\%'", "Subject LIKE 'term%'; Subject LIKE 'a\\_b\\%'"},
		{`Subject = 'it\'s \"x\" \\ \n\r\t\b\f\N'`, `Subject = 'it\'s \"x\" \\ \n\r\t\b\f\N'`},
		{"Type IN ('A', 'B') AND Type NOT IN ('C') AND Type not in (null)", "Type IN 'A', 'B'; Type NOT IN 'C'; Type NOT IN null"},
		{"Tags__c INCLUDES ('a;b', 'c') AND Tags__c excludes ('d')", "Tags__c INCLUDES 'a;b', 'c'; Tags__c EXCLUDES 'd'"},
		{"D = 2026-11-02 AND T > 2026-11-02T10:00:00Z AND T < 2026-11-02T10:00:00+01:00 AND T < 2026-11-02T10:00:00-05:30",
			"D = 2026-11-02; T > 2026-11-02T10:00:00Z; T < 2026-11-02T10:00:00+01:00; T < 2026-11-02T10:00:00-05:30"},
		{"D = TODAY AND D > LAST_N_DAYS:30 AND D < next_n_days:7 AND D = THIS_FISCAL_QUARTER", "D = TODAY; D > LAST_N_DAYS:30; D < next_n_days:7; D = THIS_FISCAL_QUARTER"},
		{"Account.Type = 'Partner' AND IsClosed = TRUE", "Account.Type = 'Partner'; IsClosed = TRUE"},
		{"Subject = 'déjà vu'\n  AND\tIsClosed = false", "Subject = 'déjà vu'; IsClosed = false"},
		{"Subject = '('", "Subject = '('"},
		{`Subject = 'caf\u00e9 \u00C9'`, `Subject = 'caf\u00e9 \u00C9'`},
	}
	for _, tt := range tests {
		comps, err := parseSOQLCondition(tt.src)
		if err != nil {
			t.Errorf("%q: %s at %d", tt.src, err.msg, err.off)
			continue
		}
		var got []string
		for _, c := range comps {
			var vals []string
			for _, v := range c.values {
				vals = append(vals, v.text)
			}
			got = append(got, c.field.text+" "+c.op.text+" "+strings.Join(vals, ", "))
		}
		if s := strings.Join(got, "; "); s != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.src, s, tt.want)
		}
	}
}

// TestParseSOQLConditionErrors checks what the parser refuses: the message and the 1-based
// column it points at.
func TestParseSOQLConditionErrors(t *testing.T) {
	tests := []struct {
		src  string
		col  int
		want string
	}{
		// The two of issue 8: one closes the connector's parenthesis early, widening the query
		// to every open case; the other fails only when Salesforce reads it.
		{"Type = 'Nope') OR (IsClosed = false", 14, "unbalanced parenthesis: ')' has no '('"},
		{"Type = = 'x'", 8, "expected a value after =, found ="},

		{"(Type = 'x'", 1, "unbalanced parenthesis: this '(' is never closed"},
		{"((Type = 'x') AND IsClosed = false", 1, "unbalanced parenthesis: this '(' is never closed"},
		{"(Type = 'x' Status = 'y')", 13, "expected ')', AND or OR, found Status"},
		{"Type = 'x')", 11, "unbalanced parenthesis: ')' has no '('"},
		{"Type = 'A' AND Status = 'B' OR IsClosed = false", 29, "AND and OR need parentheses to be mixed: (a AND b) OR c"},
		{"Type = 'A' or Status = 'B' and IsClosed = false", 28, "AND and OR need parentheses to be mixed: (a AND b) OR c"},
		{"NOT Type = 'A' AND Status = 'B' OR IsClosed = false", 33, "AND and OR need parentheses to be mixed: (a AND b) OR c"},
		{"Type =", 7, "expected a value after =, found the end"},
		{"Type = Status", 8, "expected a value after =, found the field Status: SOQL compares a field with a value, not with another field"},
		{"Type = AND", 8, "expected a value after =, found AND"},
		{"Type 'x'", 6, "expected an operator after Type (=, !=, <>, <, <=, >, >=, LIKE, IN, NOT IN, INCLUDES or EXCLUDES), found 'x'"},
		{"Type == 'x'", 7, "expected a value after =, found ="},
		{"Type IS NULL", 6, "IS NULL is not SOQL: write Type = null, or Type != null"},
		{"Subject NOT LIKE 'x%'", 9, "NOT LIKE is not SOQL: write NOT Subject LIKE …"},
		{"Type NOT = 'x'", 10, "expected IN after NOT, found ="},
		{"= 'x'", 1, "expected a field name, found ="},
		{"'x' = Type", 1, "expected a field name, found 'x'"},
		{"AND Type = 'x'", 1, "expected a field name, found AND"},
		{"TODAY = CreatedDate", 1, "expected a field name, found TODAY"},
		{"", 1, "expected a field name, found the end"},
		{"IsClosed = false AND", 21, "expected a field name, found the end"},
		{"IsClosed = false LIMIT 10", 18, "expected AND, OR or the end of the condition, found LIMIT"},
		{"IsClosed = false;", 17, `unexpected character ';'`},
		{"Type = \"x\"", 8, "strings are written in single quotes in SOQL: 'text'"},
		{"Type = 'x", 8, "unterminated string: the quote opened here is never closed"},
		{`Type = 'it\'s`, 8, "unterminated string: the quote opened here is never closed"},
		{`Type = 'a\qb'`, 10, `invalid escape sequence in a string: SOQL knows \\ \' \" \n \r \t \b \f \uXXXX, and \_ \% in LIKE patterns`},
		{`Type = 'a\`, 10, `invalid escape sequence in a string: SOQL knows \\ \' \" \n \r \t \b \f \uXXXX, and \_ \% in LIKE patterns`},
		{`Type = 'caf\u00g9'`, 12, `invalid escape sequence in a string: \u takes four hex digits, as in \u00e9`},
		{`Type = 'caf\u00'`, 12, `invalid escape sequence in a string: \u takes four hex digits, as in \u00e9`},
		{`Type = 'caf\U00e9'`, 12, `invalid escape sequence in a string: SOQL knows \\ \' \" \n \r \t \b \f \uXXXX, and \_ \% in LIKE patterns`},
		{"Type IN 'x'", 9, "expected a list of values after IN, as in ('a', 'b'), found 'x'"},
		{`Subject = 'a\_b' AND Subject LIKE 'a\_b'`, 13, `\_ and \% escape the wildcards of LIKE patterns; elsewhere write _ and %`},
		{`Type IN ('a', '100\%')`, 19, `\_ and \% escape the wildcards of LIKE patterns; elsewhere write _ and %`},
		{"From = 'x'", 1, "expected a field name, found From"},
		{"Type IN ()", 10, "expected a value after (, found )"},
		{"Type IN ('a',)", 14, "expected a value after ,, found )"},
		{"Type IN ('a' 'b')", 14, "expected ',' or ')' in the list, found 'b'"},
		{"Type IN ('a'", 13, "expected ',' or ')' to close the list, found the end"},
		{"Id IN (SELECT CaseId FROM CaseComment)", 8, "subqueries are not supported: list the values"},
		{"CALENDAR_YEAR(CreatedDate) = 2026", 1, "CALENDAR_YEAR(…): functions are not supported; compare a field with a value"},
		{"N = 1e5", 5, "invalid value 1e5: want a number (42, -2.5), a date (2026-11-02) or a datetime (2026-11-02T10:00:00Z, 2026-11-02T10:00:00+01:00)"},
		{"N = 1.", 5, "invalid value 1.: want a number (42, -2.5), a date (2026-11-02) or a datetime (2026-11-02T10:00:00Z, 2026-11-02T10:00:00+01:00)"},
		{"N = .5", 5, `unexpected character '.'`},
		{"N = - 5", 5, `unexpected character '-'`},
		{"D = 2026-13-02", 5, `invalid date 2026-13-02: month out of range`},
		{"T = 2026-11-02T25:00:00Z", 5, `invalid datetime 2026-11-02T25:00:00Z: hour out of range`},
		{"T = 2026-11-02T10:00:00.000Z", 5, "invalid value 2026-11-02T10:00:00.000Z: want a number (42, -2.5), a date (2026-11-02) or a datetime (2026-11-02T10:00:00Z, 2026-11-02T10:00:00+01:00)"},
		{"T = 2026-11-02T10:00:00", 5, "invalid value 2026-11-02T10:00:00: want a number (42, -2.5), a date (2026-11-02) or a datetime (2026-11-02T10:00:00Z, 2026-11-02T10:00:00+01:00)"},
		{"D = LAST_N_DAYS", 16, "LAST_N_DAYS takes a number of days, weeks, months, quarters or years: LAST_N_DAYS:30"},
		{"D = LAST_N_DAYS: 30", 16, "LAST_N_DAYS takes a number of days, weeks, months, quarters or years: LAST_N_DAYS:30"},
		{"D = TODAY:3", 10, `unexpected character ':'`},
		{"Type = :name", 8, `unexpected character ':'`},
		{"Subject = 'déjà' AND Typé = 'x'", 25, `unexpected character 'é'`},
	}
	for _, tt := range tests {
		comps, err := parseSOQLCondition(tt.src)
		if err == nil {
			t.Errorf("%q: accepted (%d comparisons), want %q", tt.src, len(comps), tt.want)
			continue
		}
		if col := len([]rune(tt.src[:err.off])) + 1; err.msg != tt.want || col != tt.col {
			t.Errorf("%q:\n got col %d: %s\nwant col %d: %s", tt.src, col, err.msg, tt.col, tt.want)
		}
	}
}
