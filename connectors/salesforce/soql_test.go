package salesforce

import (
	"testing"
	"time"
)

func TestQuote(t *testing.T) {
	tests := []struct {
		like     bool // QuoteLike instead of Quote
		in, want string
	}{
		{false, "", `''`},
		{false, "Acme Corp", `'Acme Corp'`},
		{false, "O'Brien", `'O\'Brien'`},
		{false, `say "hi"`, `'say \"hi\"'`},
		{false, `C:\temp`, `'C:\\temp'`},
		// The backslash is escaped first: an escaped quote's backslash is not doubled again,
		// and an input backslash before a quote cannot swallow the quote's escape.
		{false, `\'`, `'\\\''`},
		{false, `\\`, `'\\\\'`},
		{false, "line1\nline2\r\n", `'line1\nline2\r\n'`},
		{false, "a\tb\bc\fd", `'a\tb\bc\fd'`},
		{false, "50% off_now", `'50% off_now'`}, // wildcards only matter in LIKE
		// injection attempts stay inside the literal
		{false, "x' OR Name != '", `'x\' OR Name != \''`},
		{false, `x\' OR Id != null OR Name = '`, `'x\\\' OR Id != null OR Name = \''`},
		{false, "x') OR (IsDeleted = true", `'x\') OR (IsDeleted = true'`},
		{false, "ünïcödé ✓", `'ünïcödé ✓'`},

		{true, "", `''`},
		{true, "50% off", `'50\% off'`},
		{true, "snake_case", `'snake\_case'`},
		{true, `\_`, `'\\\_'`},
		{true, "O'Brien_%", `'O\'Brien\_\%'`},
		{true, "x%' OR Name LIKE '%", `'x\%\' OR Name LIKE \'\%'`},
		{true, "tab\there", `'tab\there'`},
	}
	for _, tt := range tests {
		quote, name := Quote, "Quote"
		if tt.like {
			quote, name = QuoteLike, "QuoteLike"
		}
		if got := quote(tt.in); got != tt.want {
			t.Errorf("%s(%q) = %s, want %s", name, tt.in, got, tt.want)
		}
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"500000000000001", true},
		{"500000000000001AAA", true},
		{"001Dn00000ABcDeIAZ", true},
		{"", false},
		{"50000000000001", false},      // 14
		{"5000000000000001", false},    // 16
		{"500000000000001AA", false},   // 17
		{"500000000000001AAAA", false}, // 19
		{"500000000000001' OR ", false},
		{"500000000000001AA'", false},
		{"500000000000001\n", false},
		{"500-00000000001", false},
		{"../../sobjects/Us", false},
		{"５00000000000001", false}, // a full-width digit
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestValidField(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"Status", true},
		{"Customer_Attrition__c", true},
		{"ns__Field__c", true},
		{"Account.Name", true},
		{"Account.Owner.Username", true},
		{"Parent__r.Amount__c", true},
		{"A.B.C.D.E.F", true}, // five relationships
		{"A.B.C.D.E.F.G", false},
		{"", false},
		{"_Status", false},
		{"1Status", false},
		{"Account.", false},
		{".Name", false},
		{"Account..Name", false},
		{"Status FROM User", false},
		{"Name, (SELECT Id FROM Users)", false},
		{"Id) FROM User --", false},
		{"Status,Subject", false},
		{"Name'", false},
		{"Na me", false},
		{"COUNT(Id)", false},
		{"Näme", false},
	}
	for _, tt := range tests {
		if got := ValidField(tt.name); got != tt.want {
			t.Errorf("ValidField(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if ValidObject("Account.Name") || !ValidObject("Case") || ValidObject("Case WHERE") {
		t.Error("ValidObject accepts a path or rejects a name")
	}
}

func TestParseDateTime(t *testing.T) {
	want := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-11-21T10:00:00.000+0000", want, true}, // Salesforce's own layout
		{"2026-11-21T10:00:00+0000", want, true},
		{"2026-11-21T10:00:00Z", want, true},
		{"2026-11-21T10:00:00.000Z", want, true},
		{"2026-11-21T10:00:00+00:00", want, true},
		{"2026-11-21T05:00:00.000-0500", want, true},
		{"2026-11-21T11:30:00.000+0130", want, true},
		{"2026-11-21T10:00:00.250+0000", want.Add(250 * time.Millisecond), true},
		{"2026-11-21", time.Time{}, false},
		{"2026-11-21 10:00:00", time.Time{}, false},
		{"2026-11-21T10:00:00", time.Time{}, false}, // no zone: ambiguous
		{"2026-13-21T10:00:00Z", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := ParseDateTime(tt.in)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("ParseDateTime(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err == nil && got.Location() != time.UTC {
			t.Errorf("ParseDateTime(%q) is in %v, want UTC", tt.in, got.Location())
		}
	}
}

func TestFormatDateTime(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), "2026-11-21T10:00:00Z"},
		{time.Date(2026, 11, 21, 5, 0, 0, 999_000_000, ny), "2026-11-21T10:00:00Z"},
		{time.Date(2026, 7, 1, 20, 30, 15, 0, ny), "2026-07-02T00:30:15Z"},
	}
	for _, tt := range tests {
		got := FormatDateTime(tt.in)
		if got != tt.want {
			t.Errorf("FormatDateTime(%v) = %s, want %s", tt.in, got, tt.want)
		}
		back, err := ParseDateTime(got)
		if err != nil || !back.Equal(tt.in.Truncate(time.Second)) {
			t.Errorf("ParseDateTime(FormatDateTime(%v)) = %v, %v", tt.in, back, err)
		}
	}
}
