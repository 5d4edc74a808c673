package salesforce_test

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"casebot/bot"
	"casebot/connectors/salesforce"
)

// urlLengths is a client's transport that records the longest URL it sent.
type urlLengths struct{ longest atomic.Int64 }

func (u *urlLengths) RoundTrip(r *http.Request) (*http.Response, error) {
	n := int64(len(r.URL.String()))
	for {
		old := u.longest.Load()
		if n <= old || u.longest.CompareAndSwap(old, n) {
			break
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// queries counts the queries (first pages) since the last reset.
func (o *sbOrg) queries() int {
	n := 0
	for _, r := range o.sb.Requests() {
		if strings.HasSuffix(r.Path, "/query") {
			n++
		}
	}
	return n
}

// checkRefused checks that err is the client's refusal of a call, saying want.
func checkRefused(t *testing.T, what string, err error, want string) {
	t.Helper()
	var be *bot.Error
	if !errors.As(err, &be) || be.Code != "INVALID_INPUT" || be.Retryable || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: %v, want INVALID_INPUT saying %q", what, err, want)
	}
}

// accountIDs returns the ids of accounts.
func accountIDs(accounts []bot.Account) []string {
	var ids []string
	for _, a := range accounts {
		ids = append(ids, a.ID)
	}
	return ids
}

// TestAccounts: accounts are found by a field's exact value, without regard to case, in one
// query, with the fields asked for (once each, in the spelling asked for, without Id).
func TestAccounts(t *testing.T) {
	o := startSandbox(t, nil)
	ids := o.create(t, "Account",
		bot.Fields{"Name": "Acme Corp", "AccountNumber": "CUS-001017", "Time_Zone__c": "America/New_York"},
		bot.Fields{"Name": "Globex GmbH", "AccountNumber": "cus-001024"},
		bot.Fields{"Name": "Initech KK", "AccountNumber": "CUS-001031"},
	)
	o.reset()
	got, err := o.crm.Accounts(t.Context(), bot.AccountQuery{
		Field:  "AccountNumber",
		Values: []string{"cus-001017", "CUS-001024", "CUS-001017", "CUS-999999", ""},
		Fields: []string{"Name", "accountnumber", "Id", "NAME", "Time_Zone__c"},
	})
	if err != nil {
		t.Fatalf("Accounts: %v", err)
	}
	want := []bot.Account{
		{ID: ids[0], Fields: bot.Fields{"Name": "Acme Corp", "accountnumber": "CUS-001017", "Time_Zone__c": "America/New_York"}},
		{ID: ids[1], Fields: bot.Fields{"Name": "Globex GmbH", "accountnumber": "cus-001024", "Time_Zone__c": nil}},
	}
	if !slices.EqualFunc(got, want, func(a, b bot.Account) bool { return a.ID == b.ID && maps.Equal(a.Fields, b.Fields) }) {
		t.Errorf("Accounts =\n %+v\nwant\n %+v", got, want)
	}
	if n := o.queries(); n != 1 {
		t.Errorf("%d queries, want 1", n)
	}

	o.reset()
	if got, err := o.crm.Accounts(t.Context(), bot.AccountQuery{Field: "AccountNumber", Values: []string{""}}); err != nil || len(got) != 0 {
		t.Errorf("no values: %v, %v; want nothing", got, err)
	}
	if n := len(o.sb.Requests()); n != 0 {
		t.Errorf("no values: %d requests, want none", n)
	}
}

// TestAccountsByDomain: a list field is searched for each of its values, whatever separates
// them, without regard to case, and only a whole value counts: "ample.com" is not
// "example.com", nor is "example" any domain.
func TestAccountsByDomain(t *testing.T) {
	o := startSandbox(t, nil)
	ids := o.create(t, "Account",
		bot.Fields{"Name": "Example", "Email_Domains__c": "example.com"},
		bot.Fields{"Name": "Ample", "Email_Domains__c": "ample.com; Other.EXAMPLE"},
		bot.Fields{"Name": "Many", "Email_Domains__c": "a.example,b.example  c.example\td.example;\ne.example"},
		bot.Fields{"Name": "Sub", "Email_Domains__c": "sub.example.com"},
		bot.Fields{"Name": "None"},
		bot.Fields{"Name": "Quote", "Email_Domains__c": "o'brien.example x_y.example"},
	)
	example, ample, many, quote := ids[0], ids[1], ids[2], ids[5]
	tests := []struct {
		values []string
		want   []string
	}{
		{[]string{"ample.com"}, []string{ample}},
		{[]string{"EXAMPLE.COM"}, []string{example}},
		{[]string{"other.example", "D.EXAMPLE"}, []string{ample, many}},
		{[]string{"e.example", "a.example", "c.example"}, []string{many}},
		{[]string{"example", "com", "b.exam"}, nil},
		{[]string{"O'Brien.example"}, []string{quote}},
		{[]string{"x_y.example"}, []string{quote}},
		{[]string{"xay.example", "%", "_.example"}, nil}, // LIKE's wildcards are escaped, and no domain
	}
	for _, tt := range tests {
		got, err := o.crm.Accounts(t.Context(), bot.AccountQuery{Field: "Email_Domains__c", List: true, Values: tt.values, Fields: []string{"Name"}})
		if err != nil {
			t.Fatalf("Accounts(%q): %v", tt.values, err)
		}
		if ids := accountIDs(got); !slices.Equal(ids, tt.want) {
			t.Errorf("Accounts(%q) = %v, want %v", tt.values, ids, tt.want)
		}
		for _, a := range got {
			if len(a.Fields) != 1 || a.Fields["Name"] == nil {
				t.Errorf("Accounts(%q): fields %v, want the Name alone", tt.values, a.Fields)
			}
		}
	}

	// A value with a separator in it is never one of a list's values: no query for it.
	o.reset()
	if got, err := o.crm.Accounts(t.Context(), bot.AccountQuery{Field: "Email_Domains__c", List: true,
		Values: []string{"ample.com; other.example", "a.example b.example"}}); err != nil || len(got) != 0 {
		t.Errorf("values with separators: %v, %v; want nothing", got, err)
	}
	if n := len(o.sb.Requests()); n != 0 {
		t.Errorf("values with separators: %d requests, want none", n)
	}
}

// TestAccountsChunks: many values take several queries, each URL well under Salesforce's
// 16,384 characters; an account that several queries find is returned once.
func TestAccountsChunks(t *testing.T) {
	urls := &urlLengths{}
	o := startSandbox(t, func(opts *salesforce.Options) { opts.HTTPClient = &http.Client{Transport: urls} })
	domain := func(i int) string { return fmt.Sprintf("d%03d.example", i) }
	number := func(i int) string { return fmt.Sprintf("CUS-%06d", i) }
	ids := o.create(t, "Account",
		bot.Fields{"Name": "First", "AccountNumber": number(0), "Email_Domains__c": domain(0)},
		bot.Fields{"Name": "Twice", "AccountNumber": number(599), "Email_Domains__c": domain(1) + "; " + domain(150)},
		bot.Fields{"Name": "Last", "Email_Domains__c": domain(299)},
	)
	var numbers, domains []string
	for i := range 600 {
		numbers = append(numbers, number(i))
	}
	for i := range 300 {
		domains = append(domains, domain(i))
	}
	tests := []struct {
		name        string
		q           bot.AccountQuery
		want        []string
		wantQueries int
	}{
		// 600 quoted numbers of 12 characters and their separators: 285 a query.
		{"exact", bot.AccountQuery{Field: "AccountNumber", Values: numbers}, []string{ids[0], ids[1]}, 3},
		// 300 conditions "Email_Domains__c LIKE '%d000.example%'" and their ORs: 95 a query.
		{"list", bot.AccountQuery{Field: "Email_Domains__c", List: true, Values: domains}, ids, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o.reset()
			urls.longest.Store(0)
			got, err := o.crm.Accounts(t.Context(), tt.q)
			if err != nil {
				t.Fatalf("Accounts: %v", err)
			}
			if ids := accountIDs(got); !slices.Equal(ids, tt.want) {
				t.Errorf("Accounts = %v, want %v", ids, tt.want)
			}
			if n := o.queries(); n != tt.wantQueries {
				t.Errorf("%d queries, want %d", n, tt.wantQueries)
			}
			if n := urls.longest.Load(); n > 16384 || n < 4000 {
				t.Errorf("the longest URL has %d characters, want some 4,000 to 16,384", n)
			}
		})
	}
}

// TestAccountsRefusesBadNames: a field name that is not an API name is refused before any call.
func TestAccountsRefusesBadNames(t *testing.T) {
	o := startSandbox(t, nil)
	for _, q := range []bot.AccountQuery{
		{Field: "Name) OR (Name != null", Values: []string{"x"}},
		{Field: "", Values: []string{"x"}},
		{Field: "Email_Domains__c", List: true, Values: []string{"x"}, Fields: []string{"Name, (SELECT Id FROM Contacts)"}},
		{Field: "AccountNumber", Fields: []string{"Owner.Password__c'"}},
	} {
		_, err := o.crm.Accounts(t.Context(), q)
		checkRefused(t, fmt.Sprintf("Accounts(%+v)", q), err, "invalid field name")
	}
	if n := len(o.sb.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// TestCaseIDs: cases are found by number in one query; unknown numbers are absent.
func TestCaseIDs(t *testing.T) {
	o := startSandbox(t, nil)
	ids := o.create(t, "Case", bot.Fields{"Subject": "A"}, bot.Fields{"Subject": "B"}, bot.Fields{"Subject": "C"})
	numbers := map[string]string{}
	asked := []string{"99999999", "", "' OR CaseNumber != '"}
	for _, id := range ids[:2] {
		rec, err := o.client.Get(t.Context(), "Case", id, "CaseNumber")
		if err != nil {
			t.Fatal(err)
		}
		numbers[rec["CaseNumber"].(string)] = id
		asked = append(asked, rec["CaseNumber"].(string))
	}
	o.reset()
	got, err := o.crm.CaseIDs(t.Context(), asked)
	if err != nil {
		t.Fatalf("CaseIDs: %v", err)
	}
	if !maps.Equal(got, numbers) {
		t.Errorf("CaseIDs = %v, want %v", got, numbers)
	}
	if n := o.queries(); n != 1 {
		t.Errorf("%d queries, want 1", n)
	}
}
