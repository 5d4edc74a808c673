package salesforce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"casebot/bot"
)

const taskSelect = "(SELECT Id, Casebot_Key__c, Subject, Status, ActivityDate, IsClosed FROM Tasks WHERE Casebot_Key__c != null ORDER BY Casebot_Key__c)"

func TestBuildCaseQuery(t *testing.T) {
	tests := []struct {
		name string
		q    bot.CaseQuery
		want string
	}{
		{"the SOP's query", bot.CaseQuery{
			Object:        "Case",
			Where:         "Type = 'Termination' AND IsClosed = false",
			Fields:        []string{"Status", "Termination_Confirmed__c", "Deprovision_Date__c", "Termination_Hold__c"},
			AccountFields: []string{"Customer_Attrition__c", "Time_Zone__c"},
		}, "SELECT Id, Status, Termination_Confirmed__c, Deprovision_Date__c, Termination_Hold__c, " +
			"Account.Id, Account.Customer_Attrition__c, Account.Time_Zone__c, " + taskSelect +
			" FROM Case WHERE (Type = 'Termination' AND IsClosed = false) ORDER BY Id"},
		{"no account fields, no condition", bot.CaseQuery{
			Object: "Case",
			Fields: []string{"Status"},
		}, "SELECT Id, Status, " + taskSelect + " FROM Case ORDER BY Id"},
		{"duplicates in any case are dropped", bot.CaseQuery{
			Object:        "Case",
			Where:         "Status = 'New' OR Status = 'Open'",
			Fields:        []string{"Status", "id", "status", "Owner.Username", "Account.Name"},
			AccountFields: []string{"Name", "Id", "NAME", "Type"},
		}, "SELECT Id, Status, Owner.Username, Account.Name, Account.Id, Account.Type, " + taskSelect +
			" FROM Case WHERE (Status = 'New' OR Status = 'Open') ORDER BY Id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cq, err := buildCaseQuery(tt.q, nil)
			if err != nil {
				t.Fatalf("buildCaseQuery: %v", err)
			}
			if cq.soql != tt.want {
				t.Errorf("SOQL:\n got %s\nwant %s", cq.soql, tt.want)
			}
		})
	}

	bad := []bot.CaseQuery{
		{Object: "Case FROM User", Fields: []string{"Status"}},
		{Object: "Case", Fields: []string{"Status FROM User WHERE Id != null --"}},
		{Object: "Case", Fields: []string{"Status, (SELECT Id FROM Users)"}},
		{Object: "Case", AccountFields: []string{"Name) FROM Account --"}},
		{Object: "Case", AccountFields: []string{"Owner.Password__c'"}},
		{Object: "", Fields: []string{"Status"}},
	}
	for _, q := range bad {
		if cq, err := buildCaseQuery(q, nil); err == nil {
			t.Errorf("buildCaseQuery(%+v) = %q, want an error", q, cq.soql)
		}
	}
}

func TestCasesDecodesAccountsAndTasks(t *testing.T) {
	q := bot.CaseQuery{
		Object:        "Case",
		Where:         "Type = 'Termination'",
		Fields:        []string{"Status", "subject", "Termination_Hold__c", "Amount__c", "Owner.Username"},
		AccountFields: []string{"Name", "Customer_Attrition__c", "Time_Zone__c"},
	}
	cq, err := buildCaseQuery(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	const (
		page1 = `{"totalSize":3,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01gCASES-2","records":[
{"attributes":{"type":"Case","url":"/services/data/v62.0/sobjects/Case/500000000000001AAA"},"Id":"500000000000001AAA","Status":"Attrition Confirmed","Subject":"Terminate Acme","Termination_Hold__c":false,"Amount__c":1200.5,
 "Owner":{"attributes":{"type":"User","url":"/services/data/v62.0/sobjects/User/005000000000001AAA"},"Username":"om@example.com"},
 "Account":{"attributes":{"type":"Account","url":"/services/data/v62.0/sobjects/Account/001000000000001AAA"},"Id":"001000000000001AAA","Name":"Acme","Customer_Attrition__c":true,"Time_Zone__c":null},
 "Tasks":{"totalSize":2,"done":true,"records":[
  {"attributes":{"type":"Task","url":"/services/data/v62.0/sobjects/Task/00T000000000001AAA"},"Id":"00T000000000001AAA","Casebot_Key__c":"sop/attrition/3/500000000000001AAA/legal","Subject":"Tell Legal","Status":"Completed","ActivityDate":"2026-11-03","IsClosed":true},
  {"attributes":{"type":"Task","url":"/services/data/v62.0/sobjects/Task/00T000000000002AAA"},"Id":"00T000000000002AAA","Casebot_Key__c":"sop/attrition/3/500000000000001AAA/finance","Subject":"Tell Finance","Status":"Not Started","ActivityDate":null,"IsClosed":false}]}},
{"attributes":{"type":"Case","url":"/services/data/v62.0/sobjects/Case/500000000000002AAA"},"Id":"500000000000002AAA","Status":"New","Subject":null,"Termination_Hold__c":true,"Amount__c":null,"Owner":null,"Account":null,"Tasks":null}]}`
		page2 = `{"totalSize":3,"done":true,"records":[
{"attributes":{"type":"Case","url":"/services/data/v62.0/sobjects/Case/500000000000003AAA"},"Id":"500000000000003AAA","Status":"New","Subject":"Many tasks","Termination_Hold__c":false,"Amount__c":0,
 "Owner":{"attributes":{"type":"User","url":"/services/data/v62.0/sobjects/User/005000000000002AAA"},"Username":"om2@example.com"},
 "Account":{"attributes":{"type":"Account","url":"/services/data/v62.0/sobjects/Account/001000000000003AAA"},"Id":"001000000000003AAA","Name":"Globex","Customer_Attrition__c":false,"Time_Zone__c":"Europe/Berlin"},
 "Tasks":{"totalSize":2,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01gTASKS-1","records":[
  {"attributes":{"type":"Task","url":"/services/data/v62.0/sobjects/Task/00T000000000003AAA"},"Id":"00T000000000003AAA","Casebot_Key__c":"k/a/1/500000000000003AAA/x","Subject":"X","Status":"Not Started","ActivityDate":"2026-12-01","IsClosed":false}]}}]}`
		tasksPage = `{"totalSize":2,"done":true,"records":[
  {"attributes":{"type":"Task","url":"/services/data/v62.0/sobjects/Task/00T000000000004AAA"},"Id":"00T000000000004AAA","Casebot_Key__c":"k/a/1/500000000000003AAA/y","Subject":"Y","Status":"Deferred","ActivityDate":"2026-12-02","IsClosed":true}]}`
	)
	org := newOrg(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/services/data/v62.0/query":
			if got := r.URL.Query().Get("q"); got != cq.soql {
				sfErrors(w, 400, "MALFORMED_QUERY", "unexpected query: "+got)
				return
			}
			answer(200, page1)(w, r)
		case "/services/data/v62.0/query/01gCASES-2":
			answer(200, page2)(w, r)
		case "/services/data/v62.0/query/01gTASKS-1":
			answer(200, tasksPage)(w, r)
		default:
			sfErrors(w, 404, "NOT_FOUND", "The requested resource does not exist")
		}
	})
	env := newEnv(t, org, nil)
	cases, err := NewCRM(env.client).Cases(t.Context(), q)
	if err != nil {
		t.Fatalf("Cases: %v", err)
	}
	want := []bot.Case{
		{
			ID: "500000000000001AAA",
			Fields: bot.Fields{"Status": "Attrition Confirmed", "subject": "Terminate Acme", "Termination_Hold__c": false,
				"Amount__c": 1200.5, "Owner.Username": "om@example.com"},
			Account: &bot.Account{ID: "001000000000001AAA", Fields: bot.Fields{"Name": "Acme", "Customer_Attrition__c": true, "Time_Zone__c": nil}},
			Tasks: []bot.Task{
				{ID: "00T000000000001AAA", Key: "sop/attrition/3/500000000000001AAA/legal", Subject: "Tell Legal", Status: "Completed", ActivityDate: "2026-11-03", IsClosed: true},
				{ID: "00T000000000002AAA", Key: "sop/attrition/3/500000000000001AAA/finance", Subject: "Tell Finance", Status: "Not Started"},
			},
		},
		{
			ID: "500000000000002AAA",
			Fields: bot.Fields{"Status": "New", "subject": nil, "Termination_Hold__c": true,
				"Amount__c": nil, "Owner.Username": nil},
		},
		{
			ID: "500000000000003AAA",
			Fields: bot.Fields{"Status": "New", "subject": "Many tasks", "Termination_Hold__c": false,
				"Amount__c": 0.0, "Owner.Username": "om2@example.com"},
			Account: &bot.Account{ID: "001000000000003AAA", Fields: bot.Fields{"Name": "Globex", "Customer_Attrition__c": false, "Time_Zone__c": "Europe/Berlin"}},
			Tasks: []bot.Task{
				{ID: "00T000000000003AAA", Key: "k/a/1/500000000000003AAA/x", Subject: "X", Status: "Not Started", ActivityDate: "2026-12-01"},
				{ID: "00T000000000004AAA", Key: "k/a/1/500000000000003AAA/y", Subject: "Y", Status: "Deferred", ActivityDate: "2026-12-02", IsClosed: true},
			},
		},
	}
	if !reflect.DeepEqual(cases, want) {
		t.Errorf("Cases:\n got %#v\nwant %#v", cases, want)
	}
	if n := len(org.dataCalls()); n != 3 {
		t.Errorf("%d calls, want 3 (two pages of cases, one of tasks)", n)
	}
}

func TestCasesFailure(t *testing.T) {
	org := newOrg(t, answer(400, `[{"message":"No such column 'Foo__c' on entity 'Case'.","errorCode":"INVALID_FIELD"}]`))
	env := newEnv(t, org, nil)
	cases, err := NewCRM(env.client).Cases(t.Context(), bot.CaseQuery{Object: "Case", Fields: []string{"Foo__c"}})
	var ae *APIError
	if cases != nil || !errors.As(err, &ae) || ae.Code != "INVALID_FIELD" || bot.IsRetryable(err) {
		t.Fatalf("Cases = %v, %v; want a permanent INVALID_FIELD", cases, err)
	}
	if !strings.HasPrefix(err.Error(), "read Case records: query: INVALID_FIELD") {
		t.Errorf("error %q does not say what was being done", err)
	}
}

func TestApplyChunksInOrder(t *testing.T) {
	org := newOrg(t, lockingCollections("t8"))
	env := newEnv(t, org, nil)
	// 450 writes: 300 creates of mixed types and 150 updates, one of them malformed, and one
	// that Salesforce cannot lock at first.
	ws := make([]bot.Write, 450)
	for i, subject := range subjects(len(ws), map[int]string{4: "REQUIRED_FIELD_MISSING"}) {
		if i%3 == 2 {
			ws[i] = bot.Write{Op: bot.OpUpdate, Object: []string{"Case", "Account"}[i%2], ID: fmt.Sprintf("500%015d", i), Fields: bot.Fields{"Subject": subject}}
		} else {
			ws[i] = bot.Write{Op: bot.OpCreate, Object: []string{"Task", "Case"}[i%2], Fields: bot.Fields{"Subject": subject}}
		}
	}
	ws[5].ID = "500' OR Id != null"
	results, err := NewCRM(env.client).Apply(t.Context(), ws)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}

	var sent []map[string]any
	var sizes []int
	for _, recs := range sentRecords(t, org) {
		sizes = append(sizes, len(recs))
		sent = append(sent, recs...)
	}
	if !reflect.DeepEqual(sizes, []int{200, 100, 149, 1}) {
		t.Errorf("calls of %v records, want [200 100 149 1]: ⌈300/200⌉ creates + ⌈149/200⌉ updates + the locked one again", sizes)
	}
	var wantOrder []string // creates in write order, then updates in write order, then 8 again
	for _, op := range []bot.WriteOp{bot.OpCreate, bot.OpUpdate} {
		for i, w := range ws {
			if w.Op == op && i != 5 {
				wantOrder = append(wantOrder, w.Fields["Subject"].(string)+"/"+w.Object+"/"+w.ID)
			}
		}
	}
	wantOrder = append(wantOrder, "t8/"+ws[8].Object+"/"+ws[8].ID)
	for i, rec := range sent {
		attrs, _ := rec["attributes"].(map[string]any)
		id, _ := rec["Id"].(string)
		if got := fmt.Sprintf("%s/%s/%s", rec["Subject"], attrs["type"], id); i >= len(wantOrder) || got != wantOrder[i] {
			t.Fatalf("record %d sent as %s, want %s", i, got, wantOrder[i])
		}
	}

	if len(results) != len(ws) {
		t.Fatalf("%d results for %d writes", len(results), len(ws))
	}
	for i, res := range results {
		var be *bot.Error
		hasErr := errors.As(res.Err, &be)
		switch {
		case i == 4:
			if !hasErr || be.Code != "REQUIRED_FIELD_MISSING" || be.Retryable {
				t.Errorf("result 4 = %+v, want a permanent REQUIRED_FIELD_MISSING", res)
			}
		case i == 5:
			if !hasErr || be.Code != "INVALID_INPUT" || be.Retryable {
				t.Errorf("result 5 = %+v, want INVALID_INPUT", res)
			}
		case ws[i].Op == bot.OpCreate:
			if want := fmt.Sprintf("00T%015d", i); hasErr || res.ID != want {
				t.Errorf("result %d = %+v, want id %s", i, res, want)
			}
		default:
			if hasErr || res.ID != ws[i].ID {
				t.Errorf("result %d = %+v, want id %s", i, res, ws[i].ID)
			}
		}
	}
}

func TestApplyWholeCallFailures(t *testing.T) {
	ws := []bot.Write{
		{Op: bot.OpCreate, Object: "Task", Fields: bot.Fields{"Subject": "t1"}},
		{Op: bot.OpUpdate, Object: "Case", ID: "500000000000002AAA", Fields: bot.Fields{"Status": "Closed"}},
		{Op: bot.OpCreate, Object: "Task", Fields: bot.Fields{"Subject": "t3"}},
	}
	t.Run("nothing answered", func(t *testing.T) {
		org := newOrg(t, answer(403, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`))
		env := newEnv(t, org, nil)
		results, err := NewCRM(env.client).Apply(t.Context(), ws)
		if results != nil || !bot.IsRetryable(err) {
			t.Fatalf("Apply = %v, %v; want no results and a retryable error", results, err)
		}
		if n := len(org.dataCalls()); n != 1 {
			t.Errorf("%d calls, want 1: the updates are not tried after the creates failed", n)
		}
	})
	t.Run("updates fail after creates", func(t *testing.T) {
		org := newOrg(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPatch {
				sfErrors(w, 400, "JSON_PARSER_ERROR", "Unexpected character")
				return
			}
			collectionsHandler(w, r)
		})
		env := newEnv(t, org, nil)
		results, err := NewCRM(env.client).Apply(t.Context(), ws)
		if err != nil || len(results) != 3 {
			t.Fatalf("Apply = %v, %v; want three results", results, err)
		}
		var be *bot.Error
		if results[0].ID != "00T000000000000001" || results[0].Err != nil ||
			results[2].ID != "00T000000000000003" || results[2].Err != nil ||
			!errors.As(results[1].Err, &be) || be.Code != "JSON_PARSER_ERROR" {
			t.Errorf("results = %+v", results)
		}
	})
	t.Run("no writes, no calls", func(t *testing.T) {
		org := newOrg(t, collectionsHandler)
		env := newEnv(t, org, nil)
		results, err := NewCRM(env.client).Apply(t.Context(), nil)
		if err != nil || len(results) != 0 || org.logins() != 0 {
			t.Errorf("Apply(nil) = %v, %v after %d logins", results, err, org.logins())
		}
	})
}

// TestApplyCreatesMaybeDone: creates whose request reached Salesforce but whose answer never
// came back are not sent again; the error is retryable and says they may be done, so that
// the engine looks for them (Find) before it repeats them.
func TestApplyCreatesMaybeDone(t *testing.T) {
	ws := []bot.Write{{Op: bot.OpCreate, Object: "CaseComment", Fields: bot.Fields{"ParentId": "500000000000001AAA", "CommentBody": "Legal was told."}}}
	tests := []struct {
		name    string
		handler func(cancel context.CancelFunc) http.HandlerFunc // cancel ends the caller's context
		cause   error                                            // what the error also wraps, if anything
	}{
		{"the connection drops", func(context.CancelFunc) http.HandlerFunc { return hangUp }, nil},
		{"the caller gives up waiting", func(cancel context.CancelFunc) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				cancel()
				<-r.Context().Done() // the client went away
			}
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			org := newOrg(t, tt.handler(cancel))
			env := newEnv(t, org, nil)
			results, err := NewCRM(env.client).Apply(ctx, ws)
			var be *bot.Error
			if results != nil || !errors.As(err, &be) || be.Code != "TRANSPORT" || !bot.IsRetryable(err) {
				t.Fatalf("Apply = %v, %v; want no results and a retryable TRANSPORT error", results, err)
			}
			if !strings.Contains(err.Error(), "may have been processed") {
				t.Errorf("error %q does not say the records may exist", err)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("error %v does not wrap %v", err, tt.cause)
			}
			if n := len(org.dataCalls()); n != 1 || len(env.Slept()) != 0 {
				t.Errorf("%d calls, sleeps %v; want 1 call and no retry", n, env.Slept())
			}
		})
	}
}

// literalRE finds the string literals in a SOQL query.
var literalRE = regexp.MustCompile(`'((?:[^'\\]|\\.)*)'`)

// usersHandler answers User queries with an active user for every username literal in the
// query except those starting with "gone", spelled in lower case as Salesforce stores them.
func usersHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	prefix := "SELECT Id, Username FROM User WHERE IsActive = true AND Username IN ("
	if !strings.HasPrefix(q, prefix) {
		sfErrors(w, 400, "MALFORMED_QUERY", "unexpected query")
		return
	}
	var records []map[string]any
	for _, m := range literalRE.FindAllStringSubmatch(q, -1) {
		name := strings.ToLower(strings.ReplaceAll(m[1], `\'`, `'`))
		if strings.HasPrefix(name, "gone") {
			continue
		}
		records = append(records, map[string]any{
			"attributes": map[string]string{"type": "User"},
			"Id":         "005" + fmt.Sprintf("%015d", len(name)*1000+int(name[0])),
			"Username":   name,
		})
	}
	writeJSON(w, 200, map[string]any{"totalSize": len(records), "done": true, "records": records})
}

func TestUserIDs(t *testing.T) {
	org := newOrg(t, usersHandler)
	env := newEnv(t, org, nil)
	ids, err := NewCRM(env.client).UserIDs(t.Context(), []string{"om@example.com", "OM@example.com", "o'brien@example.com", "gone@example.com", "", "om@example.com"})
	if err != nil {
		t.Fatalf("UserIDs: %v", err)
	}
	calls := org.dataCalls()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	wantQ := `SELECT Id, Username FROM User WHERE IsActive = true AND Username IN ('om@example.com', 'o\'brien@example.com', 'gone@example.com')`
	if got := queryOf(t, calls[0]); got != wantQ {
		t.Errorf("query:\n got %s\nwant %s", got, wantQ)
	}
	om, obrien := "005000000000014111", "005000000000019111"
	want := map[string]string{"om@example.com": om, "OM@example.com": om, "o'brien@example.com": obrien}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("UserIDs = %v, want %v", ids, want)
	}
}

func TestUserIDsChunksLongLists(t *testing.T) {
	org := newOrg(t, usersHandler)
	env := newEnv(t, org, nil)
	names := make([]string, 600)
	for i := range names {
		names[i] = fmt.Sprintf("user%04d@termination.example.com", i)
	}
	ids, err := NewCRM(env.client).UserIDs(t.Context(), names)
	if err != nil {
		t.Fatalf("UserIDs: %v", err)
	}
	if len(ids) != len(names) {
		t.Errorf("%d ids for %d names", len(ids), len(names))
	}
	calls := org.dataCalls()
	if len(calls) < 2 {
		t.Errorf("%d calls for 600 names, want the list split", len(calls))
	}
	seen := 0
	for _, c := range calls {
		q := queryOf(t, c)
		in := q[strings.Index(q, "IN (")+4 : len(q)-1]
		seen += len(literalRE.FindAllString(in, -1))
		if len(in) > maxInList || len(c.Path)+len(c.RawQuery) > 16384 {
			t.Errorf("IN list of %d characters, URL of %d", len(in), len(c.Path)+len(c.RawQuery))
		}
	}
	if seen != len(names) {
		t.Errorf("%d names queried, want %d", seen, len(names))
	}
}

func queryOf(t *testing.T, c recorded) string {
	t.Helper()
	v, err := url.ParseQuery(c.RawQuery)
	if err != nil {
		t.Fatalf("query string %q: %v", c.RawQuery, err)
	}
	return v.Get("q")
}

func TestQueueIDs(t *testing.T) {
	org := newOrg(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"totalSize": 2, "done": true, "records": []map[string]any{
			{"attributes": map[string]string{"type": "Group"}, "Id": "00G000000000001AAA",
				"Name": "Infrastructure Engineering Provisioning", "DeveloperName": "Infra_Provisioning"},
			{"attributes": map[string]string{"type": "Group"}, "Id": "00G000000000002AAA",
				"Name": "Legal", "DeveloperName": "Legal_Queue"},
		}})
	})
	env := newEnv(t, org, nil)
	ids, err := NewCRM(env.client).QueueIDs(t.Context(), []string{"infrastructure engineering provisioning", "Legal_Queue", "Nobody's queue"})
	if err != nil {
		t.Fatalf("QueueIDs: %v", err)
	}
	calls := org.dataCalls()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	in := `('infrastructure engineering provisioning', 'Legal_Queue', 'Nobody\'s queue')`
	wantQ := "SELECT Id, Name, DeveloperName FROM Group WHERE Type = 'Queue' AND (Name IN " + in + " OR DeveloperName IN " + in + ")"
	if got := queryOf(t, calls[0]); got != wantQ {
		t.Errorf("query:\n got %s\nwant %s", got, wantQ)
	}
	want := map[string]string{"infrastructure engineering provisioning": "00G000000000001AAA", "Legal_Queue": "00G000000000002AAA"}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("QueueIDs = %v, want %v", ids, want)
	}
}

// Cases with ids reads only those records, in IN lists that keep each query's URL short: 500
// ids (one repeated, out of order) take several queries whose records come back by id.
func TestCasesByIDs(t *testing.T) {
	q := bot.CaseQuery{Object: "Case", Where: "Type = 'Termination'", Fields: []string{"Status"}}
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = fmt.Sprintf("500%012dAAA", len(ids)-i) // descending
	}
	ids = append(ids, ids[7])
	prefix := "SELECT Id, Status, " + taskSelect + " FROM Case WHERE (Type = 'Termination') AND Id IN ("
	org := newOrg(t, func(w http.ResponseWriter, r *http.Request) {
		soql := r.URL.Query().Get("q")
		if !strings.HasPrefix(soql, prefix) || !strings.HasSuffix(soql, ") ORDER BY Id") {
			sfErrors(w, 400, "MALFORMED_QUERY", "unexpected query: "+soql)
			return
		}
		var records []map[string]any
		for _, m := range literalRE.FindAllStringSubmatch(soql[len(prefix):], -1) {
			records = append(records, map[string]any{"attributes": map[string]string{"type": "Case"}, "Id": m[1], "Status": "New", "Tasks": nil})
		}
		writeJSON(w, 200, map[string]any{"totalSize": len(records), "done": true, "records": records})
	})
	env := newEnv(t, org, nil)
	cases, err := NewCRM(env.client).Cases(t.Context(), bot.CaseQuery{Object: q.Object, Where: q.Where, Fields: q.Fields, IDs: ids})
	if err != nil {
		t.Fatalf("Cases: %v", err)
	}
	calls := org.dataCalls()
	if len(calls) < 2 {
		t.Errorf("%d calls for 500 ids, want the list split", len(calls))
	}
	for _, c := range calls {
		in := strings.TrimSuffix(queryOf(t, c)[len(prefix):], ") ORDER BY Id")
		if len(in) > maxInList || len(c.Path)+len(c.RawQuery) > 16384 {
			t.Errorf("IN list of %d characters, URL of %d", len(in), len(c.Path)+len(c.RawQuery))
		}
	}
	got := make([]string, len(cases))
	for i, c := range cases {
		got[i] = c.ID
	}
	want := slices.Clone(ids[:500])
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("read %d cases, want the 500 asked for once each, by id", len(got))
	}

	calls0 := len(org.dataCalls())
	if _, err := NewCRM(env.client).Cases(t.Context(), bot.CaseQuery{Object: "Case", IDs: []string{"500000000000001AAA", "500' OR Id != null"}}); !isInvalidInput(err) {
		t.Errorf("Cases with a malformed id: %v, want INVALID_INPUT", err)
	}
	if n := len(org.dataCalls()); n != calls0 {
		t.Errorf("a malformed id cost %d calls", n-calls0)
	}
}

func isInvalidInput(err error) bool {
	var be *bot.Error
	return errors.As(err, &be) && be.Code == "INVALID_INPUT"
}

func TestBuildCaseQueryIDs(t *testing.T) {
	ids := []string{"'500000000000001AAA'", "'500000000000002AAA'"}
	for _, tt := range []struct {
		where    string
		anyState bool
		ids      []string
		want     string
	}{
		{"", false, ids, "SELECT Id, Status, " + taskSelect + " FROM Case WHERE Id IN ('500000000000001AAA', '500000000000002AAA') ORDER BY Id"},
		{"IsClosed = false OR Status = 'New'", false, ids, "SELECT Id, Status, " + taskSelect +
			" FROM Case WHERE (IsClosed = false OR Status = 'New') AND Id IN ('500000000000001AAA', '500000000000002AAA') ORDER BY Id"},
		{"IsClosed = false", true, ids, "SELECT Id, Status, " + taskSelect +
			" FROM Case WHERE Id IN ('500000000000001AAA', '500000000000002AAA') ORDER BY Id"},
		{"IsClosed = false", true, nil, "SELECT Id, Status, " + taskSelect + " FROM Case WHERE (IsClosed = false) ORDER BY Id"},
	} {
		q := bot.CaseQuery{Object: "Case", Where: tt.where, Fields: []string{"Status"}, AnyState: tt.anyState}
		cq, err := buildCaseQuery(q, tt.ids)
		if err != nil || cq.soql != tt.want {
			t.Errorf("buildCaseQuery(%q, AnyState %v):\n got %s (%v)\nwant %s", tt.where, tt.anyState, cq.soql, err, tt.want)
		}
	}
}

// The queue query names its IN list twice: a long list of names that percent-encode long
// still keeps every URL under Salesforce's limit.
func TestQueueIDsChunksLongLists(t *testing.T) {
	org := newOrg(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"totalSize": 0, "done": true, "records": []any{}})
	})
	env := newEnv(t, org, nil)
	names := make([]string, 400)
	for i := range names {
		names[i] = fmt.Sprintf("Équipe d'Été «Ünïté» №%04d", i)
	}
	if _, err := NewCRM(env.client).QueueIDs(t.Context(), names); err != nil {
		t.Fatalf("QueueIDs: %v", err)
	}
	seen := 0
	for _, c := range org.dataCalls() {
		q := queryOf(t, c)
		in := q[strings.Index(q, "Name IN (")+len("Name IN (") : strings.Index(q, ") OR DeveloperName IN (")]
		seen += len(literalRE.FindAllString(in, -1))
		if 2*len(in) > maxInList || len(c.Path)+len(c.RawQuery) > 16384 {
			t.Errorf("two IN lists of %d characters, URL of %d", len(in), len(c.Path)+len(c.RawQuery))
		}
	}
	if seen != len(names) {
		t.Errorf("%d names queried, want %d", seen, len(names))
	}
}

func TestLastLine(t *testing.T) {
	tests := []struct{ body, want string }{
		{"", ""},
		{"casebot ref x", "casebot ref x"},
		{"Legal was told.\n\ncasebot ref x", "casebot ref x"},
		{"Legal was told.\r\ncasebot ref x\r\n\r\n", "casebot ref x"},
		{"casebot ref x\nQuoted above.", "Quoted above."},
		{"  indented last  \n\t\n", "  indented last"},
	}
	for _, tt := range tests {
		if got := lastLine(tt.body); got != tt.want {
			t.Errorf("lastLine(%q) = %q, want %q", tt.body, got, tt.want)
		}
	}
}
