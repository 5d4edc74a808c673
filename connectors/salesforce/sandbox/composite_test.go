package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type compositeResult struct {
	CompositeResponse []struct {
		Body           json.RawMessage   `json:"body"`
		HTTPHeaders    map[string]string `json:"httpHeaders"`
		HTTPStatusCode int               `json:"httpStatusCode"`
		ReferenceID    string            `json:"referenceId"`
	} `json:"compositeResponse"`
}

// errorCode returns the errorCode of subresponse i's error body, or "".
func (c compositeResult) errorCode(t *testing.T, i int) string {
	t.Helper()
	var errs []restError
	if json.Unmarshal(c.CompositeResponse[i].Body, &errs) != nil || len(errs) != 1 {
		return ""
	}
	return errs[0].ErrorCode
}

func (o *org) composite(allOrNone bool, subs ...map[string]any) compositeResult {
	o.t.Helper()
	var res compositeResult
	o.do("POST", "/composite", map[string]any{"allOrNone": allOrNone, "compositeRequest": subs}).ok(o.t, http.StatusOK, &res)
	if len(res.CompositeResponse) != len(subs) {
		o.t.Fatalf("%d subresponses for %d subrequests", len(res.CompositeResponse), len(subs))
	}
	return res
}

func sub(method, path, ref string, body any) map[string]any {
	m := map[string]any{"method": method, "url": "/services/data/v62.0" + path, "referenceId": ref}
	if body != nil {
		m["body"] = body
	}
	return m
}

func journalLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

func TestComposite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "org.jsonl")
	o := newOrg(t, Options{DataFile: path, Seed: true})
	lines, calls := journalLines(t, path), o.sb.APICalls()

	res := o.composite(true,
		sub("POST", "/sobjects/Account", "newAccount", map[string]any{"Name": "Hooli"}),
		sub("POST", "/sobjects/Contact", "newContact", map[string]any{"LastName": "Bighead", "AccountId": "@{newAccount.id}"}),
		sub("GET", "/sobjects/Contact/@{newContact.id}?fields=AccountId,Name", "contact", nil),
		// The reference is in the URL as written; percent-encoded braces are not a reference.
		sub("GET", "/query?q=SELECT+Id,+Name+FROM+Account+WHERE+Id+=+'@{newAccount.id}'", "accounts", nil),
		sub("PATCH", "/sobjects/Account/@{accounts.records[0].Id}", "rename", map[string]any{"Description": "Account @{accounts.records[0].Name}"}),
	)
	for i, r := range res.CompositeResponse {
		if want := []int{201, 201, 200, 200, 204}[i]; r.HTTPStatusCode != want {
			t.Errorf("subresponse %d (%s): %d %s, want %d", i, r.ReferenceID, r.HTTPStatusCode, r.Body, want)
		}
	}
	var created saveResult
	mustUnmarshal(t, res.CompositeResponse[0].Body, &created)
	if loc := res.CompositeResponse[0].HTTPHeaders["Location"]; loc != "/services/data/v62.0/sobjects/Account/"+created.ID {
		t.Errorf("Location %q", loc)
	}
	var contact map[string]any
	mustUnmarshal(t, res.CompositeResponse[2].Body, &contact)
	if contact["AccountId"] != created.ID || contact["Name"] != "Bighead" {
		t.Errorf("contact read in the composite: %v", contact)
	}
	if string(res.CompositeResponse[4].Body) != "null" {
		t.Errorf("body of a 204: %s", res.CompositeResponse[4].Body)
	}
	if got := o.get("Account", created.ID)["Description"]; got != "Account Hooli" {
		t.Errorf("Description %v", got)
	}
	if n := o.sb.APICalls() - calls; n != 2 { // the composite, and the get just made
		t.Errorf("the composite counted as %d API calls", n-1)
	}
	if n := journalLines(t, path) - lines; n != 1 {
		t.Errorf("the composite wrote %d journal lines, want 1", n)
	}
}

func TestCompositeAllOrNone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "org.jsonl")
	o := newOrg(t, Options{DataFile: path, Seed: true})
	lines := journalLines(t, path)
	res := o.composite(true,
		sub("POST", "/sobjects/Account", "first", map[string]any{"Name": "Rolled Back Inc"}),
		sub("POST", "/sobjects/Contact", "bad", map[string]any{"AccountId": "@{first.id}"}), // no LastName
		sub("POST", "/sobjects/Account", "never", map[string]any{"Name": "Never Inc"}),
	)
	want := []struct {
		status int
		code   string
	}{{400, "PROCESSING_HALTED"}, {400, "REQUIRED_FIELD_MISSING"}, {400, "PROCESSING_HALTED"}}
	for i, w := range want {
		if r := res.CompositeResponse[i]; r.HTTPStatusCode != w.status || res.errorCode(t, i) != w.code {
			t.Errorf("subresponse %d: %d %s, want %d %s", i, r.HTTPStatusCode, r.Body, w.status, w.code)
		}
	}
	if n := o.query("SELECT Id FROM Account WHERE Name IN ('Rolled Back Inc', 'Never Inc')").TotalSize; n != 0 {
		t.Errorf("%d accounts survived the rollback", n)
	}
	if n := journalLines(t, path) - lines; n != 0 {
		t.Errorf("a rolled-back composite wrote %d journal lines", n)
	}
	// The ids the rollback gave back are used again, as if the composite never ran.
	id := o.create("Account", map[string]any{"Name": "After"})
	var first saveResult
	_ = json.Unmarshal(res.CompositeResponse[0].Body, &first)
	if first.ID != "" {
		t.Errorf("a rolled-back subresponse kept its id %s", first.ID)
	}
	if o.get("Account", id)["Name"] != "After" {
		t.Error("write after a rollback")
	}

	// allOrNone overrides a collection subrequest's own: its partial failure rolls back.
	res = o.composite(true,
		sub("POST", "/sobjects/Account", "acct", map[string]any{"Name": "Collection Parent"}),
		sub("POST", "/composite/sobjects", "tasks", map[string]any{"allOrNone": false, "records": []map[string]any{
			{"attributes": map[string]any{"type": "Task"}, "Subject": "ok", "WhatId": "@{acct.id}"},
			{"attributes": map[string]any{"type": "Task"}, "Status": "bogus"},
		}}),
	)
	if res.CompositeResponse[0].HTTPStatusCode != 400 || res.errorCode(t, 0) != "PROCESSING_HALTED" {
		t.Errorf("the account was not rolled back: %+v", res.CompositeResponse[0])
	}
	if n := o.query("SELECT Id FROM Task WHERE Subject = 'ok'").TotalSize; n != 0 {
		t.Errorf("%d tasks survived", n)
	}
}

func TestCompositePartial(t *testing.T) {
	o := seededOrg(t)
	res := o.composite(false,
		sub("POST", "/sobjects/Contact", "bad", map[string]any{"FirstName": "No Last Name"}),
		sub("POST", "/sobjects/Task", "dependent", map[string]any{"Subject": "x", "WhoId": "@{bad.id}"}),
		sub("POST", "/sobjects/Account", "independent", map[string]any{"Name": "Independent"}),
		sub("GET", "/limits", "notAllowed", nil),
		sub("GET", "/sobjects/ContentVersion/068Sb0000000001AAA/VersionData", "blob", nil),
	)
	if res.errorCode(t, 0) != "REQUIRED_FIELD_MISSING" {
		t.Errorf("failed subrequest: %s", res.CompositeResponse[0].Body)
	}
	var halted []restError
	mustUnmarshal(t, res.CompositeResponse[1].Body, &halted)
	if res.CompositeResponse[1].HTTPStatusCode != 400 || halted[0].ErrorCode != "PROCESSING_HALTED" ||
		halted[0].Message != "Invalid reference specified. No value for bad.id found in bad." {
		t.Errorf("dependent subrequest: %s", res.CompositeResponse[1].Body)
	}
	if res.CompositeResponse[2].HTTPStatusCode != 201 || o.query("SELECT Id FROM Account WHERE Name = 'Independent'").TotalSize != 1 {
		t.Errorf("independent subrequest: %+v", res.CompositeResponse[2])
	}
	for _, i := range []int{3, 4} {
		if res.CompositeResponse[i].HTTPStatusCode != 404 || res.errorCode(t, i) != "NOT_FOUND" {
			t.Errorf("subrequest %s, which composite does not support: %s", res.CompositeResponse[i].ReferenceID, res.CompositeResponse[i].Body)
		}
	}
}

func TestCompositeRefused(t *testing.T) {
	o := seededOrg(t)
	many := make([]map[string]any, 26)
	for i := range many {
		many[i] = sub("GET", "/sobjects/Account/describe", fmt.Sprintf("r%d", i), nil)
	}
	queries := make([]map[string]any, 6)
	for i := range queries {
		queries[i] = sub("GET", "/query?q=SELECT+Id+FROM+Case", fmt.Sprintf("q%d", i), nil)
	}
	tests := []struct {
		name string
		subs []map[string]any
		want string
	}{
		{"none", []map[string]any{}, "at least one subrequest"},
		{"26 subrequests", many, "up to 25 subrequests"},
		{"6 queries", queries, "up to 5 query"},
		{"bad referenceId", []map[string]any{sub("GET", "/limits", "bad-ref", nil)}, "Provided referenceId ('bad-ref')"},
		{"duplicate referenceId", []map[string]any{sub("GET", "/limits", "a", nil), sub("GET", "/limits", "a", nil)}, "Duplicate referenceId"},
		{"lower-case method", []map[string]any{{"method": "get", "url": "/services/data/v62.0/limits", "referenceId": "a"}}, "Invalid HTTP method"},
		{"relative url", []map[string]any{{"method": "GET", "url": "sobjects/Account", "referenceId": "a"}}, "must start with /services/data/"},
		{"Authorization header", []map[string]any{{"method": "GET", "url": "/services/data/v62.0/limits", "referenceId": "a",
			"httpHeaders": map[string]string{"authorization": "Bearer x"}}}, "inherited from the composite request"},
	}
	calls := o.sb.APICalls()
	for _, tt := range tests {
		e := o.do("POST", "/composite", map[string]any{"compositeRequest": tt.subs}).wantError(t, http.StatusBadRequest, "INVALID_INPUT")
		if !strings.Contains(e.Message, tt.want) {
			t.Errorf("%s: message %q, want %q", tt.name, e.Message, tt.want)
		}
	}
	if n := o.sb.APICalls() - calls; n != len(tests) {
		t.Errorf("%d refused composites counted as %d calls", len(tests), n)
	}
	o.do("POST", "/composite", "{").wantError(t, http.StatusBadRequest, "JSON_PARSER_ERROR")
	o.do("PUT", "/composite", map[string]any{}).wantError(t, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
}

// TestCompositeLockFault: a lock fault given to a composite fails its first write, and
// allOrNone rolls the rest back.
func TestCompositeLockFault(t *testing.T) {
	o := seededOrg(t)
	o.sb.Inject(FaultLockRow, 1)
	res := o.composite(true,
		sub("GET", "/sobjects/Account/describe", "read", nil),
		sub("POST", "/sobjects/Account", "locked", map[string]any{"Name": "Locked"}),
		sub("POST", "/sobjects/Account", "after", map[string]any{"Name": "After Lock"}),
	)
	if res.errorCode(t, 1) != "UNABLE_TO_LOCK_ROW" || res.errorCode(t, 0) != "PROCESSING_HALTED" || res.errorCode(t, 2) != "PROCESSING_HALTED" {
		t.Errorf("composite under a lock fault: %+v", res)
	}
	reqs := o.sb.Requests()
	if last := reqs[len(reqs)-1]; last.Fault != FaultLockRow || !last.APICall || last.Status != 200 {
		t.Errorf("logged %+v", last)
	}
}
