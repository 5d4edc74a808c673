package salesforce

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"casebot/bot"
)

// The SOQL string literal escapes. A Replacer makes one pass, so the backslashes it adds are
// never escaped again: the same result as escaping the backslash first.
var (
	soqlEscapes = []string{
		`\`, `\\`, `'`, `\'`, `"`, `\"`,
		"\n", `\n`, "\r", `\r`, "\t", `\t`, "\b", `\b`, "\f", `\f`,
	}
	soqlEscaper = strings.NewReplacer(soqlEscapes...)
	// In a LIKE pattern _ and % are wildcards; escaped, they match themselves.
	likeEscaper = strings.NewReplacer(append(slices.Clip(soqlEscapes), "_", `\_`, "%", `\%`)...)

	// An API name: letters, digits and underscores, starting with a letter ("Name",
	// "Customer_Attrition__c", "ns__Field__c").
	nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}$`)
)

// Quote returns s as a SOQL string literal.
func Quote(s string) string { return "'" + soqlEscaper.Replace(s) + "'" }

// QuoteLike returns s as a SOQL string literal for LIKE that matches s literally: the
// wildcards _ and % in s are escaped. Add wildcards around the result's content yourself,
// e.g. "'%" + q[1:len(q)-1] + "%'" of q := QuoteLike(s) (not strings.Trim, which would also
// take the quote of an escaped \' at either end).
func QuoteLike(s string) string { return "'" + likeEscaper.Replace(s) + "'" }

// ValidID reports whether id looks like a Salesforce record id (15 or 18 characters).
func ValidID(id string) bool { return bot.IsRecordID(id, "") }

// ValidObject reports whether name is a valid sObject API name ("Case", "Ledger__c").
func ValidObject(name string) bool { return nameRE.MatchString(name) }

// maxRelationshipDepth is how many relationships a SOQL field path may cross.
const maxRelationshipDepth = 5

// ValidField reports whether name is a field API name or a relationship path to one
// ("Status", "Account.Owner.Username", "Parent__r.Amount__c"). Names that pass cannot
// change the meaning of the SOQL they are put in.
func ValidField(name string) bool {
	parts := strings.Split(name, ".")
	if len(parts) > maxRelationshipDepth+1 {
		return false
	}
	for _, p := range parts {
		if !nameRE.MatchString(p) {
			return false
		}
	}
	return true
}

// FormatDateTime formats t as a Salesforce datetime in UTC, "2026-11-21T10:00:00Z", to the
// second. The same text is valid in a JSON body and as an unquoted SOQL literal.
func FormatDateTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// The layouts ParseDateTime accepts. Go accepts fractional seconds after "05" even when the
// layout has none, so the first covers Salesforce's "2026-11-21T10:00:00.000+0000"
// (bot.DateTimeLayout), "…+0000" and "…Z"; RFC 3339 adds "+00:00".
var dateTimeLayouts = []string{"2006-01-02T15:04:05Z0700", time.RFC3339}

// ParseDateTime parses a Salesforce datetime such as "2026-11-21T10:00:00.000+0000" and
// returns it in UTC.
func ParseDateTime(s string) (time.Time, error) {
	for _, layout := range dateTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("parse Salesforce datetime %q: want the layout %s", s, bot.DateTimeLayout)
}
