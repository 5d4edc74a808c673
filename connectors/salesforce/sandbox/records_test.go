package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"casebot/bot"
)

func TestCRUD(t *testing.T) {
	o := seededOrg(t)
	account := o.create("Account", map[string]any{"Name": "Hooli", "Type": "Prospect", "Time_Zone__c": "America/Los_Angeles"})
	id := o.create("Case", map[string]any{"Subject": "Question", "AccountId": account[:15], "Type": "Question"})

	rec := o.get("Case", id)
	attrs := rec["attributes"].(map[string]any)
	if attrs["type"] != "Case" || attrs["url"] != "/services/data/v62.0/sobjects/Case/"+id {
		t.Errorf("attributes %v", attrs)
	}
	if rec["AccountId"] != account || rec["Status"] != "New" || rec["IsClosed"] != false || rec["Termination_Hold__c"] != false {
		t.Errorf("created case: %v", rec)
	}
	apiUser := o.query("SELECT Id FROM User WHERE Username = 'casebot@example.test'").Records[0]["Id"]
	if rec["OwnerId"] != apiUser || rec["CreatedById"] != apiUser || rec["LastModifiedById"] != apiUser {
		t.Errorf("owner and audit users: %v %v %v, want %v", rec["OwnerId"], rec["CreatedById"], rec["LastModifiedById"], apiUser)
	}
	if rec["CreatedDate"] != "2026-11-21T15:00:00.000+0000" || rec["SystemModstamp"] != rec["CreatedDate"] {
		t.Errorf("CreatedDate %v SystemModstamp %v", rec["CreatedDate"], rec["SystemModstamp"])
	}

	var some map[string]any
	o.do("GET", "/sobjects/Case/"+id+"?fields=Subject,casenumber", nil).ok(t, http.StatusOK, &some)
	if len(some) != 3 || some["Subject"] != "Question" || some["CaseNumber"] != caseNumber(seededCases+1) {
		t.Errorf("GET with fields: %v", some)
	}
	// Ids are accepted in their 15-character form and in any case in their 18-character form.
	o.do("GET", "/sobjects/Case/"+id[:15], nil).ok(t, http.StatusOK, nil)
	o.do("GET", "/sobjects/Case/"+strings.ToLower(id), nil).ok(t, http.StatusOK, nil)

	o.do("PATCH", "/sobjects/Case/"+id, map[string]any{"Subject": "Changed", "Priority": "High", "Description": nil}).ok(t, http.StatusNoContent, nil)
	rec = o.get("Case", id)
	if rec["Subject"] != "Changed" || rec["Priority"] != "High" || rec["Type"] != "Question" {
		t.Errorf("after PATCH: %v", rec)
	}

	o.do("DELETE", "/sobjects/Case/"+id, nil).ok(t, http.StatusNoContent, nil)
	o.do("GET", "/sobjects/Case/"+id, nil).wantError(t, http.StatusNotFound, "NOT_FOUND")
	o.do("PATCH", "/sobjects/Case/"+id, map[string]any{"Subject": "x"}).wantError(t, http.StatusNotFound, "ENTITY_IS_DELETED")
	o.do("DELETE", "/sobjects/Case/"+id, nil).wantError(t, http.StatusNotFound, "ENTITY_IS_DELETED")
}

func TestUpsert(t *testing.T) {
	o := seededOrg(t)
	path := "/sobjects/Case/Casebot_Key__c/intake-1"
	var res saveResult
	o.do("PATCH", path, map[string]any{"Subject": "From mail", "Origin": "Email"}).ok(t, http.StatusCreated, &res)
	if !res.Success || res.Created == nil || !*res.Created || len(res.ID) != 18 {
		t.Fatalf("first upsert: %+v", res)
	}
	created := res.ID
	res = saveResult{}
	o.do("PATCH", path, map[string]any{"Subject": "From mail again"}).ok(t, http.StatusOK, &res)
	if res.ID != created || res.Created == nil || *res.Created {
		t.Fatalf("second upsert: %+v", res)
	}
	if rec := o.get("Case", created); rec["Subject"] != "From mail again" || rec["Casebot_Key__c"] != "intake-1" {
		t.Errorf("after upserts: %v", rec)
	}
	// External ids match case-insensitively; GET by external id works too.
	var got map[string]any
	o.do("GET", "/sobjects/Case/Casebot_Key__c/INTAKE-1", nil).ok(t, http.StatusOK, &got)
	if got["Id"] != created {
		t.Errorf("GET by external id: %v", got["Id"])
	}

	// Several records with the same (non-unique) external id: 300 with their URLs.
	a := o.create("Account", map[string]any{"Name": "Dup 1", "Legacy_Id__c": "L-1"})
	b := o.create("Account", map[string]any{"Name": "Dup 2", "Legacy_Id__c": "L-1"})
	var urls []string
	o.do("PATCH", "/sobjects/Account/Legacy_Id__c/L-1", map[string]any{"Name": "x"}).ok(t, http.StatusMultipleChoices, &urls)
	want := []string{"/services/data/v62.0/sobjects/Account/" + a, "/services/data/v62.0/sobjects/Account/" + b}
	if strings.Join(urls, " ") != strings.Join(want, " ") {
		t.Errorf("300 body %v, want %v", urls, want)
	}

	// Casebot_Key__c on Task is not an external id, as Salesforce allows none on activities.
	o.do("PATCH", "/sobjects/Task/Casebot_Key__c/k", map[string]any{"Subject": "x"}).wantError(t, http.StatusNotFound, "NOT_FOUND")
	// A unique external id refuses a second record with the same value.
	o.do("POST", "/sobjects/Case", map[string]any{"Casebot_Key__c": "INTAKE-1"}).wantError(t, http.StatusBadRequest, "DUPLICATE_VALUE")
	// Upsert by Id updates.
	o.do("PATCH", "/sobjects/Account/Id/"+a, map[string]any{"Name": "Renamed"}).ok(t, http.StatusOK, nil)
	if rec := o.get("Account", a); rec["Name"] != "Renamed" {
		t.Errorf("upsert by Id: %v", rec["Name"])
	}
}

func TestCollections(t *testing.T) {
	o := seededOrg(t)
	caseID := o.query("SELECT Id FROM Case LIMIT 1").Records[0]["Id"].(string)
	task := func(fields map[string]any) map[string]any {
		fields["attributes"] = map[string]any{"type": "Task"}
		return fields
	}
	records := []map[string]any{
		task(map[string]any{"Subject": "ok 1", "WhatId": caseID}),
		task(map[string]any{"Subject": "bad", "Status": "Nope"}),
		task(map[string]any{"Subject": "ok 2", "ActivityDate": "2026-12-01"}),
		{"attributes": map[string]any{"type": "Nope"}},
	}

	var results []saveResult
	o.do("POST", "/composite/sobjects", map[string]any{"allOrNone": true, "records": records}).ok(t, http.StatusOK, &results)
	if len(results) != 4 {
		t.Fatalf("%d results", len(results))
	}
	wantCodes := []string{"ALL_OR_NONE_OPERATION_ROLLED_BACK", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "ALL_OR_NONE_OPERATION_ROLLED_BACK", "INVALID_TYPE"}
	for i, r := range results {
		if r.Success || len(r.Errors) != 1 || r.Errors[0].StatusCode != wantCodes[i] {
			t.Errorf("allOrNone result %d: %+v, want %s", i, r, wantCodes[i])
		}
	}
	if r := results[1].Errors[0]; r.Message != "Status: bad value for restricted picklist field: Nope" || len(r.Fields) != 1 || r.Fields[0] != "Status" {
		t.Errorf("picklist error %+v", r)
	}
	if n := o.query("SELECT COUNT() FROM Task").TotalSize; n != 0 {
		t.Fatalf("allOrNone left %d tasks", n)
	}

	results = nil
	o.do("POST", "/composite/sobjects", map[string]any{"allOrNone": false, "records": records}).ok(t, http.StatusOK, &results)
	for i, want := range []bool{true, false, true, false} {
		if results[i].Success != want || (want && len(results[i].ID) != 18) {
			t.Errorf("partial result %d: %+v", i, results[i])
		}
	}
	if n := o.query("SELECT COUNT() FROM Task").TotalSize; n != 2 {
		t.Fatalf("partial success stored %d tasks, want 2", n)
	}

	// Update: one per record, in order, Id in the body.
	ok1, ok2 := results[0].ID, results[2].ID
	updates := []map[string]any{
		task(map[string]any{"Id": ok1, "Status": "Completed"}),
		task(map[string]any{"Status": "Completed"}),
		task(map[string]any{"Id": ok2, "Subject": strings.Repeat("x", 256)}),
	}
	results = nil
	o.do("PATCH", "/composite/sobjects", map[string]any{"records": updates}).ok(t, http.StatusOK, &results)
	if !results[0].Success || results[0].ID != ok1 || results[1].Errors[0].StatusCode != "MISSING_ARGUMENT" || results[2].Errors[0].StatusCode != "STRING_TOO_LONG" {
		t.Errorf("update results %+v", results)
	}
	if rec := o.get("Task", ok1); rec["IsClosed"] != true {
		t.Errorf("completed task IsClosed %v", rec["IsClosed"])
	}

	// Delete by ids.
	results = nil
	o.do("DELETE", "/composite/sobjects?ids="+ok1+","+ok1+",bad,"+caseID[:3]+"Sb9999999999", nil).ok(t, http.StatusOK, &results)
	wantCodes = []string{"", "ENTITY_IS_DELETED", "MALFORMED_ID", "INVALID_CROSS_REFERENCE_KEY"}
	for i, r := range results {
		if (wantCodes[i] == "") != r.Success || (!r.Success && r.Errors[0].StatusCode != wantCodes[i]) {
			t.Errorf("delete result %d: %+v, want %q", i, r, wantCodes[i])
		}
	}

	// At most 200 records a call.
	var many []map[string]any
	for range 201 {
		many = append(many, task(map[string]any{"Subject": "x"}))
	}
	o.do("POST", "/composite/sobjects", map[string]any{"records": many}).wantError(t, http.StatusBadRequest, "EXCEEDED_ID_LIMIT")
	o.do("GET", "/composite/sobjects", nil).wantError(t, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
}

func TestWriteErrors(t *testing.T) {
	o := seededOrg(t)
	caseID := o.query("SELECT Id FROM Case LIMIT 1").Records[0]["Id"].(string)
	contactID := o.query("SELECT Id FROM Contact LIMIT 1").Records[0]["Id"].(string)
	deleted := o.create("Account", map[string]any{"Name": "Gone"})
	o.do("DELETE", "/sobjects/Account/"+deleted, nil).ok(t, http.StatusNoContent, nil)
	missing := makeID("001", 999999)

	tests := []struct {
		name, method, path string
		body               any
		status             int
		code, message      string
		fields             []string
	}{
		{"unknown object", "POST", "/sobjects/Nope", map[string]any{}, 404, "NOT_FOUND", "The requested resource does not exist", nil},
		{"unknown record", "GET", "/sobjects/Account/" + missing, nil, 404, "NOT_FOUND", "", nil},
		{"record of another type", "GET", "/sobjects/Account/" + caseID, nil, 404, "NOT_FOUND", "", nil},
		{"deleted record", "PATCH", "/sobjects/Account/" + deleted, map[string]any{"Name": "x"}, 404, "ENTITY_IS_DELETED", "entity is deleted", nil},
		{"malformed id in URL", "GET", "/sobjects/Account/001xyz", nil, 400, "MALFORMED_ID", "", nil},
		{"malformed reference", "POST", "/sobjects/Case", map[string]any{"AccountId": "nope"}, 400, "MALFORMED_ID", "", []string{"AccountId"}},
		{"unknown field", "POST", "/sobjects/Case", map[string]any{"Nope__c": 1}, 400, "INVALID_FIELD", "No such column 'Nope__c' on sobject of type Case", []string{"Nope__c"}},
		{"unknown field in ?fields", "GET", "/sobjects/Case/" + caseID + "?fields=Nope", nil, 400, "INVALID_FIELD", "", nil},
		{"required field", "POST", "/sobjects/Account", map[string]any{"Type": "Prospect"}, 400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", []string{"Name"}},
		{"required field nulled", "PATCH", "/sobjects/Contact/" + contactID, map[string]any{"LastName": nil}, 400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", []string{"LastName"}},
		{"string too long", "POST", "/sobjects/Account", map[string]any{"Name": "x", "Time_Zone__c": strings.Repeat("z", 41)}, 400, "STRING_TOO_LONG", "", []string{"Time_Zone__c"}},
		{"comment too long", "POST", "/sobjects/CaseComment", map[string]any{"ParentId": caseID, "CommentBody": strings.Repeat("é", 4001)}, 400, "STRING_TOO_LONG", "", []string{"CommentBody"}},
		{"restricted picklist", "PATCH", "/sobjects/Case/" + caseID, map[string]any{"Status": "Done"}, 400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Status: bad value for restricted picklist field: Done", []string{"Status"}},
		{"read-only field", "PATCH", "/sobjects/Case/" + caseID, map[string]any{"IsClosed": true, "CaseNumber": "1"}, 400, "INVALID_FIELD_FOR_INSERT_UPDATE", "", []string{"CaseNumber", "IsClosed"}},
		{"Id on insert", "POST", "/sobjects/Case", map[string]any{"Id": caseID}, 400, "INVALID_FIELD_FOR_INSERT_UPDATE", "", []string{"Id"}},
		{"missing reference", "POST", "/sobjects/Case", map[string]any{"AccountId": missing}, 400, "INVALID_CROSS_REFERENCE_KEY", "", []string{"AccountId"}},
		{"reference of the wrong type", "POST", "/sobjects/Case", map[string]any{"AccountId": contactID}, 400, "INVALID_CROSS_REFERENCE_KEY", "", []string{"AccountId"}},
		{"reference to a deleted record", "POST", "/sobjects/Case", map[string]any{"AccountId": deleted}, 400, "ENTITY_IS_DELETED", "", []string{"AccountId"}},
		{"bad JSON", "POST", "/sobjects/Case", `{"Subject": `, 400, "JSON_PARSER_ERROR", "", nil},
		{"JSON not an object", "POST", "/sobjects/Case", `["Subject"]`, 400, "JSON_PARSER_ERROR", "", nil},
		{"wrong type for a boolean", "POST", "/sobjects/Case", map[string]any{"Termination_Hold__c": "maybe"}, 400, "INVALID_TYPE_ON_FIELD_IN_RECORD", "", []string{"Termination_Hold__c"}},
		{"wrong type for a date", "POST", "/sobjects/Case", map[string]any{"Contract_End_Date__c": "next week"}, 400, "INVALID_TYPE_ON_FIELD_IN_RECORD", "Contract End Date: value not of required type: next week", []string{"Contract_End_Date__c"}},
		{"object for a string", "POST", "/sobjects/Case", map[string]any{"Subject": map[string]any{}}, 400, "INVALID_TYPE_ON_FIELD_IN_RECORD", "", []string{"Subject"}},
		{"bad email", "POST", "/sobjects/Contact", map[string]any{"LastName": "x", "Email": "not-an-email"}, 400, "INVALID_EMAIL_ADDRESS", "", []string{"Email"}},
		{"duplicate username", "POST", "/sobjects/User", map[string]any{"Username": "OM@example.test", "Email": "a@b.test", "LastName": "x"}, 400, "DUPLICATE_VALUE", "", []string{"Username"}},
		{"PUT a record", "PUT", "/sobjects/Case/" + caseID, map[string]any{}, 405, "METHOD_NOT_ALLOWED", "HTTP Method 'PUT' not allowed. Allowed are GET,HEAD,PATCH,DELETE", nil},
		{"DELETE an object", "DELETE", "/sobjects/Case", nil, 405, "METHOD_NOT_ALLOWED", "", nil},
		{"unknown resource", "GET", "/nope", nil, 404, "NOT_FOUND", "", nil},
		{"unknown version", "GET", "/services/data/v99.0/limits", nil, 404, "NOT_FOUND", "", nil},
		{"retired version", "GET", "/services/data/v30.0/limits", nil, 410, "UNSUPPORTED_API_VERSION", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := o.do(tt.method, tt.path, tt.body).wantError(t, tt.status, tt.code)
			if tt.message != "" && e.Message != tt.message {
				t.Errorf("message %q, want %q", e.Message, tt.message)
			}
			if strings.Join(e.Fields, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("fields %v, want %v", e.Fields, tt.fields)
			}
		})
	}
	// A failed write changes nothing.
	if rec := o.get("Case", caseID); rec["Status"] != "New" {
		t.Errorf("failed writes changed the case: %v", rec["Status"])
	}
}

func TestDerivedFields(t *testing.T) {
	clk := bot.NewManualClock(testNow)
	o := newOrg(t, Options{Now: clk.Now})
	first := o.create("Case", map[string]any{"Subject": "one"})
	second := o.create("Case", map[string]any{"Subject": "two"})
	if a, b := o.get("Case", first)["CaseNumber"], o.get("Case", second)["CaseNumber"]; a != "00001001" || b != "00001002" {
		t.Errorf("CaseNumbers %v %v", a, b)
	}

	clk.Set(testNow.Add(2 * 3600e9))
	o.do("PATCH", "/sobjects/Case/"+first, map[string]any{"Status": "Closed"}).ok(t, http.StatusNoContent, nil)
	rec := o.get("Case", first)
	if rec["IsClosed"] != true || rec["ClosedDate"] != "2026-11-21T17:00:00.000+0000" || rec["LastModifiedDate"] != "2026-11-21T17:00:00.000+0000" || rec["CreatedDate"] != "2026-11-21T15:00:00.000+0000" {
		t.Errorf("closed case: %v", rec)
	}
	clk.Set(testNow.Add(3 * 3600e9))
	o.do("PATCH", "/sobjects/Case/"+first, map[string]any{"Subject": "still closed"}).ok(t, http.StatusNoContent, nil)
	if rec := o.get("Case", first); rec["ClosedDate"] != "2026-11-21T17:00:00.000+0000" {
		t.Errorf("ClosedDate moved on an unrelated update: %v", rec["ClosedDate"])
	}
	o.do("PATCH", "/sobjects/Case/"+first, map[string]any{"Status": "Working"}).ok(t, http.StatusNoContent, nil)
	if rec := o.get("Case", first); rec["IsClosed"] != false || rec["ClosedDate"] != nil {
		t.Errorf("reopened case: %v %v", rec["IsClosed"], rec["ClosedDate"])
	}

	task := o.create("Task", map[string]any{"Subject": "t", "Status": "Completed"})
	if rec := o.get("Task", task); rec["IsClosed"] != true || rec["Priority"] != "Normal" {
		t.Errorf("task: %v", rec)
	}
	contact := o.create("Contact", map[string]any{"FirstName": "Ada", "LastName": "Lovelace"})
	if rec := o.get("Contact", contact); rec["Name"] != "Ada Lovelace" {
		t.Errorf("contact Name %v", rec["Name"])
	}
}

func TestValueFormats(t *testing.T) {
	o := newOrg(t, Options{})
	id := o.create("Case", map[string]any{"Subject": "dates"})
	tests := []struct {
		field string
		in    any
		want  any
	}{
		{"Deprovision_Date__c", "2026-12-01T10:00:00Z", "2026-12-01T10:00:00.000+0000"},
		{"Deprovision_Date__c", "2026-12-01T10:00:00.123Z", "2026-12-01T10:00:00.123+0000"},
		{"Deprovision_Date__c", "2026-12-01T10:00:00+01:00", "2026-12-01T09:00:00.000+0000"},
		{"Deprovision_Date__c", "2026-12-01T10:00:00.000-0500", "2026-12-01T15:00:00.000+0000"},
		{"Deprovision_Date__c", nil, nil},
		{"Contract_End_Date__c", "2027-01-31", "2027-01-31"},
		{"Contract_End_Date__c", nil, nil},
		{"Termination_Hold__c", true, true},
		{"Termination_Hold__c", nil, false},
		{"Subject", "", nil},
	}
	for _, tt := range tests {
		o.do("PATCH", "/sobjects/Case/"+id, map[string]any{tt.field: tt.in}).ok(t, http.StatusNoContent, nil)
		if got := o.get("Case", id)[tt.field]; got != tt.want {
			t.Errorf("%s = %v: stored %v, want %v", tt.field, tt.in, got, tt.want)
		}
	}
}

func TestCollectionUpsert(t *testing.T) {
	o := seededOrg(t)
	twin1 := o.create("Account", map[string]any{"Name": "Twin 1", "Legacy_Id__c": "L-TWIN"})
	twin2 := o.create("Account", map[string]any{"Name": "Twin 2", "Legacy_Id__c": "L-TWIN"})
	existing := o.create("Account", map[string]any{"Name": "Existing", "Legacy_Id__c": "L-1"})
	account := func(fields map[string]any) map[string]any {
		fields["attributes"] = map[string]any{"type": "Account"}
		return fields
	}
	upsert := func(allOrNone bool, records ...map[string]any) []saveResult {
		t.Helper()
		var results []saveResult
		o.do("PATCH", "/composite/sobjects/Account/Legacy_Id__c", map[string]any{"allOrNone": allOrNone, "records": records}).
			ok(t, http.StatusOK, &results)
		if len(results) != len(records) {
			t.Fatalf("%d results for %d records: %+v", len(results), len(records), results)
		}
		return results
	}
	code := func(r saveResult) string {
		if len(r.Errors) != 1 {
			return ""
		}
		return r.Errors[0].StatusCode
	}

	results := upsert(false,
		account(map[string]any{"Legacy_Id__c": "l-1", "Phone": "+1 555 0101"}),                                      // updates, case-insensitively
		account(map[string]any{"Legacy_Id__c": "L-NEW", "Name": "New"}),                                             // creates
		account(map[string]any{"Legacy_Id__c": "L-TWIN", "Name": "Which?"}),                                         // matches two
		account(map[string]any{"Legacy_Id__c": "L-DUP", "Name": "Dup a"}),                                           // its value twice
		account(map[string]any{"Legacy_Id__c": "l-dup", "Name": "Dup b"}),                                           // in this call
		account(map[string]any{"Name": "No key"}),                                                                   // no value
		map[string]any{"attributes": map[string]any{"type": "Contact"}, "Legacy_Id__c": "L-C", "LastName": "Wrong"}, // another object
		account(map[string]any{"Legacy_Id__c": "L-BAD"}),                                                            // a create without Name
	)
	if r := results[0]; !r.Success || r.ID != existing || r.Created == nil || *r.Created {
		t.Errorf("update by external id: %+v", r)
	}
	if r := results[1]; !r.Success || r.Created == nil || !*r.Created || !strings.HasPrefix(r.ID, "001") {
		t.Errorf("create by external id: %+v", r)
	}
	for i, want := range []string{"", "", "DUPLICATE_EXTERNAL_ID", "DUPLICATE_VALUE", "DUPLICATE_VALUE", "MISSING_ARGUMENT", "INVALID_TYPE", "REQUIRED_FIELD_MISSING"} {
		if r := results[i]; code(r) != want || (want != "" && (r.Success || r.Created != nil)) {
			t.Errorf("result %d: %+v, want error %q", i, r, want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if e := results[2].Errors[0]; e.Message != "Legacy Id: more than one record found for external id field: ["+twin1+", "+twin2+"]" ||
		len(e.Fields) != 1 || e.Fields[0] != "Legacy_Id__c" {
		t.Errorf("ambiguous upsert error %+v", e)
	}
	if e := results[3].Errors[0]; e.Message != "Duplicate external id specified: L-DUP" {
		t.Errorf("duplicate value error %+v", e)
	}
	if rec := o.get("Account", existing); rec["Phone"] != "+1 555 0101" || rec["Legacy_Id__c"] != "L-1" {
		t.Errorf("updated account %v", rec)
	}
	if rec := o.get("Account", results[1].ID); rec["Name"] != "New" || rec["Legacy_Id__c"] != "L-NEW" {
		t.Errorf("created account %v", rec)
	}
	if n := o.query("SELECT COUNT() FROM Account WHERE Legacy_Id__c IN ('L-DUP', 'L-BAD', 'L-C')").TotalSize; n != 0 {
		t.Errorf("%d failed records were stored", n)
	}
	if n := o.query("SELECT COUNT() FROM Account WHERE Name = 'Which?'").TotalSize; n != 0 {
		t.Error("an ambiguous upsert changed a record")
	}

	// All or none: the failure of one rolls back the others.
	results = upsert(true,
		account(map[string]any{"Legacy_Id__c": "L-1", "Phone": "+1 555 0199"}),
		account(map[string]any{"Legacy_Id__c": "L-ALL", "Name": "All"}),
		account(map[string]any{"Legacy_Id__c": "L-TWIN", "Name": "Which?"}),
	)
	for i, want := range []string{"ALL_OR_NONE_OPERATION_ROLLED_BACK", "ALL_OR_NONE_OPERATION_ROLLED_BACK", "DUPLICATE_EXTERNAL_ID"} {
		if code(results[i]) != want {
			t.Errorf("allOrNone result %d: %+v, want %s", i, results[i], want)
		}
	}
	if rec := o.get("Account", existing); rec["Phone"] != "+1 555 0101" {
		t.Errorf("a rolled back upsert changed the account: %v", rec["Phone"])
	}

	// By Id: updates only.
	results = upsert(false, account(map[string]any{"Legacy_Id__c": "L-1"}))
	if !results[0].Success {
		t.Errorf("an upsert without changes failed: %+v", results[0])
	}
	var byID []saveResult
	o.do("PATCH", "/composite/sobjects/Account/Id", map[string]any{"records": []map[string]any{
		account(map[string]any{"Id": twin1, "Name": "Twin One"}), account(map[string]any{"Id": "001Sb9999999999", "Name": "x"}),
	}}).ok(t, http.StatusOK, &byID)
	if !byID[0].Success || byID[0].ID != twin1 || code(byID[1]) != "INVALID_CROSS_REFERENCE_KEY" {
		t.Errorf("upsert by Id: %+v", byID)
	}

	o.do("PATCH", "/composite/sobjects/Account/Tenant_Id__c", map[string]any{"records": []any{}}).wantError(t, http.StatusNotFound, "NOT_FOUND")
	o.do("PATCH", "/composite/sobjects/Nope/Legacy_Id__c", map[string]any{"records": []any{}}).wantError(t, http.StatusNotFound, "NOT_FOUND")
	o.do("POST", "/composite/sobjects/Account/Legacy_Id__c", map[string]any{"records": []any{}}).wantError(t, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	o.do("PATCH", "/composite/sobjects/Account/Legacy_Id__c", "{").wantError(t, http.StatusBadRequest, "JSON_PARSER_ERROR")
	var many []map[string]any
	for i := range 201 {
		many = append(many, account(map[string]any{"Legacy_Id__c": fmt.Sprint("L-MANY-", i), "Name": "x"}))
	}
	o.do("PATCH", "/composite/sobjects/Account/Legacy_Id__c", map[string]any{"records": many}).wantError(t, http.StatusBadRequest, "EXCEEDED_ID_LIMIT")
}

func TestCollectionRetrieve(t *testing.T) {
	o := seededOrg(t)
	a := o.create("Account", map[string]any{"Name": "Retrieved", "Industry": "Retail"})
	gone := o.create("Account", map[string]any{"Name": "Gone"})
	o.do("DELETE", "/sobjects/Account/"+gone, nil).ok(t, http.StatusNoContent, nil)
	contact := o.create("Contact", map[string]any{"LastName": "Not an account"})

	want := func(recs []map[string]any) {
		t.Helper()
		if len(recs) != 4 || recs[1] != nil || recs[2] != nil || recs[3] == nil {
			t.Fatalf("records %v, want a record, two nulls and a record", recs)
		}
		attrs, _ := recs[0]["attributes"].(map[string]any)
		if recs[0]["Id"] != a || recs[0]["Name"] != "Retrieved" || recs[0]["Industry"] != "Retail" ||
			attrs["type"] != "Account" || attrs["url"] != "/services/data/v62.0/sobjects/Account/"+a {
			t.Errorf("retrieved %v", recs[0])
		}
		if _, ok := recs[0]["Phone"]; ok {
			t.Errorf("a field not asked for was retrieved: %v", recs[0])
		}
	}
	// A 15-character id finds its record too.
	ids := []string{a, gone, contact, a[:15]}
	var recs []map[string]any
	o.do("POST", "/composite/sobjects/Account", map[string]any{"ids": ids, "fields": []string{"Id", "Name", "Industry"}}).ok(t, http.StatusOK, &recs)
	want(recs)
	recs = nil
	o.do("GET", "/composite/sobjects/Account?ids="+strings.Join(ids, ",")+"&fields=Id,Name,Industry", nil).ok(t, http.StatusOK, &recs)
	want(recs)

	o.do("POST", "/composite/sobjects/Account", map[string]any{"ids": []string{a}, "fields": []string{"Nope"}}).wantError(t, http.StatusBadRequest, "INVALID_FIELD")
	o.do("POST", "/composite/sobjects/Account", map[string]any{"ids": []string{a}}).wantError(t, http.StatusBadRequest, "MISSING_ARGUMENT")
	o.do("POST", "/composite/sobjects/Account", map[string]any{"fields": []string{"Id"}}).wantError(t, http.StatusBadRequest, "MISSING_ARGUMENT")
	o.do("POST", "/composite/sobjects/Account", map[string]any{"ids": []string{"bad"}, "fields": []string{"Id"}}).wantError(t, http.StatusBadRequest, "MALFORMED_ID")
	o.do("DELETE", "/composite/sobjects/Account", nil).wantError(t, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	many := make([]string, maxRetrieve+1)
	for i := range many {
		many[i] = a
	}
	o.do("POST", "/composite/sobjects/Account", map[string]any{"ids": many, "fields": []string{"Id"}}).wantError(t, http.StatusBadRequest, "EXCEEDED_ID_LIMIT")
}
