package sandbox

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"casebot/bot"
)

// createTasks creates n tasks through sObject Collections, 200 at a time.
func (o *org) createTasks(n int, fields func(i int) map[string]any) []string {
	o.t.Helper()
	var ids []string
	for start := 0; start < n; start += maxCollection {
		var recs []map[string]any
		for i := start; i < min(n, start+maxCollection); i++ {
			rec := fields(i)
			rec["attributes"] = map[string]any{"type": "Task"}
			recs = append(recs, rec)
		}
		var results []saveResult
		o.do("POST", "/composite/sobjects", map[string]any{"allOrNone": true, "records": recs}).ok(o.t, http.StatusOK, &results)
		for _, r := range results {
			if !r.Success {
				o.t.Fatalf("creating tasks: %+v", r)
			}
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func TestQueryPaging(t *testing.T) {
	o := newOrg(t, Options{})
	o.createTasks(450, func(i int) map[string]any { return map[string]any{"Subject": fmt.Sprintf("task %03d", i)} })
	q := "/query?q=" + url.QueryEscape("SELECT Id, Subject FROM Task ORDER BY Subject")
	locator := regexp.MustCompile(`^/services/data/v62\.0/query/01g[A-Za-z0-9]{15}-(\d+)$`)

	var first queryResult
	o.do("GET", q, nil, "Sforce-Query-Options", "batchSize=200").ok(t, http.StatusOK, &first)
	if first.TotalSize != 450 || first.Done || len(first.Records) != 200 || !locator.MatchString(first.NextRecordsURL) {
		t.Fatalf("first page: total %d done %v records %d next %q", first.TotalSize, first.Done, len(first.Records), first.NextRecordsURL)
	}
	if m := locator.FindStringSubmatch(first.NextRecordsURL); m[1] != "200" {
		t.Errorf("next locator offset %s, want 200", m[1])
	}

	// A write between pages does not change the pages still to come.
	var del []saveResult
	o.do("DELETE", "/composite/sobjects?ids="+first.Records[0]["Id"].(string), nil).ok(t, http.StatusOK, &del)
	var subjects []string
	for _, r := range first.Records {
		subjects = append(subjects, r["Subject"].(string))
	}
	next := first.NextRecordsURL
	pages := 1
	for next != "" {
		var page queryResult
		o.do("GET", next, nil).ok(t, http.StatusOK, &page)
		pages++
		if page.TotalSize != 450 {
			t.Errorf("page %d totalSize %d", pages, page.TotalSize)
		}
		for _, r := range page.Records {
			subjects = append(subjects, r["Subject"].(string))
		}
		if page.Done != (page.NextRecordsURL == "") {
			t.Errorf("page %d: done %v with next %q", pages, page.Done, page.NextRecordsURL)
		}
		next = page.NextRecordsURL
	}
	if pages != 3 || len(subjects) != 450 {
		t.Fatalf("%d pages, %d records; want 3 pages, 450 records", pages, len(subjects))
	}
	for i, s := range subjects {
		if want := fmt.Sprintf("task %03d", i); s != want {
			t.Fatalf("record %d is %q, want %q", i, s, want)
		}
	}
	// The deleted record is gone from a new query.
	if got := o.query("SELECT COUNT() FROM Task").TotalSize; got != 449 {
		t.Errorf("COUNT() after a delete = %d, want 449", got)
	}

	// The default batch is 2000; batch sizes outside 200..2000 are clamped.
	for _, tt := range []struct {
		header string
		want   int
	}{{"", 450}, {"batchSize=10", 200}, {"batchSize=300", 300}, {"batchSize=5000", 450}} {
		var page queryResult
		o.do("GET", q, nil, "Sforce-Query-Options", tt.header).ok(t, http.StatusOK, &page)
		if len(page.Records) != min(tt.want, 449) {
			t.Errorf("Sforce-Query-Options %q: %d records, want %d", tt.header, len(page.Records), min(tt.want, 449))
		}
	}

	for _, bad := range []string{"/query/01gSb0000000000AAA-200", strings.Replace(first.NextRecordsURL, "-200", "-9999", 1), strings.TrimSuffix(first.NextRecordsURL, "-200")} {
		o.do("GET", bad, nil).wantError(t, http.StatusBadRequest, "INVALID_QUERY_LOCATOR")
	}
}

func TestQueryAll(t *testing.T) {
	o := newOrg(t, Options{})
	ids := o.createTasks(3, func(i int) map[string]any { return map[string]any{"Subject": fmt.Sprint("t", i)} })
	o.do("DELETE", "/sobjects/Task/"+ids[1], nil).ok(t, http.StatusNoContent, nil)
	if got := o.query("SELECT Id FROM Task").TotalSize; got != 2 {
		t.Errorf("query sees %d tasks, want 2", got)
	}
	var all queryResult
	o.do("GET", "/queryAll?q="+url.QueryEscape("SELECT Id, IsDeleted FROM Task WHERE IsDeleted = true"), nil).ok(t, http.StatusOK, &all)
	if all.TotalSize != 1 || all.Records[0]["Id"] != ids[1] || all.Records[0]["IsDeleted"] != true {
		t.Errorf("queryAll of deleted tasks: %+v", all)
	}
}

// TestQueryShape runs the soql package through the REST endpoint: parent relationship fields
// nest with their own attributes (or are null), subqueries are query results (or null), and
// fields come in SELECT order with the schema's spelling.
func TestQueryShape(t *testing.T) {
	o := seededOrg(t)
	acme := o.query("SELECT Id FROM Case WHERE Subject = 'Termination: Acme Corp'").Records[0]["Id"].(string)
	o.create("Task", map[string]any{"Subject": "Confirm attrition", "WhatId": acme, "Casebot_Key__c": "k1"})
	orphan := o.create("Case", map[string]any{"Subject": "no account", "Type": "Question"})

	r := o.do("GET", "/query?q="+url.QueryEscape(
		`select id, CASENUMBER, Account.Name, Account.Customer_Attrition__c, Owner.Name,
		   (SELECT Subject, Casebot_Key__c FROM Tasks WHERE Casebot_Key__c != null)
		 FROM Case WHERE (Type = 'Termination' AND IsClosed = false) OR Id = '`+orphan[:15]+`'
		 ORDER BY CaseNumber LIMIT 10`), nil)
	r.ok(t, http.StatusOK, nil)
	body := string(r.body)
	// Salesforce's key order: attributes first, then the SELECT list.
	wantPrefix := `{"totalSize":4,"done":true,"records":[{"attributes":{"type":"Case","url":"/services/data/v62.0/sobjects/Case/` + acme + `"},"Id":"` + acme + `","CaseNumber":"00001001","Account":{"attributes":{"type":"Account","url":"/services/data/v62.0/sobjects/Account/`
	if !strings.HasPrefix(body, wantPrefix) {
		t.Fatalf("body does not start as Salesforce's would:\n%s\nwant prefix\n%s", body, wantPrefix)
	}
	var res queryResult
	mustUnmarshal(t, r.body, &res)
	if len(res.Records) != 4 {
		t.Fatalf("%d records, want 4", len(res.Records))
	}
	first := res.Records[0]
	account := first["Account"].(map[string]any)
	if account["Name"] != "Acme Corp" || account["Customer_Attrition__c"] != false {
		t.Errorf("Account: %v", account)
	}
	if owner := first["Owner"].(map[string]any); owner["Name"] != "Olivia Mendes" || owner["attributes"].(map[string]any)["type"] != "User" {
		t.Errorf("Owner: %v", owner)
	}
	tasks := first["Tasks"].(map[string]any)
	if tasks["totalSize"] != 1.0 || tasks["done"] != true {
		t.Errorf("Tasks: %v", tasks)
	}
	task := tasks["records"].([]any)[0].(map[string]any)
	if task["Subject"] != "Confirm attrition" || task["attributes"].(map[string]any)["type"] != "Task" {
		t.Errorf("task: %v", task)
	}
	if res.Records[1]["Tasks"] != nil {
		t.Errorf("a case without tasks has Tasks %v, want null", res.Records[1]["Tasks"])
	}
	last := res.Records[3]
	if last["Id"] != orphan {
		t.Fatalf("last record %v, want the case without account", last["Id"])
	}
	if v, ok := last["Account"]; !ok || v != nil {
		t.Errorf("a case without account has Account %v (present %v), want null", v, ok)
	}

	if got := o.query("SELECT COUNT() FROM Case WHERE Account.Name LIKE 'Umbrella%'"); got.TotalSize != 2 || len(got.Records) != 0 {
		t.Errorf("COUNT(): %+v", got)
	}
	if got := o.query("SELECT Name FROM Account WHERE Name IN ('Acme Corp', 'Globex GmbH') ORDER BY Name DESC"); got.TotalSize != 2 || got.Records[0]["Name"] != "Globex GmbH" {
		t.Errorf("IN and ORDER BY DESC: %+v", got)
	}
	if got := o.query("SELECT Id FROM Case WHERE Termination_Confirmed__c = TODAY"); got.TotalSize != 2 {
		t.Errorf("date literal TODAY: %d cases, want 2", got.TotalSize)
	}
}

func TestQueryErrors(t *testing.T) {
	o := seededOrg(t)
	tests := []struct{ q, code string }{
		{"", "MALFORMED_QUERY"},
		{"SELECT FROM Case", "MALFORMED_QUERY"},
		{"SELECT Id FROM Nope", "INVALID_TYPE"},
		{"SELECT Nope FROM Case", "INVALID_FIELD"},
	}
	for _, tt := range tests {
		e := o.do("GET", "/query?q="+url.QueryEscape(tt.q), nil).wantError(t, http.StatusBadRequest, tt.code)
		if e.Message == "" {
			t.Errorf("%q: empty message", tt.q)
		}
	}
	o.do("POST", "/query?q=SELECT+Id+FROM+Case", "{}").wantError(t, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
}

// TestQueriesForEarlierAttempts runs the queries a client asks to find what an earlier attempt
// created, as Salesforce answers them: EmailMessages by MessageIdentifier (a filterable
// string, compared without regard to case) and the CaseComments of cases created since a
// datetime literal. CommentBody is a long text area, which SOQL can neither filter nor sort
// on, so the client matches it itself.
func TestQueriesForEarlierAttempts(t *testing.T) {
	clk := bot.NewManualClock(testNow)
	o := newOrg(t, Options{Now: clk.Now})
	caseID := o.create("Case", map[string]any{"Subject": "Terminate Acme"})
	early := o.create("CaseComment", map[string]any{"ParentId": caseID, "CommentBody": "early"})
	clk.Set(testNow.Add(10 * time.Minute))
	late := o.create("CaseComment", map[string]any{"ParentId": caseID, "CommentBody": "late\ncasebot ref x"})
	mail := o.create("EmailMessage", map[string]any{"ParentId": caseID, "Status": "3", "MessageIdentifier": "<O'Brien.1@casebot.example>"})

	ids := func(q string) []string {
		var out []string
		for _, r := range o.query(q).Records {
			out = append(out, r["Id"].(string))
		}
		return out
	}
	in := "ParentId IN ('" + caseID + "', '" + caseID[:15] + "')"
	for _, tt := range []struct {
		soql string
		want []string
	}{
		{`SELECT Id, MessageIdentifier FROM EmailMessage WHERE MessageIdentifier IN ('<o\'brien.1@casebot.example>', '<other@casebot.example>')`, []string{mail}},
		{"SELECT Id, ParentId, CommentBody FROM CaseComment WHERE " + in + " AND CreatedDate >= 2026-11-21T15:05:00Z ORDER BY CreatedDate, Id", []string{late}},
		{"SELECT Id, ParentId, CommentBody FROM CaseComment WHERE " + in + " AND CreatedDate >= 2026-11-21T16:10:00+01:00", []string{late}},
		{"SELECT Id, ParentId, CommentBody FROM CaseComment WHERE " + in + " AND CreatedDate >= 2026-11-21T15:10:01Z", nil},
		{"SELECT Id FROM CaseComment WHERE " + in + " AND CreatedDate >= 2026-11-21T15:00:00Z ORDER BY CreatedDate DESC", []string{late, early}},
	} {
		if got := ids(tt.soql); !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %v\nwant %v", tt.soql, got, tt.want)
		}
	}
	for _, q := range []string{
		"SELECT Id FROM CaseComment WHERE CommentBody LIKE '%casebot ref x%'",
		"SELECT Id FROM CaseComment ORDER BY CommentBody",
	} {
		o.do("GET", "/query?q="+url.QueryEscape(q), nil).wantError(t, http.StatusBadRequest, "INVALID_FIELD")
	}
}

// TestCursorLifetime: a cursor holds only the pages still to come (and the last fetched, for
// a retry), is gone once its last page is fetched, and expires after 15 minutes without a
// fetch, as Salesforce's query locators do; the count bound still drops the oldest.
func TestCursorLifetime(t *testing.T) {
	o := newOrg(t, Options{})
	now := time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC)
	o.sb.mu.Lock()
	o.sb.cursors.now = func() time.Time { return now } // called with mu held
	o.sb.mu.Unlock()
	advance := func(d time.Duration) {
		o.sb.mu.Lock()
		now = now.Add(d)
		o.sb.mu.Unlock()
	}
	open := func() int {
		o.sb.mu.Lock()
		defer o.sb.mu.Unlock()
		return len(o.sb.cursors.byID)
	}
	o.createTasks(450, func(i int) map[string]any { return map[string]any{"Subject": fmt.Sprintf("task %03d", i)} })
	query := func() queryResult {
		var page queryResult
		o.do("GET", "/query?q="+url.QueryEscape("SELECT Id, Subject FROM Task ORDER BY Subject"), nil,
			"Sforce-Query-Options", "batchSize=200").ok(t, http.StatusOK, &page)
		return page
	}
	fetch := func(next string) queryResult {
		var page queryResult
		o.do("GET", next, nil).ok(t, http.StatusOK, &page)
		return page
	}
	invalid := func(next string) {
		t.Helper()
		o.do("GET", next, nil).wantError(t, http.StatusBadRequest, "INVALID_QUERY_LOCATOR")
	}

	// Fetched within 15 minutes, a cursor lives on; its locator may be fetched again.
	first := query()
	advance(14 * time.Minute)
	second := fetch(first.NextRecordsURL)
	if again := fetch(first.NextRecordsURL); again.Records[0]["Subject"] != "task 200" || again.NextRecordsURL != second.NextRecordsURL {
		t.Errorf("fetching a locator again: first %v, next %q; want task 200, %q", again.Records[0]["Subject"], again.NextRecordsURL, second.NextRecordsURL)
	}
	o.sb.mu.Lock()
	for id, cur := range o.sb.cursors.byID {
		if cur.pages[0].data != nil || cur.pages[1].data == nil || cur.pages[2].data == nil {
			t.Errorf("cursor %s after its second page holds pages %v %v %v; want the second and third only", id,
				cur.pages[0].data != nil, cur.pages[1].data != nil, cur.pages[2].data != nil)
		}
	}
	o.sb.mu.Unlock()

	// Then 15 minutes without a fetch: expired, and dropped.
	advance(15 * time.Minute)
	invalid(second.NextRecordsURL)
	if n := open(); n != 0 {
		t.Errorf("%d cursors open after expiry, want 0", n)
	}

	// A cursor read to its end is gone, and going back is refused.
	first = query()
	second = fetch(first.NextRecordsURL)
	if last := fetch(second.NextRecordsURL); !last.Done || len(last.Records) != 50 || last.Records[49]["Subject"] != "task 449" {
		t.Fatalf("last page: done %v, %d records", last.Done, len(last.Records))
	}
	if n := open(); n != 0 {
		t.Errorf("%d cursors open after a full read, want 0", n)
	}
	invalid(second.NextRecordsURL)
	invalid(first.NextRecordsURL)

	// A page may start at any offset from the last page fetched on; going back before that
	// page is refused.
	first = query()
	second = fetch(first.NextRecordsURL)
	third := fetch(second.NextRecordsURL[:len(second.NextRecordsURL)-len("400")] + "420") // any offset
	if len(third.Records) != 30 || third.Records[0]["Subject"] != "task 420" {
		t.Errorf("page from 420: %d records from %v", len(third.Records), third.Records[0]["Subject"])
	}
	first = query()
	fetch(first.NextRecordsURL)
	invalid(first.NextRecordsURL[:len(first.NextRecordsURL)-len("200")] + "100") // on the first page

	// Expired cursors go without a call, by the sweep their timer runs.
	if n := open(); n != 1 {
		t.Fatalf("%d cursors open, want 1", n)
	}
	advance(15 * time.Minute)
	o.sb.sweepCursors()
	if n := open(); n != 0 {
		t.Errorf("%d cursors open after the sweep, want 0", n)
	}

	// At most maxCursors are open: the oldest goes first.
	oldest := query().NextRecordsURL
	for range maxCursors {
		query()
	}
	invalid(oldest)
	if n := open(); n != maxCursors {
		t.Errorf("%d cursors open, want %d", n, maxCursors)
	}
}
