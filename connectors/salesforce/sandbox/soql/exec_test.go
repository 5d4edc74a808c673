package soql

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func run(t *testing.T, env Env, query string) (*Result, error) {
	t.Helper()
	q, err := Parse(query)
	if err != nil {
		t.Fatalf("Parse(%q): %v", query, err)
	}
	return Execute(q, env)
}

// TestExecuteFilter checks which records each WHERE selects; results come in Id order when
// the query has no ORDER BY.
func TestExecuteFilter(t *testing.T) {
	d := newTestData()
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		where string
		want  string
		loc   *time.Location
	}{
		// strings: = and != ignore case, != includes nulls, ordering ignores case
		{where: "Status = 'new'", want: "C1 C4"},
		{where: "Status = 'NEW'", want: "C1 C4"},
		{where: "Status != 'New'", want: "C2 C3"},
		{where: "Status <> 'New'", want: "C2 C3"},
		{where: "CaseNumber < '00001002'", want: "C1"},
		{where: "CaseNumber <= '00001002'", want: "C1 C2"},
		{where: "CaseNumber > '00001003'", want: "C4"},
		{where: "CaseNumber >= '00001003'", want: "C3 C4"},
		{where: "Subject > 'q'", want: "C1 C4"},
		{where: "Subject = null", want: ""},
		{where: "Subject != null", want: "C1 C2 C3 C4"},
		// numbers
		{where: "Amount__c > 0", want: "C1 C2"},
		{where: "Amount__c < 0", want: "C4"},
		{where: "Amount__c >= 2.5", want: "C1 C2"},
		{where: "Amount__c <= -3", want: "C4"},
		{where: "Amount__c = 10", want: "C1"},
		{where: "Amount__c = 10.0", want: "C1"},
		{where: "Amount__c != 10", want: "C2 C3 C4"},
		{where: "Amount__c = null", want: "C3"},
		{where: "Amount__c != null", want: "C1 C2 C4"},
		{where: "Amount__c < null", want: ""},
		// booleans are never null
		{where: "IsClosed = true", want: "C3"},
		{where: "IsClosed = FALSE", want: "C1 C2 C4"},
		{where: "IsClosed != true", want: "C1 C2 C4"},
		{where: "IsClosed = null", want: ""},
		{where: "Termination_Confirmed__c = false", want: "C2 C4"},
		// dates
		{where: "Notice_Date__c = 2026-11-21", want: "C1"},
		{where: "Notice_Date__c > 2026-11-01", want: "C1 C4"},
		{where: "Notice_Date__c < 2026-11-21", want: "C3"},
		{where: "Notice_Date__c != 2026-11-21", want: "C2 C3 C4"},
		{where: "Notice_Date__c = null", want: "C2"},
		{where: "Notice_Date__c = TODAY", want: "C1"},
		{where: "Notice_Date__c = today", want: "C1"},
		{where: "Notice_Date__c < TODAY", want: "C3"},
		{where: "Notice_Date__c <= TODAY", want: "C1 C3"},
		{where: "Notice_Date__c > TODAY", want: "C4"},
		{where: "Notice_Date__c >= TOMORROW", want: "C4"},
		{where: "Notice_Date__c = YESTERDAY", want: ""},
		{where: "Notice_Date__c = LAST_N_DAYS:7", want: "C1"},
		{where: "Notice_Date__c = LAST_N_DAYS:37", want: "C1 C3"},
		{where: "Notice_Date__c = LAST_N_DAYS:36", want: "C1"},
		{where: "Notice_Date__c = NEXT_N_DAYS:7", want: "C4"},
		{where: "Notice_Date__c = NEXT_N_DAYS:6", want: ""},
		{where: "Notice_Date__c = N_DAYS_AGO:37", want: "C3"},
		{where: "Notice_Date__c = THIS_WEEK", want: "C1"},
		{where: "Notice_Date__c = NEXT_WEEK", want: "C4"},
		{where: "Notice_Date__c = THIS_MONTH", want: "C1 C4"},
		{where: "Notice_Date__c = LAST_MONTH", want: "C3"},
		{where: "Notice_Date__c = NEXT_MONTH", want: ""},
		{where: "Notice_Date__c = THIS_QUARTER", want: "C1 C3 C4"},
		{where: "Notice_Date__c != THIS_MONTH", want: "C2 C3"},
		// datetimes: literals in any offset, relative literals by day in the org's zone
		{where: "CreatedDate > 2026-11-21T00:00:00Z", want: "C2"},
		{where: "CreatedDate > 2026-11-21T00:00:00+01:00", want: "C1 C2"},
		{where: "CreatedDate > 2026-11-21T00:00:00.000+0100", want: "C1 C2"},
		{where: "CreatedDate = 2026-11-21T08:00:00Z", want: "C2"},
		{where: "CreatedDate = 2026-11-21T09:00:00+01:00", want: "C2"},
		{where: "CreatedDate < 2026-11-01T00:00:00.000Z", want: "C3"},
		{where: "CreatedDate = TODAY", want: "C2"},
		{where: "CreatedDate = TODAY", want: "C1 C2", loc: berlin},
		{where: "CreatedDate = YESTERDAY", want: "C1"},
		{where: "CreatedDate = YESTERDAY", want: "", loc: berlin},
		{where: "CreatedDate = LAST_N_DAYS:7", want: "C1 C2 C4"},
		{where: "CreatedDate = THIS_WEEK", want: "C1 C2"},
		{where: "CreatedDate = LAST_WEEK", want: "C4"},
		{where: "CreatedDate < THIS_MONTH", want: "C3"},
		{where: "CreatedDate >= LAST_N_DAYS:7", want: "C1 C2 C4"},
		// IN and NOT IN
		{where: "Type IN ('termination', 'Other')", want: "C1 C2 C3"},
		{where: "Type NOT IN ('Termination')", want: "C4"},
		{where: "Amount__c IN (10, -3)", want: "C1 C4"},
		{where: "Amount__c NOT IN (10)", want: "C2 C3 C4"},
		{where: "Amount__c IN (null, 10)", want: "C1 C3"},
		{where: "Amount__c NOT IN (null)", want: "C1 C2 C4"},
		{where: "Notice_Date__c IN (2026-11-21, 2026-11-28)", want: "C1 C4"},
		{where: "IsClosed IN (true)", want: "C3"},
		// LIKE ignores case; _ is one character, % any run
		{where: "Subject LIKE 'term%'", want: "C1"},
		{where: "Subject LIKE '%CONTRACT'", want: "C1"},
		{where: "Subject LIKE '_erminate%'", want: "C1"},
		{where: "Subject LIKE '%e%'", want: "C1 C2 C3 C4"},
		{where: "Subject LIKE 'Terminate'", want: ""},
		{where: "Subject LIKE 'question'", want: "C4"},
		{where: "Subject LIKE 'Q_estion'", want: "C4"},
		{where: "Subject LIKE 'Q__estion'", want: ""},
		{where: "Subject LIKE '%%ion%'", want: "C3 C4"},
		// ids: 15- and 18-character forms are equal, comparisons are case-sensitive
		{where: "Id = '" + d.id("C1") + "'", want: "C1"},
		{where: "Id = '" + d.id("C1")[:15] + "'", want: "C1"},
		{where: "Id = '" + strings.ToLower(d.id("C1")[:15]) + "'", want: ""},
		{where: "Id IN ('" + d.id("C1") + "', '" + d.id("C3")[:15] + "')", want: "C1 C3"},
		{where: "AccountId = '" + d.id("A1") + "'", want: "C1 C3"},
		{where: "AccountId = null", want: "C4"},
		{where: "AccountId != null", want: "C1 C2 C3"},
		{where: "OwnerId != '" + d.id("U1") + "'", want: "C2 C3"},
		// parent fields, through polymorphic and empty references
		{where: "Account.Name = 'ACME CORP'", want: "C1 C3"},
		{where: "Account.Name = null", want: "C4"},
		{where: "Account.Name != 'Globex'", want: "C1 C3 C4"},
		{where: "Account.NumberOfEmployees > 50", want: "C1 C3"},
		{where: "Account.Owner.Username = 'admin@example.com'", want: "C1 C3"},
		{where: "account.owner.manager.name = 'Bob Boss'", want: "C1 C3"},
		{where: "Owner.Username = 'boss@example.com'", want: "C3"},
		{where: "Owner.Name = 'Support Queue'", want: "C2"},
		{where: "Owner.Name LIKE 'A%'", want: "C1 C4"},
		// logic
		{where: "Status = 'New' AND Type = 'Termination'", want: "C1"},
		{where: "Status = 'New' OR Status = 'Closed'", want: "C1 C3 C4"},
		{where: "Status = 'New' OR Status = 'Closed' OR Status = 'Working'", want: "C1 C2 C3 C4"},
		{where: "(Status = 'New' OR Status = 'Closed') AND Type = 'Termination'", want: "C1 C3"},
		{where: "Status = 'New' OR (Status = 'Closed' AND Type = 'Question')", want: "C1 C4"},
		{where: "NOT Status = 'New'", want: "C2 C3"},
		{where: "NOT (Status = 'New' OR IsClosed = true)", want: "C2"},
		{where: "Status = 'New' AND NOT (Type = 'Question')", want: "C1"},
		{where: "NOT NOT Status = 'New'", want: "C1 C4"},
		{where: "(Type = 'Termination' AND IsClosed = false)", want: "C1 C2"},
	}
	for _, tt := range tests {
		name := tt.where
		if tt.loc != nil {
			name += " in " + tt.loc.String()
		}
		t.Run(name, func(t *testing.T) {
			env := testEnv(d)
			env.Loc = tt.loc
			res, err := run(t, env, "SELECT Id FROM Case WHERE "+tt.where)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.namesOf(res); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if res.TotalSize != len(res.Records) {
				t.Errorf("TotalSize %d for %d records", res.TotalSize, len(res.Records))
			}
		})
	}
}

func TestExecuteOrderAndPaging(t *testing.T) {
	d := newTestData()
	tests := []struct {
		query string
		want  string
	}{
		{"SELECT Id FROM Case", "C1 C2 C3 C4"},
		{"SELECT Id FROM Case ORDER BY Amount__c", "C3 C4 C2 C1"},
		{"SELECT Id FROM Case ORDER BY Amount__c ASC", "C3 C4 C2 C1"},
		{"SELECT Id FROM Case ORDER BY Amount__c DESC", "C1 C2 C4 C3"},
		{"SELECT Id FROM Case ORDER BY Amount__c ASC NULLS LAST", "C4 C2 C1 C3"},
		{"SELECT Id FROM Case ORDER BY Amount__c DESC NULLS FIRST", "C3 C1 C2 C4"},
		{"SELECT Id FROM Case ORDER BY Amount__c NULLS LAST", "C4 C2 C1 C3"},
		{"SELECT Id FROM Case ORDER BY Status", "C3 C1 C4 C2"},
		{"SELECT Id FROM Case ORDER BY Status DESC", "C2 C1 C4 C3"},
		{"SELECT Id FROM Case ORDER BY Status DESC, Id DESC", "C2 C4 C1 C3"},
		{"SELECT Id FROM Case ORDER BY Account.Name, CaseNumber DESC", "C4 C3 C1 C2"},
		{"SELECT Id FROM Case ORDER BY Account.Name DESC, CaseNumber", "C2 C1 C3 C4"},
		{"SELECT Id FROM Case ORDER BY Notice_Date__c DESC", "C4 C1 C3 C2"},
		{"SELECT Id FROM Case ORDER BY CreatedDate", "C3 C4 C1 C2"},
		{"SELECT Id FROM Case ORDER BY IsClosed DESC", "C3 C1 C2 C4"},
		{"SELECT Id FROM Case ORDER BY Owner.Name", "C1 C4 C3 C2"},
		{"SELECT Id FROM Account ORDER BY Name", "A4 A1 A3 A2"},
		{"SELECT Id FROM Account ORDER BY NumberOfEmployees DESC", "A1 A2 A4 A3"},
		{"SELECT Id FROM Case ORDER BY CaseNumber LIMIT 2", "C1 C2"},
		{"SELECT Id FROM Case ORDER BY CaseNumber OFFSET 1", "C2 C3 C4"},
		{"SELECT Id FROM Case ORDER BY CaseNumber LIMIT 2 OFFSET 1", "C2 C3"},
		{"SELECT Id FROM Case ORDER BY CaseNumber DESC LIMIT 1 OFFSET 3", "C1"},
		{"SELECT Id FROM Case OFFSET 10", ""},
		{"SELECT Id FROM Case LIMIT 0", ""},
		{"SELECT Id FROM Case WHERE IsClosed = false ORDER BY Subject LIMIT 2", "C2 C4"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res, err := run(t, testEnv(d), tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.namesOf(res); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestExecuteShape checks whole results: field order and spelling, nested parents, child
// subqueries with their own filters, and counts.
func TestExecuteShape(t *testing.T) {
	d := newTestData()
	tests := []struct {
		name, query string
		all         bool
		want        string
	}{
		{
			name: "casebot's query",
			query: "SELECT Id, CaseNumber, Status, Termination_Confirmed__c, Account.Id, Account.Name, Account.Customer_Attrition__c, " +
				"(SELECT Id, Casebot_Key__c, Subject, Status, ActivityDate, IsClosed FROM Tasks WHERE Casebot_Key__c != null) " +
				"FROM Case WHERE (Type = 'Termination' AND IsClosed = false) ORDER BY Id",
			want: `2[Case:C1{Id=C1 CaseNumber="00001001" Status="New" Termination_Confirmed__c=true ` +
				`Account=Account:A1{Id=A1 Name="Acme Corp" Customer_Attrition__c="High"} ` +
				`Tasks=2[Task:T1{Id=T1 Casebot_Key__c="sop/confirm/1/C1" Subject="Send confirmation" Status="Completed" ActivityDate="2026-11-19" IsClosed=true} ` +
				`Task:T2{Id=T2 Casebot_Key__c="sop/call/1/C1" Subject="Call customer" Status="Not Started" ActivityDate="2026-11-25" IsClosed=false}]} ` +
				`Case:C2{Id=C2 CaseNumber="00001002" Status="Working" Termination_Confirmed__c=false ` +
				`Account=Account:A2{Id=A2 Name="Globex" Customer_Attrition__c=null} ` +
				`Tasks=1[Task:T4{Id=T4 Casebot_Key__c="sop/confirm/1/C2" Subject="Send confirmation" Status="Not Started" ActivityDate="2026-11-21" IsClosed=false}]}]`,
		},
		{
			name:  "schema spelling and object name",
			query: "select ID, casenumber, account.NAME from CASE where CASENUMBER = '00001001'",
			want:  `1[Case:C1{Id=C1 CaseNumber="00001001" Account=Account:A1{Name="Acme Corp"}}]`,
		},
		{
			name:  "empty reference is a null parent",
			query: "SELECT Id, Account.Name, Account.Owner.Name FROM Case WHERE CaseNumber = '00001004'",
			want:  `1[Case:C4{Id=C4 Account=null}]`,
		},
		{
			name:  "fields through one relationship share a nested row in first-mention order",
			query: "SELECT Account.Name, Id, Account.Owner.Name, Account.Id, Account.Owner.Manager.Username FROM Case WHERE CaseNumber = '00001001'",
			want:  `1[Case:C1{Account=Account:A1{Name="Acme Corp" Owner=User:U1{Name="Ada Admin" Manager=User:U2{Username="boss@example.com"}} Id=A1} Id=C1}]`,
		},
		{
			name:  "nested parent with an empty reference deeper down",
			query: "SELECT Account.Owner.Manager.Name FROM Case WHERE CaseNumber = '00001003'",
			want:  `1[Case:C3{Account=Account:A1{Owner=User:U1{Manager=User:U2{Name="Bob Boss"}}}}]`,
		},
		{
			name:  "polymorphic owner resolves to the record's own type",
			query: "SELECT Id, Owner.Name FROM Case WHERE Status != 'Closed' ORDER BY CaseNumber",
			want:  `3[Case:C1{Id=C1 Owner=User:U1{Name="Ada Admin"}} Case:C2{Id=C2 Owner=Group:G1{Name="Support Queue"}} Case:C4{Id=C4 Owner=User:U1{Name="Ada Admin"}}]`,
		},
		{
			name:  "polymorphic What: a field only some targets have is null",
			query: "SELECT Id, What.Name, What.Id FROM Task WHERE Subject IN ('Account review', 'Call customer')",
			want:  `2[Task:T2{Id=T2 What=Case:C1{Name=null Id=C1}} Task:T5{Id=T5 What=Account:A1{Name="Acme Corp" Id=A1}}]`,
		},
		{
			name:  "subquery with its own order and limit; no children is null",
			query: "SELECT CaseNumber, (SELECT Subject FROM Tasks ORDER BY ActivityDate DESC LIMIT 2) FROM Case ORDER BY CaseNumber",
			want: `4[Case:C1{CaseNumber="00001001" Tasks=2[Task:T2{Subject="Call customer"} Task:T1{Subject="Send confirmation"}]} ` +
				`Case:C2{CaseNumber="00001002" Tasks=1[Task:T4{Subject="Send confirmation"}]} ` +
				`Case:C3{CaseNumber="00001003" Tasks=null} Case:C4{CaseNumber="00001004" Tasks=null}]`,
		},
		{
			name:  "subquery offset and parent fields inside",
			query: "SELECT Id, (SELECT Id, What.Name FROM Tasks ORDER BY Subject OFFSET 1) FROM Case WHERE CaseNumber = '00001001'",
			want:  `1[Case:C1{Id=C1 Tasks=2[Task:T3{Id=T3 What=Case:C1{Name=null}} Task:T1{Id=T1 What=Case:C1{Name=null}}]}]`,
		},
		{
			name:  "several subqueries on one parent",
			query: "SELECT Name, (SELECT LastName FROM Contacts WHERE LastName LIKE 's%'), (SELECT Subject FROM Tasks), (SELECT CaseNumber FROM Cases WHERE IsClosed = true) FROM Account WHERE Name LIKE 'acme%'",
			want: `2[Account:A1{Name="Acme Corp" Contacts=1[Contact:K1{LastName="Smith"}] Tasks=1[Task:T5{Subject="Account review"}] Cases=1[Case:C3{CaseNumber="00001003"}]} ` +
				`Account:A3{Name="acme labs" Contacts=null Tasks=null Cases=null}]`,
		},
		{
			name:  "queryAll includes deleted records and deleted children",
			query: "SELECT CaseNumber, (SELECT Subject FROM Tasks WHERE IsDeleted = true) FROM Case WHERE Type = 'Termination' AND IsDeleted = true",
			all:   true,
			want:  `1[Case:C5{CaseNumber="00001005" Tasks=null}]`,
		},
		{
			name:  "queryAll deleted child",
			query: "SELECT CaseNumber, (SELECT Subject FROM Tasks WHERE IsDeleted = true) FROM Case WHERE CaseNumber = '00001001'",
			all:   true,
			want:  `1[Case:C1{CaseNumber="00001001" Tasks=1[Task:T6{Subject="Old"}]}]`,
		},
		{
			name:  "query excludes deleted records",
			query: "SELECT CaseNumber FROM Case WHERE Type = 'Termination' AND AccountId != null ORDER BY CaseNumber",
			want:  `3[Case:C1{CaseNumber="00001001"} Case:C2{CaseNumber="00001002"} Case:C3{CaseNumber="00001003"}]`,
		},
		{name: "COUNT()", query: "SELECT COUNT() FROM Case", want: "4[]"},
		{name: "COUNT() with WHERE", query: "SELECT COUNT() FROM Case WHERE IsClosed = false", want: "3[]"},
		{name: "COUNT() with LIMIT", query: "SELECT COUNT() FROM Case LIMIT 2", want: "2[]"},
		{name: "COUNT() queryAll", query: "SELECT COUNT() FROM Case", all: true, want: "5[]"},
		{name: "COUNT(field) counts non-null values", query: "SELECT COUNT(AccountId) FROM Case", want: "1[AggregateResult:{expr0=3}]"},
		{name: "COUNT(field) aliases", query: "SELECT COUNT(Id), COUNT(Amount__c) amounts FROM Case WHERE Type = 'Termination'", want: "1[AggregateResult:{expr0=3 amounts=2}]"},
		{name: "COUNT(field) with nothing to count", query: "SELECT COUNT(Id) FROM Case WHERE Status = 'Nope'", want: "1[AggregateResult:{expr0=0}]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(d)
			env.IncludeDeleted = tt.all
			res, err := run(t, env, tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.render(res); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if res.Object != "Case" && res.Object != "Task" && res.Object != "Account" {
				t.Errorf("Object = %q", res.Object)
			}
		})
	}
}

func TestExecuteCountHasNoRecords(t *testing.T) {
	res, err := run(t, testEnv(newTestData()), "SELECT COUNT() FROM Case")
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != nil || res.TotalSize != 4 {
		t.Errorf("got %d, %v; want 4 and nil records", res.TotalSize, res.Records)
	}
}

func TestExecuteErrors(t *testing.T) {
	d := newTestData()
	tests := []struct {
		query, code, message string // message: the text after Salesforce's location prefix
	}{
		{"SELECT Id, Foo FROM Account", CodeInvalidField, "No such column 'Foo' on entity 'Account'. " + customFieldHint},
		{"SELECT Id FROM Foo", CodeInvalidType, "sObject type 'Foo' is not supported. " + customObjectHint},
		{"SELECT Account.Foo FROM Case", CodeInvalidField, "No such column 'Foo' on entity 'Account'. " + customFieldHint},
		{"SELECT Acount.Name FROM Case", CodeInvalidField, "Didn't understand relationship 'Acount' in field path. " + customRelHint},
		{"SELECT Subject.Name FROM Case", CodeInvalidField, "Didn't understand relationship 'Subject' in field path. " + customRelHint},
		{"SELECT Account FROM Case", CodeInvalidField, "No such column 'Account' on entity 'Case'. " + customFieldHint},
		{"SELECT Tasks FROM Case", CodeInvalidField, "No such column 'Tasks' on entity 'Case'. " + customFieldHint},
		{"SELECT Id FROM Case WHERE Foo = 'x'", CodeInvalidField, "No such column 'Foo' on entity 'Case'. " + customFieldHint},
		{"SELECT Id FROM Case WHERE Account.Foo = 'x'", CodeInvalidField, "No such column 'Foo' on entity 'Account'. " + customFieldHint},
		{"SELECT Id FROM Case ORDER BY Foo", CodeInvalidField, "No such column 'Foo' on entity 'Case'. " + customFieldHint},
		{"SELECT Id FROM Task WHERE What.Foo = 'x'", CodeInvalidField, "No such column 'Foo' on entity 'Case'. " + customFieldHint},
		{"SELECT Id, (SELECT Id FROM Taskz) FROM Case", CodeInvalidType, "Didn't understand relationship 'Taskz' in FROM part of query call. " + customRelHint},
		{"SELECT Id, (SELECT Id FROM Task) FROM Case", CodeInvalidType, "Didn't understand relationship 'Task' in FROM part of query call. " + customRelHint},
		{"SELECT Id, (SELECT Foo FROM Tasks) FROM Case", CodeInvalidField, "No such column 'Foo' on entity 'Task'. " + customFieldHint},
		{"SELECT Id, (SELECT Id FROM Tasks WHERE IsClosed = 'no') FROM Case", CodeInvalidField, "value of filter criterion for field 'IsClosed' must be of type boolean and should not be enclosed in quotes"},
		{"SELECT Id FROM Case WHERE IsClosed = 'false'", CodeInvalidField, "value of filter criterion for field 'IsClosed' must be of type boolean and should not be enclosed in quotes"},
		{"SELECT Id FROM Case WHERE IsClosed = 1", CodeInvalidField, "value of filter criterion for field 'IsClosed' must be of type boolean and should not be enclosed in quotes"},
		{"SELECT Id FROM Case WHERE Notice_Date__c = '2026-11-21'", CodeInvalidField, "value of filter criterion for field 'Notice_Date__c' must be of type date and should not be enclosed in quotes"},
		{"SELECT Id FROM Case WHERE Notice_Date__c = 2026-11-21T00:00:00Z", CodeInvalidField, "value of filter criterion for field 'Notice_Date__c' must be of type date and should not be enclosed in quotes"},
		{"SELECT Id FROM Case WHERE CreatedDate = 2026-11-21", CodeInvalidField, "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes"},
		{"SELECT Id FROM Case WHERE CreatedDate IN ('x')", CodeInvalidField, "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes"},
		{"SELECT Id FROM Case WHERE Amount__c = '5'", CodeInvalidField, "value of filter criterion for field 'Amount__c' must be of type double and should not be enclosed in quotes"},
		{"SELECT Id FROM Account WHERE NumberOfEmployees = true", CodeInvalidField, "value of filter criterion for field 'NumberOfEmployees' must be of type integer and should not be enclosed in quotes"},
		{"SELECT Id FROM Case WHERE Subject = 5", CodeInvalidField, "value of filter criterion for field 'Subject' must be of type string and should be enclosed in quotes"},
		{"SELECT Id FROM Case WHERE Subject = TODAY", CodeInvalidField, "value of filter criterion for field 'Subject' must be of type string and should be enclosed in quotes"},
		{"SELECT Id FROM Case WHERE Subject LIKE 5", CodeInvalidField, "value of filter criterion for field 'Subject' must be of type string and should be enclosed in quotes"},
		{"SELECT Id FROM Case WHERE Account.Name = false", CodeInvalidField, "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes"},
		{"SELECT Id FROM Case WHERE Id = 5", CodeInvalidField, "value of filter criterion for field 'Id' must be of type id and should be enclosed in quotes"},
		{"SELECT Id FROM Case WHERE Id = 'abc'", CodeInvalidFilterOp, "invalid ID field: abc"},
		{"SELECT Id FROM Case WHERE AccountId IN ('001000000000004AAA', 'nope')", CodeInvalidFilterOp, "invalid ID field: nope"},
		{"SELECT Id FROM Case WHERE IsClosed LIKE 'x'", CodeInvalidFilterOp, "invalid operator on boolean field"},
		{"SELECT Id FROM Case WHERE Amount__c LIKE '1%'", CodeInvalidFilterOp, "invalid operator on double field"},
		{"SELECT Id FROM Case WHERE IsClosed > true", CodeInvalidFilterOp, "invalid operator on boolean field"},
		{"SELECT Id FROM Case WHERE Description = 'x'", CodeInvalidField, "field 'Description' can not be filtered in a query call"},
		{"SELECT Id FROM Case ORDER BY Description", CodeInvalidField, "field 'Description' can not be sorted in a query call"},
		{"SELECT Id, Id FROM Case", CodeMalformedQuery, "duplicate field selected: Id"},
		{"SELECT Account.Name, account.name FROM Case", CodeMalformedQuery, "duplicate field selected: account.name"},
		{"SELECT Id, COUNT(Id) FROM Case", CodeMalformedQuery, "Field must be grouped or aggregated: Id"},
		{"SELECT COUNT(Id), (SELECT Id FROM Tasks) FROM Case", CodeMalformedQuery, "Field must be grouped or aggregated: Tasks"},
		{"SELECT Id, (SELECT COUNT() FROM Tasks) FROM Case", CodeMalformedQuery, "aggregate functions are not supported in subqueries"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			_, err := run(t, testEnv(d), tt.query)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error", err)
			}
			if e.Code != tt.code || !strings.HasSuffix(e.Message, "\n"+tt.message) {
				t.Errorf("got %s: %q\nwant %s: …%q", e.Code, e.Message, tt.code, tt.message)
			}
		})
	}
}

// TestExecuteErrorLocation checks Salesforce's location prefix: the line, a caret under the
// offending token and its 1-based row and column.
func TestExecuteErrorLocation(t *testing.T) {
	d := newTestData()
	tests := []struct{ query, want string }{
		{"SELECT Id, Foo FROM Account",
			"\nSELECT Id, Foo FROM Account\n           ^\nERROR at Row:1:Column:12\nNo such column 'Foo' on entity 'Account'. " + customFieldHint},
		{"SELECT Id\nFROM Case\nWHERE IsClosed = 'yes'",
			"\nWHERE IsClosed = 'yes'\n                 ^\nERROR at Row:3:Column:18\nvalue of filter criterion for field 'IsClosed' must be of type boolean and should not be enclosed in quotes"},
		{"SELECT Id FROM Accounts",
			"\nSELECT Id FROM Accounts\n               ^\nERROR at Row:1:Column:16\nsObject type 'Accounts' is not supported. " + customObjectHint},
	}
	for _, tt := range tests {
		_, err := run(t, testEnv(d), tt.query)
		var e *Error
		if !errors.As(err, &e) || e.Message != tt.want {
			t.Errorf("%q: got %v\nwant message %q", tt.query, err, tt.want)
		}
	}
}

func TestExecuteOffsetLimit(t *testing.T) {
	_, err := run(t, testEnv(newTestData()), "SELECT Id FROM Case OFFSET 2001")
	want := &Error{Code: CodeNumberOutsideRange, Message: "Maximum SOQL offset allowed is 2000"}
	if e, ok := errors.AsType[*Error](err); !ok || *e != *want {
		t.Errorf("got %v, want %v", err, want)
	}
	if _, err := run(t, testEnv(newTestData()), "SELECT Id FROM Case OFFSET 2000"); err != nil {
		t.Errorf("OFFSET 2000: %v", err)
	}
}

// TestExecuteDoesNotModifyData guards Data's contract: its slices are shared and read-only.
func TestExecuteDoesNotModifyData(t *testing.T) {
	d := newTestData()
	order := func() string {
		var ids []string
		for _, r := range d.objects["Case"] {
			ids = append(ids, d.names[r["Id"].(string)])
		}
		return strings.Join(ids, " ")
	}
	before := order()
	if _, err := run(t, testEnv(d), "SELECT Id FROM Case ORDER BY CaseNumber DESC"); err != nil {
		t.Fatal(err)
	}
	if after := order(); after != before {
		t.Errorf("Execute reordered the data's records: %s, was %s", after, before)
	}
}

// TestExecuteBuiltQuery runs a Query assembled in code: it has no text, so errors carry the
// bare message.
func TestExecuteBuiltQuery(t *testing.T) {
	d := newTestData()
	q := &Query{
		Fields: []SelectItem{{Field: &FieldRef{Path: []string{"CaseNumber"}}}},
		From:   "case",
		Where:  &Comparison{Field: FieldRef{Path: []string{"Status"}}, Op: "=", Value: Literal{Type: LitString, Str: "Working"}},
	}
	res, err := Execute(q, testEnv(d))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.render(res), `1[Case:C2{CaseNumber="00001002"}]`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	q.From = "Nope"
	_, err = Execute(q, testEnv(d))
	if want := "sObject type 'Nope' is not supported. " + customObjectHint; err == nil || err.(*Error).Message != want {
		t.Errorf("got %v, want %q", err, want)
	}
}
