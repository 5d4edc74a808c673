package soql

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// casebotQuery is the query casebot sends every cycle.
const casebotQuery = "SELECT Id, CaseNumber, Status, Termination_Confirmed__c, Account.Id, Account.Name, Account.Customer_Attrition__c, " +
	"(SELECT Id, Casebot_Key__c, Subject, Status, ActivityDate, IsClosed FROM Tasks WHERE Casebot_Key__c != null) " +
	"FROM Case WHERE (Type = 'Termination' AND IsClosed = false) ORDER BY Id"

// bigData is an org with n cases over n/10 accounts, two tasks per case, one with a key.
func bigData(n int) *testData {
	d := &testData{objects: map[string][]Record{}, byID: map[string]string{}, ids: map[string]string{}, names: map[string]string{}}
	for i := range n / 10 {
		d.add("Account", "001", fmt.Sprintf("A%d", i), Record{"Name": fmt.Sprintf("Account %d", i), "Customer_Attrition__c": "High"})
	}
	for i := range n {
		typ := "Termination"
		if i%3 == 0 {
			typ = "Question"
		}
		c := fmt.Sprintf("C%d", i)
		d.add("Case", "500", c, Record{"CaseNumber": fmt.Sprintf("%08d", i), "Status": "New", "Type": typ,
			"IsClosed": i%5 == 0, "Termination_Confirmed__c": false, "AccountId": fmt.Sprintf("@A%d", i%(n/10))})
		d.add("Task", "00T", "K"+c, Record{"WhatId": "@" + c, "Subject": "Send", "IsClosed": false, "Casebot_Key__c": "sop/send/1/" + c})
		d.add("Task", "00T", "M"+c, Record{"WhatId": "@" + c, "Subject": "Manual", "IsClosed": false})
	}
	return d
}

// byIDIndex makes ByID a map lookup, as the sandbox's store is.
type byIDIndex struct {
	*testData
	index map[string]Record
}

func (d byIDIndex) ByID(id string) (string, Record) {
	r, ok := d.index[id]
	if !ok {
		return "", nil
	}
	return d.byID[id], r
}

func indexed(d *testData) byIDIndex {
	x := byIDIndex{d, map[string]Record{}}
	for _, recs := range d.objects {
		for _, r := range recs {
			x.index[r["Id"].(string)] = r
		}
	}
	return x
}

func TestExecuteCasebotQueryAtScale(t *testing.T) {
	d := bigData(1000)
	env := Env{Schema: newTestSchema(), Data: indexed(d), Now: testNow}
	res, err := run(t, env, casebotQuery)
	if err != nil {
		t.Fatal(err)
	}
	// Termination cases are those with i%3 != 0; open ones those with i%5 != 0.
	want := 0
	for i := range 1000 {
		if i%3 != 0 && i%5 != 0 {
			want++
		}
	}
	if res.TotalSize != want {
		t.Fatalf("TotalSize = %d, want %d", res.TotalSize, want)
	}
	for _, r := range res.Records {
		if tasks := r.Fields[5].Children; tasks == nil || tasks.TotalSize != 1 {
			t.Fatalf("%s: tasks %v, want the one with a key", d.names[r.ID], tasks)
		}
		if r.Fields[4].Parent == nil {
			t.Fatalf("%s: no account", d.names[r.ID])
		}
	}
}

// TestRunRowsAsExecute: the rows Run makes one at a time, in reused memory, are those of
// Execute, with a subquery whose children come sorted and windowed per parent.
func TestRunRowsAsExecute(t *testing.T) {
	d := bigData(1000)
	env := Env{Schema: newTestSchema(), Data: indexed(d), Now: testNow}
	query := strings.Replace(casebotQuery, "WHERE Casebot_Key__c != null)", "ORDER BY Subject DESC LIMIT 1)", 1)
	want, err := run(t, env, query)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse(query)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := Run(q, env)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Len() != len(want.Records) || rows.TotalSize != want.TotalSize || rows.Object != want.Object {
		t.Fatalf("Run: %d rows, total %d of %s; Execute: %d, %d of %s", rows.Len(), rows.TotalSize, rows.Object,
			len(want.Records), want.TotalSize, want.Object)
	}
	for i := range rows.Len() {
		if got := rows.Row(i); !reflect.DeepEqual(got, want.Records[i]) {
			t.Fatalf("row %d: %+v, want %+v", i, got, want.Records[i])
		}
	}
	if tasks := want.Records[0].Fields[5].Children; tasks == nil || tasks.Records[0].Fields[2].Scalar != "Send" {
		t.Errorf("first case's tasks: %+v, want the one named Send (Subject DESC)", tasks)
	}
}

// TestWhereAllocations guards the compiled WHERE: filtering many records allocates a fixed
// amount (the plan and the result slice), nothing per record or per comparison.
func TestWhereAllocations(t *testing.T) {
	d := bigData(10000)
	env := Env{Schema: newTestSchema(), Data: indexed(d), Now: testNow}
	q, err := Parse("SELECT COUNT() FROM Case WHERE (Type = 'Termination' AND IsClosed = false) OR Account.Name LIKE '%7' OR CaseNumber IN ('00000001', '00000002')")
	if err != nil {
		t.Fatal(err)
	}
	allData := d.All("Case", false)
	env.Data = fixedAll{indexed(d), allData}
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := Execute(q, env); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 100 {
		t.Errorf("%v allocations to filter %d records", allocs, len(allData))
	}
}

// fixedAll returns a prepared slice from All so that only Execute's own allocations count.
type fixedAll struct {
	byIDIndex
	cases []Record
}

func (d fixedAll) All(string, bool) []Record { return d.cases }

func BenchmarkCasebotQuery(b *testing.B) {
	d := bigData(10000)
	env := Env{Schema: newTestSchema(), Data: indexed(d), Now: testNow}
	for b.Loop() {
		q, err := Parse(casebotQuery)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Execute(q, env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(casebotQuery); err != nil {
			b.Fatal(err)
		}
	}
}
