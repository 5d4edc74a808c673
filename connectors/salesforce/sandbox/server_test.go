package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"casebot/bot"
)

func TestDailyLimit(t *testing.T) {
	clk := bot.NewManualClock(testNow)
	o := newOrg(t, Options{DailyLimit: 3, Now: clk.Now})
	for i := 1; i <= 3; i++ {
		r := o.do("GET", "/limits", nil)
		if got, want := r.header.Get("Sforce-Limit-Info"), "api-usage="+string(rune('0'+i))+"/3"; got != want {
			t.Errorf("call %d: Sforce-Limit-Info %q, want %q", i, got, want)
		}
		var limits map[string]struct{ Max, Remaining int }
		r.ok(t, http.StatusOK, &limits)
		if l := limits["DailyApiRequests"]; l.Max != 3 || l.Remaining != 3-i {
			t.Errorf("call %d: DailyApiRequests %+v", i, l)
		}
	}
	r := o.do("GET", "/query?q=SELECT+Id+FROM+Case", nil)
	r.wantError(t, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED")
	if got := r.header.Get("Sforce-Limit-Info"); got != "api-usage=3/3" {
		t.Errorf("refused call: Sforce-Limit-Info %q", got)
	}
	// Logging in still works; the allowance comes back the next day.
	o.login()
	clk.Set(testNow.Add(24 * time.Hour))
	o.do("GET", "/limits", nil).ok(t, http.StatusOK, nil)
}

func TestRequestLog(t *testing.T) {
	o := seededOrg(t) // newOrg logged in once: a request, not an API call
	o.do("GET", "/services/data/", nil).ok(t, http.StatusOK, nil)
	o.do("GET", "/query?q="+url.QueryEscape("SELECT Id FROM Case"), nil).ok(t, http.StatusOK, nil)
	o.do("GET", "/sobjects/Case/describe", nil).ok(t, http.StatusOK, nil)
	o.do("GET", "/sobjects/Nope/describe", nil).wantError(t, http.StatusNotFound, "NOT_FOUND")
	unauth := *o
	unauth.token = "x"
	unauth.do("GET", "/limits", nil).wantError(t, http.StatusUnauthorized, "INVALID_SESSION_ID")

	reqs := o.sb.Requests()
	want := []Request{
		{Method: "POST", Path: "/services/oauth2/token", Status: 200},
		{Method: "GET", Path: "/services/data/", Status: 200},
		{Method: "GET", Path: "/services/data/v62.0/query", Status: 200, APICall: true},
		{Method: "GET", Path: "/services/data/v62.0/sobjects/Case/describe", Status: 200, APICall: true},
		{Method: "GET", Path: "/services/data/v62.0/sobjects/Nope/describe", Status: 404, APICall: true},
		{Method: "GET", Path: "/services/data/v62.0/limits", Status: 401},
	}
	if len(reqs) != len(want) {
		t.Fatalf("%d requests logged, want %d: %+v", len(reqs), len(want), reqs)
	}
	for i, w := range want {
		w.Time = testNow
		if reqs[i] != w {
			t.Errorf("request %d: %+v, want %+v", i, reqs[i], w)
		}
	}
	if n := o.sb.APICalls(); n != 3 {
		t.Errorf("APICalls() = %d, want 3", n)
	}
	o.sb.ResetRequests()
	if n := o.sb.APICalls(); n != 0 || len(o.sb.Requests()) != 0 {
		t.Errorf("after ResetRequests: %d calls, %d requests", n, len(o.sb.Requests()))
	}
	// The allowance is not reset with the log.
	if got := o.do("GET", "/limits", nil).header.Get("Sforce-Limit-Info"); got != "api-usage=4/15000" {
		t.Errorf("Sforce-Limit-Info %q, want api-usage=4/15000", got)
	}
}

func TestVersionsAndResources(t *testing.T) {
	o := newOrg(t, Options{})
	var versions []struct{ Label, URL, Version string }
	unauth := *o
	unauth.token = ""
	unauth.do("GET", "/services/data/", nil).ok(t, http.StatusOK, &versions)
	if len(versions) != maxVersion-minVersion+1 {
		t.Fatalf("%d versions", len(versions))
	}
	for _, v := range versions {
		if v.Version == "62.0" && (v.Label != "Winter '25" || v.URL != "/services/data/v62.0") {
			t.Errorf("v62.0: %+v", v)
		}
		if v.Version == "31.0" && v.Label != "Summer '14" {
			t.Errorf("v31.0: %+v", v)
		}
	}
	var resources map[string]string
	o.do("GET", "/services/data/v66.0/", nil).ok(t, http.StatusOK, &resources)
	if resources["query"] != "/services/data/v66.0/query" || resources["sobjects"] != "/services/data/v66.0/sobjects" {
		t.Errorf("resources %v", resources)
	}
	// The identity URL of the caller, as the token response names it.
	user := o.query("SELECT Id FROM User WHERE Username = 'casebot@example.test'").Records[0]["Id"]
	if want := fmt.Sprint(o.http.URL, "/id/", o.sb.orgID, "/", user); resources["identity"] != want {
		t.Errorf("resources name identity %q, want %q", resources["identity"], want)
	}
	var global struct {
		Sobjects []objectInfo `json:"sobjects"`
	}
	o.do("GET", "/services/data/v31.0/sobjects", nil).ok(t, http.StatusOK, &global)
	if len(global.Sobjects) != 11 {
		t.Errorf("global describe lists %d objects", len(global.Sobjects))
	}
}

func TestDescribe(t *testing.T) {
	o := newOrg(t, Options{})
	var d struct {
		Name               string              `json:"name"`
		KeyPrefix          string              `json:"keyPrefix"`
		Fields             []fieldInfo         `json:"fields"`
		ChildRelationships []childRelationship `json:"childRelationships"`
	}
	o.do("GET", "/sobjects/case/describe", nil).ok(t, http.StatusOK, &d)
	if d.Name != "Case" || d.KeyPrefix != "500" {
		t.Errorf("describe: %s %s", d.Name, d.KeyPrefix)
	}
	fields := map[string]fieldInfo{}
	for _, f := range d.Fields {
		fields[f.Name] = f
	}
	status := fields["Status"]
	if status.Type != "picklist" || !status.RestrictedPicklist || len(status.PicklistValues) != 25 || !status.PicklistValues[0].DefaultValue ||
		status.PicklistValues[24].Value != "Closed" {
		t.Errorf("Status: %+v", status)
	}
	owner := fields["OwnerId"]
	if owner.Type != "reference" || len(owner.ReferenceTo) != 2 || owner.RelationshipName == nil || *owner.RelationshipName != "Owner" || !owner.Polymorphic {
		t.Errorf("OwnerId: %+v", owner)
	}
	if f := fields["CaseNumber"]; f.Createable || f.Updateable || !f.AutoNumber {
		t.Errorf("CaseNumber: %+v", f)
	}
	if f := fields["Casebot_Key__c"]; !f.ExternalID || !f.Custom || f.Length != 255 {
		t.Errorf("Casebot_Key__c: %+v", f)
	}
	if f := fields["Subject"]; !f.Nillable || f.Length != 255 {
		t.Errorf("Subject: %+v", f)
	}
	var tasks bool
	for _, c := range d.ChildRelationships {
		tasks = tasks || (c.RelationshipName == "Tasks" && c.ChildSObject == "Task" && c.Field == "WhatId")
	}
	if !tasks {
		t.Errorf("no Tasks child relationship in %+v", d.ChildRelationships)
	}
	o.do("GET", "/sobjects/Nope/describe", nil).wantError(t, http.StatusNotFound, "NOT_FOUND")
}

func TestStart(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	sb, err := Start(ctx, Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(sb.URL() + "/services/data/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /services/data/ on %s: %d", sb.URL(), resp.StatusCode)
	}
	cancel()
	if err := sb.Close(); err != nil {
		t.Errorf("Close after the context ended: %v", err)
	}
	if _, err := Start(t.Context(), Options{Addr: "0.0.0.0:0"}); err == nil {
		t.Error("Start on a non-loopback address succeeded")
	}
}

func TestHeadAndResourcesWithoutSlash(t *testing.T) {
	o := seededOrg(t)
	r := o.do("HEAD", "/query?q=SELECT+Id+FROM+Case", nil)
	if r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("Sforce-Limit-Info") == "" {
		t.Errorf("HEAD query: %d %q %v", r.status, r.body, r.header)
	}
	o.do("GET", "/services/data/v62.0", nil).ok(t, http.StatusOK, nil)
}

// TestConcurrentWrites runs writers in parallel (go test -race checks the locking) and checks
// that no id or CaseNumber is given twice.
func TestConcurrentWrites(t *testing.T) {
	o := newOrg(t, Options{DataFile: t.TempDir() + "/org.jsonl"})
	const writers, each = 8, 10
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				// Only Errorf here: FailNow must not be called outside the test's goroutine.
				if r := o.do("POST", "/sobjects/Case", map[string]any{"Subject": "parallel"}); r.status != http.StatusCreated {
					t.Errorf("create: %d %s", r.status, r.body)
				}
				if r := o.do("GET", "/query?q="+url.QueryEscape("SELECT Id, CaseNumber FROM Case"), nil); r.status != http.StatusOK {
					t.Errorf("query: %d %s", r.status, r.body)
				}
			}
		})
	}
	wg.Wait()
	res := o.query("SELECT Id, CaseNumber FROM Case")
	seen := map[any]bool{}
	for _, rec := range res.Records {
		if seen[rec["Id"]] || seen[rec["CaseNumber"]] {
			t.Errorf("repeated id or CaseNumber: %v", rec)
		}
		seen[rec["Id"]], seen[rec["CaseNumber"]] = true, true
	}
	if res.TotalSize != writers*each {
		t.Errorf("%d cases, want %d", res.TotalSize, writers*each)
	}
}
