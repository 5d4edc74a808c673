package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"casebot/bot"
	"casebot/connectors/salesforce"
	"casebot/connectors/salesforce/sandbox"
	"casebot/rules"
	"casebot/rules/playbooks"
)

// The credentials of the sandboxes these tests start.
const (
	sbClientID = "casebot-e2e"
	sbSecret   = "e2e-client-secret"
	sbUser     = "casebot@example.test"
	sbPassword = "e2e-password"
)

// sfOrg is a sandbox on 127.0.0.1 and a casebot Salesforce client of it. The client's
// backoff is recorded instead of slept, and its token requests' grants are logged.
type sfOrg struct {
	sb     *sandbox.Server
	client *salesforce.Client
	grants *grantLog

	mu     sync.Mutex
	sleeps []time.Duration
}

// startOrg starts a sandbox with opts and a password-grant client of it; edit adjusts the
// client's options.
func startOrg(t *testing.T, opts sandbox.Options, edit func(*salesforce.Options)) *sfOrg {
	t.Helper()
	opts.ClientID, opts.ClientSecret, opts.Username, opts.Password = sbClientID, sbSecret, sbUser, sbPassword
	sb, err := sandbox.Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("starting the sandbox: %v", err)
	}
	t.Cleanup(func() { sb.Close() })
	o := &sfOrg{sb: sb, grants: &grantLog{base: http.DefaultTransport}}
	o.newClient(t, edit)
	return o
}

// newClient makes o's client anew: a password-grant client of its sandbox that edit adjusts.
func (o *sfOrg) newClient(t *testing.T, edit func(*salesforce.Options)) {
	t.Helper()
	copts := salesforce.Options{
		LoginURL: o.sb.URL(), Grant: salesforce.GrantPassword,
		ClientID: sbClientID, ClientSecret: sbSecret, Username: sbUser, Password: sbPassword,
		HTTPClient: &http.Client{Transport: o.grants, Timeout: time.Minute},
		Sleep: func(ctx context.Context, d time.Duration) error {
			o.mu.Lock()
			defer o.mu.Unlock()
			o.sleeps = append(o.sleeps, d)
			return ctx.Err()
		},
	}
	if edit != nil {
		edit(&copts)
	}
	var err error
	if o.client, err = salesforce.New(copts); err != nil {
		t.Fatalf("salesforce.New: %v", err)
	}
}

// reset forgets the requests, sleeps and logins so far.
func (o *sfOrg) reset() {
	o.sb.ResetRequests()
	o.grants.reset()
	o.mu.Lock()
	o.sleeps = nil
	o.mu.Unlock()
}

func (o *sfOrg) slept() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.sleeps)
}

// dataCalls returns the data API requests the sandbox received, answered or faulted.
func (o *sfOrg) dataCalls() []sandbox.Request {
	var out []sandbox.Request
	for _, r := range o.sb.Requests() {
		if strings.HasPrefix(r.Path, "/services/data/") {
			out = append(out, r)
		}
	}
	return out
}

// callsTo counts the data calls whose method and path (after the API version) match.
func (o *sfOrg) callsTo(method, resource string) int {
	n := 0
	for _, r := range o.dataCalls() {
		_, rest, _ := strings.Cut(strings.TrimPrefix(r.Path, "/services/data/"), "/")
		if r.Method == method && (rest == resource || strings.HasPrefix(rest, resource+"/")) {
			n++
		}
	}
	return n
}

// grantLog is a transport that logs the grant_type of every token request.
type grantLog struct {
	base http.RoundTripper
	mu   sync.Mutex
	log  []string
}

func (g *grantLog) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/services/oauth2/token" && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		form, _ := url.ParseQuery(string(body))
		g.mu.Lock()
		g.log = append(g.log, form.Get("grant_type"))
		g.mu.Unlock()
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return g.base.RoundTrip(r)
}

func (g *grantLog) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.log = nil
}

func (g *grantLog) grants() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.log)
}

// taskRecords returns n new Tasks whose keys are prefix0, prefix1, ….
func taskRecords(prefix string, n int) []salesforce.Record {
	out := make([]salesforce.Record, n)
	for i := range out {
		out[i] = salesforce.Record{Object: "Task", Fields: map[string]any{
			"Subject": fmt.Sprintf("Task %d", i), bot.KeyField: fmt.Sprintf("%s%d", prefix, i),
		}}
	}
	return out
}

// query returns every record of soql, decoded.
func query(t *testing.T, c *salesforce.Client, soql string) []map[string]any {
	t.Helper()
	var out []map[string]any
	err := c.Query(t.Context(), soql, func(records []json.RawMessage) error {
		for _, raw := range records {
			var rec map[string]any
			if err := json.Unmarshal(raw, &rec); err != nil {
				return err
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("query %s: %v", soql, err)
	}
	return out
}

// tasksByKey reads the Tasks whose keys start with prefix, by key; it fails the test when a
// key is on more than one Task.
func tasksByKey(t *testing.T, c *salesforce.Client, prefix string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	soql := "SELECT Id, Subject, Status, " + bot.KeyField + " FROM Task WHERE " + bot.KeyField +
		" LIKE " + strings.TrimSuffix(salesforce.QuoteLike(prefix), "'") + "%'"
	for _, rec := range query(t, c, soql) {
		key, _ := rec[bot.KeyField].(string)
		if _, dup := out[key]; dup {
			t.Errorf("two Tasks have the key %s: a write was applied twice", key)
		}
		out[key] = rec
	}
	return out
}

// TestSandboxFaults runs the client's calls against each fault the sandbox gives and checks
// the client's documented answer to it end to end: what it retries, what it returns at once,
// when it logs in again, and what ends up in the org.
func TestSandboxFaults(t *testing.T) {
	const (
		opQuery         = "query"
		opCreate        = "create"
		opUpdate        = "update"
		opCreateRecords = "create records"
	)
	tests := []struct {
		name       string
		kind       sandbox.FaultKind
		n          int // calls injected with kind
		op         string
		wantCalls  int // data calls the op makes
		wantSleeps int
		wantLogins int
		wantCode   string // of the op's error; "" for success
		retryable  bool
	}{
		{"503 on a query", sandbox.FaultUnavailable, 2, opQuery, 3, 2, 0, "", false},
		{"503 on a create", sandbox.FaultUnavailable, 2, opCreate, 3, 2, 0, "", false},
		{"503 on a collection create", sandbox.FaultUnavailable, 2, opCreateRecords, 3, 2, 0, "", false},
		{"503 beyond the retries", sandbox.FaultUnavailable, 4, opQuery, 4, 3, 0, "SERVER_UNAVAILABLE", true},
		{"lock on an update", sandbox.FaultLockRow, 2, opUpdate, 3, 2, 0, "", false},
		{"lock on a create", sandbox.FaultLockRow, 1, opCreate, 2, 1, 0, "", false},
		{"lock on a record of a collection", sandbox.FaultLockRow, 2, opCreateRecords, 3, 2, 0, "", false},
		{"request limit on a query", sandbox.FaultRequestLimit, 1, opQuery, 1, 0, 0, "REQUEST_LIMIT_EXCEEDED", true},
		{"request limit on a collection", sandbox.FaultRequestLimit, 1, opCreateRecords, 1, 0, 0, "REQUEST_LIMIT_EXCEEDED", true},
		{"expired session on a query", sandbox.FaultExpireSession, 1, opQuery, 2, 0, 1, "", false},
		{"expired session on a collection", sandbox.FaultExpireSession, 1, opCreateRecords, 2, 0, 1, "", false},
		{"a session that expires twice in a row", sandbox.FaultExpireSession, 2, opUpdate, 3, 1, 2, "", false},
		{"a session that keeps expiring", sandbox.FaultExpireSession, 5, opUpdate, 5, 3, 4, "INVALID_SESSION_ID", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startOrg(t, sandbox.Options{}, nil)
			ctx := t.Context()
			setupID, err := o.client.Create(ctx, "Task", map[string]any{"Subject": "setup", bot.KeyField: "e2e/setup"})
			if err != nil {
				t.Fatalf("creating the setup task: %v", err)
			}
			o.reset()
			o.sb.Inject(tt.kind, tt.n)

			wantKeys := []string{"e2e/setup"}
			switch tt.op {
			case opQuery:
				err = o.client.Query(ctx, "SELECT Id FROM Task", func([]json.RawMessage) error { return nil })
			case opCreate:
				_, err = o.client.Create(ctx, "Task", map[string]any{"Subject": "new", bot.KeyField: "e2e/new"})
				wantKeys = append(wantKeys, "e2e/new")
			case opUpdate:
				err = o.client.Update(ctx, "Task", setupID, map[string]any{"Subject": "updated"})
			case opCreateRecords:
				var results []salesforce.Result
				results, err = o.client.CreateRecords(ctx, taskRecords("e2e/batch/", 5))
				for i, r := range results {
					if r.Err != nil || !salesforce.ValidID(r.ID) {
						t.Errorf("result %d = %+v, want a created record", i, r)
					}
				}
				for i := range 5 {
					wantKeys = append(wantKeys, fmt.Sprintf("e2e/batch/%d", i))
				}
			}

			calls := o.dataCalls()
			if len(calls) != tt.wantCalls {
				t.Errorf("%d data calls, want %d: %+v", len(calls), tt.wantCalls, calls)
			}
			for i, c := range calls[:min(tt.n, len(calls))] {
				if c.Fault != tt.kind {
					t.Errorf("call %d had fault %q, want %q", i, c.Fault, tt.kind)
				}
			}
			if n := o.slept(); n != tt.wantSleeps {
				t.Errorf("%d backoff sleeps, want %d", n, tt.wantSleeps)
			}
			if n := len(o.grants.grants()); n != tt.wantLogins {
				t.Errorf("%d logins during the call, want %d", n, tt.wantLogins)
			}
			if tt.wantCode != "" {
				var be *bot.Error
				if !errors.As(err, &be) || be.Code != tt.wantCode || bot.IsRetryable(err) != tt.retryable {
					t.Fatalf("error = %v, want %s, retryable %v", err, tt.wantCode, tt.retryable)
				}
				wantKeys = wantKeys[:1]
			} else if err != nil {
				t.Fatalf("%s: %v", tt.op, err)
			}

			// What the org holds: each write exactly once, and only when it succeeded.
			tasks := tasksByKey(t, o.client, "e2e/")
			got := slices.Sorted(maps.Keys(tasks))
			slices.Sort(wantKeys)
			if !slices.Equal(got, wantKeys) {
				t.Errorf("tasks in the org %v, want %v", got, wantKeys)
			}
			wantSubject := "setup"
			if tt.op == opUpdate && tt.wantCode == "" {
				wantSubject = "updated"
			}
			if tasks["e2e/setup"]["Subject"] != wantSubject {
				t.Errorf("setup task's Subject = %v, want %q", tasks["e2e/setup"]["Subject"], wantSubject)
			}
		})
	}
}

// TestSandboxLatency: a slow answer fails a call bounded by a context deadline with the
// context's error, without a retry, and is only slow for a call without one.
func TestSandboxLatency(t *testing.T) {
	const latency = 100 * time.Millisecond
	o := startOrg(t, sandbox.Options{Faults: sandbox.Faults{Latency: latency}}, nil)
	if _, err := o.client.Limits(t.Context()); err != nil { // logs in
		t.Fatalf("Limits: %v", err)
	}
	o.reset()

	o.sb.Inject(sandbox.FaultLatency, 1)
	ctx, cancel := context.WithTimeout(t.Context(), latency/10)
	defer cancel()
	_, err := o.client.Limits(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Limits within %v = %v, want a deadline error", latency/10, err)
	}
	if n := o.slept(); n != 0 {
		t.Errorf("%d sleeps, want no retry", n)
	}

	o.sb.Inject(sandbox.FaultLatency, 1)
	start := time.Now()
	limits, err := o.client.Limits(t.Context())
	if err != nil || limits["DailyApiRequests"].Max == 0 {
		t.Fatalf("Limits without a deadline = %v, %v; want the limits", limits, err)
	}
	if took := time.Since(start); took < latency {
		t.Errorf("the call took %v; the sandbox did not delay it by %v", took, latency)
	}
	// The sandbox logs the abandoned call as soon as it sees the client gone, well before the
	// second call has waited out its latency: both are in its log, delayed.
	calls := o.dataCalls()
	if len(calls) != 2 || o.slept() != 0 {
		t.Fatalf("%d calls and %d sleeps in all, want 2 calls and no retry: %+v", len(calls), o.slept(), calls)
	}
	if c := calls[0]; c.Fault != sandbox.FaultLatency || c.Status != 0 || c.APICall {
		t.Errorf("the abandoned call was logged as %+v, want a delayed call left unanswered and not counted", c)
	}
	if c := calls[1]; c.Fault != sandbox.FaultLatency || c.Status != http.StatusOK || !c.APICall {
		t.Errorf("the slow call was logged as %+v, want a delayed call answered and counted", c)
	}
}

// TestSandboxWorkloadUnderRandomFaults runs a realistic workload while a third of the calls
// get a 503 and a fifth of the writes a locked row: every write lands exactly once.
func TestSandboxWorkloadUnderRandomFaults(t *testing.T) {
	// 2,500 Tasks: more than one query page of 2,000, so that paging runs under faults too.
	const n = 2500
	o := startOrg(t, sandbox.Options{Faults: sandbox.Faults{
		Rates: map[sandbox.FaultKind]float64{sandbox.FaultUnavailable: 0.3, sandbox.FaultLockRow: 0.2},
		Seed:  20261121,
	}}, func(opts *salesforce.Options) { opts.MaxRetries = 10 })
	ctx := t.Context()

	created, err := o.client.CreateRecords(ctx, taskRecords("load/", n))
	if err != nil || len(created) != n {
		t.Fatalf("CreateRecords: %d results, %v", len(created), err)
	}
	ids := map[string]int{} // id → index
	for i, r := range created {
		if r.Err != nil {
			t.Fatalf("create %d: %v", i, r.Err)
		}
		ids[r.ID] = i
	}
	if len(ids) != n {
		t.Fatalf("%d distinct ids for %d creates", len(ids), n)
	}

	tasks := tasksByKey(t, o.client, "load/")
	if len(tasks) != n {
		t.Fatalf("query found %d tasks, want %d", len(tasks), n)
	}
	updates := make([]salesforce.Record, 0, n)
	for key, rec := range tasks {
		id := rec["Id"].(string)
		i, ok := ids[id]
		if !ok || key != fmt.Sprintf("load/%d", i) {
			t.Fatalf("task %s has key %s; the create of that key returned another id", id, key)
		}
		updates = append(updates, salesforce.Record{Object: "Task", ID: id, Fields: map[string]any{
			"Status": "Completed", "Subject": fmt.Sprintf("Done %d", i)}})
	}
	updated, err := o.client.UpdateRecords(ctx, updates)
	if err != nil || len(updated) != n {
		t.Fatalf("UpdateRecords: %d results, %v", len(updated), err)
	}
	for i, r := range updated {
		if r.Err != nil {
			t.Fatalf("update %d: %v", i, r.Err)
		}
	}

	faults := map[sandbox.FaultKind]int{}
	for _, c := range o.dataCalls() {
		faults[c.Fault]++
	}
	if faults[sandbox.FaultUnavailable] == 0 || faults[sandbox.FaultLockRow] == 0 {
		t.Fatalf("faults given %v; the workload did not run under both kinds", faults)
	}
	t.Logf("faults given: %v", faults)

	o.sb.SetFaults(sandbox.Faults{})
	final := tasksByKey(t, o.client, "load/")
	if len(final) != n {
		t.Fatalf("the org holds %d tasks, want %d", len(final), n)
	}
	for key, rec := range final {
		i := ids[rec["Id"].(string)]
		if rec["Status"] != "Completed" || rec["Subject"] != fmt.Sprintf("Done %d", i) || key != fmt.Sprintf("load/%d", i) {
			t.Fatalf("task %s = %v, want Completed, Done %d", key, rec, i)
		}
	}
}

// TestSandboxAPICost checks the API budget of DESIGN.md: a query costs one call per 2,000
// records, K writes ⌈K/200⌉ collection calls, and an idle cycle over N open cases ⌈N/2000⌉.
func TestSandboxAPICost(t *testing.T) {
	o := startOrg(t, sandbox.Options{}, nil)
	ctx := t.Context()
	crm := salesforce.NewCRM(o.client)

	writes := make([]bot.Write, 450)
	for i := range writes {
		writes[i] = bot.Write{Op: bot.OpCreate, Object: "Task", Fields: bot.Fields{
			"Subject": fmt.Sprintf("Task %d", i), bot.KeyField: fmt.Sprintf("cost/%d", i)}}
	}
	o.reset()
	results, err := crm.Apply(ctx, writes)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("write %d: %v", i, r.Err)
		}
		writes[i] = bot.Write{Op: bot.OpUpdate, Object: "Task", ID: r.ID, Fields: bot.Fields{"Status": "Completed"}}
	}
	if n, all := o.callsTo("POST", "composite/sobjects"), len(o.dataCalls()); n != 3 || all != 3 {
		t.Errorf("450 creates cost %d collection calls of %d calls, want 3 of 3", n, all)
	}
	o.reset()
	if _, err := crm.Apply(ctx, writes); err != nil {
		t.Fatalf("Apply updates: %v", err)
	}
	if n, all := o.callsTo("PATCH", "composite/sobjects"), len(o.dataCalls()); n != 3 || all != 3 {
		t.Errorf("450 updates cost %d collection calls of %d calls, want 3 of 3", n, all)
	}

	// 4,500 Tasks in all: ⌈4500/2000⌉ = 3 query calls.
	if _, err := o.client.CreateRecords(ctx, taskRecords("cost/more/", 4050)); err != nil {
		t.Fatalf("CreateRecords: %v", err)
	}
	o.reset()
	if got := len(query(t, o.client, "SELECT Id FROM Task")); got != 4500 {
		t.Fatalf("query returned %d tasks, want 4500", got)
	}
	if n := len(o.dataCalls()); n != 3 || o.callsTo("GET", "query") != 3 {
		t.Errorf("a query of 4,500 records cost %d calls, want 3", n)
	}

	// The idle cycle: N open termination cases, none due, cost ⌈N/2000⌉ calls, with their
	// accounts and bot tasks.
	q := bot.CaseQuery{Object: "Case", Where: "Type = 'Termination' AND IsClosed = false",
		Fields:        []string{"CaseNumber", "Status", "Termination_Confirmed__c", "Deprovision_Date__c", "Termination_Hold__c"},
		AccountFields: []string{"Name", "Customer_Attrition__c", "Time_Zone__c"}}
	for _, tc := range []struct{ total, wantCalls int }{{1999, 1}, {2000, 1}, {2001, 2}} {
		have := countCases(t, o.client)
		cases := make([]salesforce.Record, tc.total-have)
		for i := range cases {
			cases[i] = salesforce.Record{Object: "Case", Fields: map[string]any{
				"Type": "Termination", "Status": "New", "Subject": fmt.Sprintf("Termination %d", have+i)}}
		}
		if _, err := o.client.CreateRecords(ctx, cases); err != nil {
			t.Fatalf("creating cases: %v", err)
		}
		o.reset()
		got, err := crm.Cases(ctx, q)
		if err != nil {
			t.Fatalf("Cases: %v", err)
		}
		if len(got) != tc.total || len(o.dataCalls()) != tc.wantCalls {
			t.Errorf("%d open cases cost %d calls and returned %d, want %d calls", tc.total, len(o.dataCalls()), len(got), tc.wantCalls)
		}
	}
}

func countCases(t *testing.T, c *salesforce.Client) int {
	t.Helper()
	return len(query(t, c, "SELECT Id FROM Case WHERE Type = 'Termination'"))
}

// sopQuery is the query of the shipped termination SOP playbook.
func sopQuery(t *testing.T) bot.CaseQuery {
	t.Helper()
	pbs, err := rules.Load(playbooks.FS, rules.Options{})
	if err != nil {
		t.Fatalf("loading the shipped playbooks: %v", err)
	}
	for _, pb := range pbs {
		if pb.Name == "termination-sop" {
			return pb.Query
		}
	}
	t.Fatal("no termination-sop playbook is shipped")
	return bot.CaseQuery{}
}

// TestSandboxCRMCases reads the seeded org's termination cases through the CRM adapter, with
// the SOP playbook's query, in one call: fields, accounts and bot tasks decoded.
func TestSandboxCRMCases(t *testing.T) {
	now := time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC) // 08:00 in New York: day 0 is Nov 2 everywhere seeded
	o := startOrg(t, sandbox.Options{Seed: true, Now: func() time.Time { return now }}, nil)
	ctx := t.Context()
	crm := salesforce.NewCRM(o.client)
	q := sopQuery(t)

	cases, err := crm.Cases(ctx, q)
	if err != nil {
		t.Fatalf("Cases: %v", err)
	}
	bySubject := map[string]bot.Case{}
	for _, c := range cases {
		bySubject[c.Fields["Subject"].(string)] = c
	}
	want := []string{"Termination: Acme Corp", "Termination: Globex GmbH", "Termination: Initech KK"}
	if got := slices.Sorted(maps.Keys(bySubject)); !slices.Equal(got, want) {
		t.Fatalf("open termination cases %v, want %v (Umbrella's is closed)", got, want)
	}
	acme := bySubject["Termination: Acme Corp"]

	// Bot tasks on Acme's case, and a person's task without a key that casebot must not see.
	due := now.AddDate(0, 0, 3).Format(bot.DateLayout)
	res, err := crm.Apply(ctx, []bot.Write{
		{Op: bot.OpCreate, Object: "Task", Fields: bot.Fields{"WhatId": acme.ID, "Subject": "Revoke access", bot.KeyField: "termination-sop/offboard/0/" + acme.ID + "/revoke", "ActivityDate": due}},
		{Op: bot.OpCreate, Object: "Task", Fields: bot.Fields{"WhatId": acme.ID, "Subject": "Final invoice", bot.KeyField: "termination-sop/offboard/0/" + acme.ID + "/invoice", "Status": "Completed"}},
		{Op: bot.OpCreate, Object: "Task", Fields: bot.Fields{"WhatId": acme.ID, "Subject": "Call Jane"}},
	})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("write %d: %v", i, r.Err)
		}
	}

	o.reset()
	if cases, err = crm.Cases(ctx, q); err != nil {
		t.Fatalf("Cases: %v", err)
	}
	if n := len(o.dataCalls()); n != 1 {
		t.Errorf("Cases cost %d calls, want 1", n)
	}
	for _, c := range cases {
		bySubject[c.Fields["Subject"].(string)] = c
	}
	acme, globex, initech := bySubject[want[0]], bySubject[want[1]], bySubject[want[2]]

	if acme.Account == nil || globex.Account == nil {
		t.Fatalf("cases without their accounts: %+v, %+v", acme, globex)
	}
	for _, tc := range []struct {
		c              bot.Case
		name, zone     string
		attrition      bool
		confirmed      any
		deprovisionUTC time.Time
	}{
		{acme, "Acme Corp", "America/New_York", false, "2026-11-02", time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC)},
		{globex, "Globex GmbH", "Europe/Berlin", true, "2026-11-02", time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)},
		{initech, "Initech KK", "Asia/Tokyo", false, nil, time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)},
	} {
		a := tc.c.Account.Fields
		if a["Name"] != tc.name || a["Time_Zone__c"] != tc.zone || a["Customer_Attrition__c"] != tc.attrition || a["Type"] == nil {
			t.Errorf("%s's account fields = %v", tc.name, a)
		}
		f := tc.c.Fields
		if f["Status"] != "New" || f["Termination_Confirmed__c"] != tc.confirmed || f["Termination_Hold__c"] != false || f["CaseNumber"] == "" {
			t.Errorf("%s's case fields = %v", tc.name, f)
		}
		deprovision, err := salesforce.ParseDateTime(fmt.Sprint(f["Deprovision_Date__c"]))
		if err != nil || !deprovision.Equal(tc.deprovisionUTC) {
			t.Errorf("%s's Deprovision_Date__c = %v (%v), want %v", tc.name, f["Deprovision_Date__c"], err, tc.deprovisionUTC)
		}
		if _, err := salesforce.ParseDateTime(fmt.Sprint(f["CreatedDate"])); err != nil {
			t.Errorf("%s's CreatedDate: %v", tc.name, err)
		}
		if !salesforce.ValidID(tc.c.ID) || !salesforce.ValidID(tc.c.Account.ID) || len(tc.c.ID) != 18 {
			t.Errorf("%s's ids %q, %q", tc.name, tc.c.ID, tc.c.Account.ID)
		}
	}
	wantTasks := []bot.Task{
		{ID: res[1].ID, Key: "termination-sop/offboard/0/" + acme.ID + "/invoice", Subject: "Final invoice", Status: "Completed", IsClosed: true},
		{ID: res[0].ID, Key: "termination-sop/offboard/0/" + acme.ID + "/revoke", Subject: "Revoke access", Status: "Not Started", ActivityDate: due},
	}
	if !slices.Equal(acme.Tasks, wantTasks) {
		t.Errorf("Acme's bot tasks = %+v\nwant %+v", acme.Tasks, wantTasks)
	}
	if len(globex.Tasks) != 0 || len(initech.Tasks) != 0 {
		t.Errorf("tasks on cases that have none: %+v, %+v", globex.Tasks, initech.Tasks)
	}
}

// newCertificate returns an RSA key (PEM, PKCS #8) and a self-signed certificate (PEM) for
// it, as an admin makes for a connected app.
func newCertificate(t *testing.T) (keyPEM, certPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "casebot"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestSandboxJWTBearer logs in with the JWT bearer grant: an assertion signed with the key of
// the certificate the sandbox's connected app holds works, one signed with another key not.
func TestSandboxJWTBearer(t *testing.T) {
	keyPEM, certPEM := newCertificate(t)
	otherKey, _ := newCertificate(t)
	for _, tc := range []struct {
		name string
		key  []byte
		ok   bool
	}{{"the certificate's key", keyPEM, true}, {"another key", otherKey, false}} {
		t.Run(tc.name, func(t *testing.T) {
			o := startOrg(t, sandbox.Options{JWTCertificate: certPEM}, func(opts *salesforce.Options) {
				opts.Grant, opts.ClientSecret, opts.Password, opts.PrivateKey = salesforce.GrantJWTBearer, "", "", tc.key
			})
			_, err := o.client.Limits(t.Context())
			if got := o.grants.grants(); !slices.Equal(got, []string{"urn:ietf:params:oauth:grant-type:jwt-bearer"}) {
				t.Errorf("token requests %v, want one JWT bearer grant", got)
			}
			if tc.ok {
				if err != nil {
					t.Fatalf("Limits: %v", err)
				}
				return
			}
			var ae *salesforce.APIError
			if !errors.As(err, &ae) || ae.Code != "invalid_grant" || bot.IsRetryable(err) {
				t.Fatalf("error = %v, want a permanent invalid_grant", err)
			}
			if n := len(o.dataCalls()); n != 0 {
				t.Errorf("%d data calls without a session", n)
			}
		})
	}
}

// passwordRefreshToken logs in to o's sandbox with the password grant, as a user's earlier
// authorization did, and returns the refresh token it was given.
func passwordRefreshToken(t *testing.T, o *sfOrg) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "client_id": {sbClientID}, "client_secret": {sbSecret},
		"username": {sbUser}, "password": {sbPassword}}
	resp, err := http.PostForm(o.sb.URL()+"/services/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.RefreshToken == "" {
		t.Fatalf("password login: HTTP %d, %v, refresh token %q", resp.StatusCode, err, tok.RefreshToken)
	}
	return tok.RefreshToken
}

// TestSandboxRefreshAfterExpiry: when the session expires, a client whose login came with a
// refresh token refreshes it instead of logging in with its credentials, once; one given a
// refresh token up front logs in and renews with it.
func TestSandboxRefreshAfterExpiry(t *testing.T) {
	const refresh = "refresh_token"
	tests := []struct {
		name        string
		upFront     bool // the client's grant is the refresh token
		wantInitial []string
	}{
		{"a password login's refresh token", false, []string{"password"}},
		{"the refresh token grant", true, []string{refresh}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startOrg(t, sandbox.Options{RefreshTokens: true}, nil)
			if tt.upFront {
				rt := passwordRefreshToken(t, o)
				o.newClient(t, func(opts *salesforce.Options) {
					opts.Grant, opts.Username, opts.Password, opts.RefreshToken = salesforce.GrantRefreshToken, "", "", rt
				})
			}
			ctx := t.Context()
			if _, err := o.client.Limits(ctx); err != nil {
				t.Fatalf("Limits: %v", err)
			}
			if got := o.grants.grants(); !slices.Equal(got, tt.wantInitial) {
				t.Fatalf("first login's grants %v, want %v", got, tt.wantInitial)
			}
			o.reset()
			o.sb.Inject(sandbox.FaultExpireSession, 1)
			if _, err := o.client.Limits(ctx); err != nil {
				t.Fatalf("Limits after the session expired: %v", err)
			}
			if got := o.grants.grants(); !slices.Equal(got, []string{refresh}) {
				t.Errorf("grants after expiry %v, want one refresh", got)
			}
			calls := o.dataCalls()
			if len(calls) != 2 || calls[0].Status != http.StatusUnauthorized || calls[1].Status != http.StatusOK {
				t.Errorf("calls = %+v, want a 401 and its one repeat", calls)
			}
		})
	}
}

// TestSandboxComposite creates an account, its contact and a case for both in one call whose
// subrequests refer to each other; with allOrNone, one failure leaves nothing behind.
func TestSandboxComposite(t *testing.T) {
	o := startOrg(t, sandbox.Options{}, nil)
	ctx := t.Context()
	if _, err := o.client.Limits(ctx); err != nil {
		t.Fatal(err)
	}
	o.reset()
	resps, err := o.client.Composite(ctx, true, []salesforce.CompositeRequest{
		{Method: "POST", URL: "/sobjects/Account", ReferenceID: "NewAccount", Body: map[string]any{"Name": "Composite Co", "Time_Zone__c": "Europe/Paris"}},
		{Method: "POST", URL: "/sobjects/Contact", ReferenceID: "NewContact", Body: map[string]any{"LastName": "Martin", "AccountId": "@{NewAccount.id}"}},
		{Method: "POST", URL: "/sobjects/Case", ReferenceID: "NewCase", Body: map[string]any{
			"Subject": "Termination: Composite Co", "Type": "Termination", "AccountId": "@{NewAccount.id}", "ContactId": "@{NewContact.id}"}},
		{Method: "GET", URL: "/sobjects/Case/@{NewCase.id}?fields=AccountId,ContactId,CaseNumber", ReferenceID: "ReadCase"},
	})
	if err != nil {
		t.Fatalf("Composite: %v", err)
	}
	if n := len(o.dataCalls()); n != 1 {
		t.Errorf("composite cost %d calls, want 1", n)
	}
	ids := map[string]string{}
	for i, r := range resps {
		if r.Err != nil {
			t.Fatalf("subrequest %d (%s): %v", i, r.ReferenceID, r.Err)
		}
		var body map[string]any
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("subrequest %s body: %v", r.ReferenceID, err)
		}
		if id, _ := body["id"].(string); id != "" {
			ids[r.ReferenceID] = id
		}
		if r.ReferenceID == "ReadCase" {
			if r.Status != http.StatusOK || body["AccountId"] != ids["NewAccount"] || body["ContactId"] != ids["NewContact"] || body["CaseNumber"] == nil {
				t.Errorf("the case read back = %v, want it linked to %v", body, ids)
			}
		} else if r.Status != http.StatusCreated {
			t.Errorf("subrequest %s: HTTP %d, want 201", r.ReferenceID, r.Status)
		}
	}

	resps, err = o.client.Composite(ctx, true, []salesforce.CompositeRequest{
		{Method: "POST", URL: "/sobjects/Account", ReferenceID: "Kept", Body: map[string]any{"Name": "Rolled Back Co"}},
		{Method: "POST", URL: "/sobjects/Contact", ReferenceID: "NoName", Body: map[string]any{"AccountId": "@{Kept.id}"}},
		{Method: "PATCH", URL: "/sobjects/Account/@{Kept.id}", ReferenceID: "Never", Body: map[string]any{"Type": "Prospect"}},
	})
	if err != nil {
		t.Fatalf("Composite: %v", err)
	}
	for i, want := range []string{"PROCESSING_HALTED", "REQUIRED_FIELD_MISSING", "PROCESSING_HALTED"} {
		var ae *salesforce.APIError
		if !errors.As(resps[i].Err, &ae) || ae.Code != want {
			t.Errorf("subrequest %s: %v, want %s", resps[i].ReferenceID, resps[i].Err, want)
		}
	}
	if got := query(t, o.client, "SELECT Id FROM Account WHERE Name = 'Rolled Back Co'"); len(got) != 0 {
		t.Errorf("the rolled-back account exists: %v", got)
	}
}
