package engine

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"casebot/bot"
	"casebot/rules"
	"casebot/templates"
)

const actionsCase = "500000000000002AAA"

// newActions returns an engine running testdata/actions over one case, with a mailer and an
// endpoint caller, and its own small templates.
func newActions(t *testing.T, clock *time.Time) (*Engine, *fakeCRM, *memStore, *fakeChat, *fakeMailer, *fakeCaller) {
	t.Helper()
	pbs, err := rules.Load(os.DirFS("testdata/actions"), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := templates.Load(fstest.MapFS{
		"slack/waiting.tmpl":     {Data: []byte(`Still waiting on {{.CaseRef}} for {{.Gate}}`)},
		"slack/missed-step.tmpl": {Data: []byte(`Missed {{.StepTitle}}`)},
		"email/notice.tmpl":      {Data: []byte("Subject: Termination of {{.Account \"Name\"}}\n\nYour contract ends.\n")},
		"comment/record.tmpl":    {Data: []byte(`Notice sent for tenant {{.Account "Tenant_Id__c"}}, rendered {{.Now}}.`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	crm := &fakeCRM{fail: map[string]error{},
		queues: map[string]string{"Infrastructure Engineering Provisioning": "00G000000000001AAA"},
		cases: []*bot.Case{{
			ID: actionsCase,
			Fields: bot.Fields{"CaseNumber": "00001002", "Subject": "Termination: Globex", "Status": "New",
				"SuppliedEmail": "it@globex.example", "Termination_Confirmed__c": "2026-11-02",
				"Tenant_GUIDs__c": nil, "Legal_Approved__c": false},
			Account: &bot.Account{ID: "001000000000002AAA", Fields: bot.Fields{
				"Name": "Globex", "Time_Zone__c": "Europe/Berlin", "Tenant_Id__c": "globex/eu 1",
				"Owner.Email": "owner@globex.example; deputy@globex.example"}}, // as the CRM keeps a path
		}}}
	store, chat := newMemStore(), &fakeChat{fail: map[string]error{}}
	mailer := &fakeMailer{}
	caller := &fakeCaller{resp: map[string]any{"tenant": map[string]any{"guids": []any{"g-1", "g-2"}}}}
	eng, err := New(Options{CRM: crm, Store: store, Chat: chat, Mailer: mailer, Caller: caller,
		Playbooks: pbs, Templates: tmpl, Now: func() time.Time { return *clock },
		MessageIDDomain: "bot.example.test",
		Roles: map[string]Role{
			"account_team":   {Emails: []string{"ae@example.test"}, Field: "Account.Owner.Email"},
			"legal":          {Emails: []string{"legal@example.test"}, Channel: "#legal"},
			"infrastructure": {Queue: "Infrastructure Engineering Provisioning"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	return eng, crm, store, chat, mailer, caller
}

func actionKey(step string, action int) string {
	return bot.EffectKey("actions", step, action, actionsCase)
}

// One cycle on day 1 mails the customer and the account team (logged on the case), records a
// comment, gives the case to the infrastructure queue, calls the provisioning endpoint and
// stores the GUIDs it answered.
func TestEmailCommentQueueAndHTTP(t *testing.T) {
	now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC) // 10:00 in Berlin, day 1
	eng, crm, store, _, mailer, caller := newActions(t, &now)
	rep := cycle(t, eng)
	if rep.Done != 5 || rep.Failed != 0 {
		t.Fatalf("report %+v, want 5 effects done", rep)
	}
	// The role's field is read in the playbook's own query.
	if q := crm.lastQuery; !slices.Contains(q.AccountFields, "Owner.Email") {
		t.Errorf("query %+v does not read the account_team role's field", q)
	}
	// The step gated on done('notify') ran in the same cycle, in a second pass.
	if crm.cases[0].Fields["Status"] != "Working" || crm.queries != 3 {
		t.Errorf("status %v after %d queries: want the gated step done in the same cycle (3 passes)", crm.cases[0].Fields["Status"], crm.queries)
	}

	if len(mailer.mails) != 1 {
		t.Fatalf("%d mails sent, want 1", len(mailer.mails))
	}
	m := mailer.mails[0]
	wantID := bot.MessageID(actionKey("notify", 1), "bot.example.test")
	if !slices.Equal(m.To, []string{"ae@example.test", "owner@globex.example", "deputy@globex.example", "it@globex.example"}) || !slices.Equal(m.Cc, []string{"legal@example.test"}) ||
		m.Subject != "Termination of Globex" || m.Text != "Your contract ends." || m.MessageID != wantID {
		t.Errorf("mail %+v", m)
	}
	if !strings.HasPrefix(wantID, "<casebot.") || !strings.HasSuffix(wantID, "@bot.example.test>") || wantID != bot.MessageID(actionKey("notify", 1), "bot.example.test") {
		t.Errorf("Message-ID %q is not derived from the key", wantID)
	}

	byObject := map[string]bot.Fields{}
	for _, w := range crm.created {
		byObject[w.Object] = w.Fields
	}
	logged := byObject["EmailMessage"]
	if logged["ParentId"] != actionsCase || logged["MessageIdentifier"] != wantID || logged["Status"] != "3" ||
		logged["ToAddress"] != "ae@example.test; owner@globex.example; deputy@globex.example; it@globex.example" || logged["FromAddress"] != "casebot@example.test" {
		t.Errorf("logged EmailMessage %v", logged)
	}
	if c := byObject["CaseComment"]; c["ParentId"] != actionsCase || c["CommentBody"] != "Notice sent for tenant globex/eu 1, rendered Tue 3 Nov 2026 10:00 CET.\n\n["+bot.CommentMarker(actionKey("notify", 2))+"]" || c["IsPublished"] != false {
		t.Errorf("comment %v", c)
	}
	fields := crm.cases[0].Fields
	if fields["OwnerId"] != "00G000000000001AAA" {
		t.Errorf("OwnerId = %v, want the infrastructure queue", fields["OwnerId"])
	}
	if fields["Tenant_GUIDs__c"] != "g-1, g-2" {
		t.Errorf("Tenant_GUIDs__c = %v, want the GUIDs the endpoint answered", fields["Tenant_GUIDs__c"])
	}
	if want := []string{actionKey("notify", 4) + " POST provisioning/tenants/globex%2Feu%201/deactivate"}; !slices.Equal(caller.calls, want) {
		t.Errorf("calls %q, want %q", caller.calls, want)
	}
	if e := store.get(actionKey("notify", 1)); e.State != bot.StateDone || !strings.Contains(e.Result, "sent="+wantID) {
		t.Errorf("mail ledger entry %+v", e)
	}

	// Nothing again at the same time.
	mails, created := len(mailer.mails), len(crm.created)
	if rep := cycle(t, eng); rep.Done != 0 || len(mailer.mails) != mails || len(crm.created) != created || len(caller.calls) != 1 {
		t.Errorf("second cycle: %+v, %d mails, %d records, %d calls", rep, len(mailer.mails)-mails, len(crm.created)-created, len(caller.calls))
	}
}

// A mail that went out but could not be logged on the case is logged on retry, not sent again.
func TestMailSentButNotLoggedIsNotSentAgain(t *testing.T) {
	now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	eng, crm, store, _, mailer, _ := newActions(t, &now)
	crm.fail["EmailMessage/"] = &bot.Error{Op: "create", Code: "UNABLE_TO_LOCK_ROW", Retryable: true}
	cycle(t, eng)
	e := store.get(actionKey("notify", 1))
	if e.State != bot.StateFailed || !e.Retryable || !strings.Contains(e.Result, "sent=") || len(mailer.mails) != 1 {
		t.Fatalf("after a failed log: %+v, %d mails", e, len(mailer.mails))
	}
	now = e.RetryAt
	cycle(t, eng)
	if e := store.get(actionKey("notify", 1)); e.State != bot.StateDone || len(mailer.mails) != 1 {
		t.Errorf("after the retry: %+v, %d mails sent in all, want 1", e, len(mailer.mails))
	}
	logs := 0
	for _, w := range crm.created {
		if w.Object == "EmailMessage" {
			logs++
		}
	}
	if logs != 1 {
		t.Errorf("%d EmailMessages logged, want 1", logs)
	}
}

// A retry of a mail sent but not logged that fails before it gets anywhere (Salesforce cannot
// be asked whether the mail was logged) keeps the mark that the mail went out: the attempt
// after it logs the mail and does not send it again. Found by make chaos.
func TestFailedRetryKeepsTheMailSent(t *testing.T) {
	now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	eng, crm, store, _, mailer, _ := newActions(t, &now)
	crm.fail["EmailMessage/"] = &bot.Error{Op: "create", Code: "REQUEST_LIMIT_EXCEEDED", Retryable: true}
	cycle(t, eng)
	delete(crm.fail, "EmailMessage/")
	crm.findErr = &bot.Error{Op: "find", Code: "SERVER_UNAVAILABLE", Retryable: true}
	now = store.get(actionKey("notify", 1)).RetryAt
	cycle(t, eng)
	if e := store.get(actionKey("notify", 1)); e.State != bot.StateFailed || !strings.Contains(e.Result, "sent=") {
		t.Fatalf("after a retry that could not look: %+v, want failed and still marked sent", e)
	}
	crm.findErr = nil
	now = store.get(actionKey("notify", 1)).RetryAt
	cycle(t, eng)
	if e := store.get(actionKey("notify", 1)); e.State != bot.StateDone || len(mailer.mails) != 1 {
		t.Errorf("after the third attempt: %+v, %d mails sent in all, want 1", e, len(mailer.mails))
	}
}

// A relay that is down fails the mail retryably, and the actions after it in the step wait.
func TestMailFailureHoldsTheStep(t *testing.T) {
	now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	eng, crm, store, _, mailer, caller := newActions(t, &now)
	mailer.fail = &bot.Error{Op: "send", Code: "421", Retryable: true}
	rep := cycle(t, eng)
	if rep.Failed != 1 || rep.Done != 0 {
		t.Fatalf("report %+v, want the mail failed and nothing after it", rep)
	}
	if e := store.get(actionKey("notify", 1)); !e.Retryable || !errors.Is(nil, nil) || !strings.Contains(e.Detail, "sending mail") {
		t.Errorf("entry %+v", e)
	}
	if len(crm.created) != 0 || len(caller.calls) != 0 || crm.cases[0].Fields["OwnerId"] != nil {
		t.Errorf("later actions ran: %v, %v", crm.created, caller.calls)
	}
}

// A gate that stays closed reminds its roles every day, once per day however long casebot
// was away; when it opens the case is closed.
func TestGateRemindersAndClose(t *testing.T) {
	now := time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC) // day 2: the gate is due and closed
	eng, crm, _, chat, _, _ := newActions(t, &now)
	cycle(t, eng)
	if got := chat.channels("/approval/remind"); len(got) != 0 {
		t.Errorf("reminded on the day the gate came due: %v", got)
	}
	now = now.Add(24 * time.Hour)
	cycle(t, eng)
	if got := chat.channels("/approval/remind-1/"); !slices.Equal(got, []string{"#legal"}) {
		t.Errorf("first reminder went to %v", got)
	}
	if p := chat.posts[len(chat.posts)-1]; p.Text != "Still waiting on 00001002 for Legal Approved is not checked" {
		t.Errorf("reminder %q does not say what the gate waits for", p.Text)
	}
	now = now.Add(5 * 24 * time.Hour) // away for five days: one reminder, not five
	before := len(chat.posts)
	cycle(t, eng)
	if len(chat.posts) != before+1 {
		t.Errorf("%d reminders after five days away, want 1", len(chat.posts)-before)
	}

	crm.cases[0].Fields["Legal_Approved__c"] = true
	cycle(t, eng)
	if crm.cases[0].Fields["Status"] != "Closed" {
		t.Errorf("status %v, want Closed once the gate opened", crm.cases[0].Fields["Status"])
	}
}

func TestLookupPath(t *testing.T) {
	resp := map[string]any{
		"id": "t-1", "count": 3.0, "ok": true, "none": nil,
		"tenant": map[string]any{"guids": []any{"g-1", "g-2"}, "owner": map[string]any{"name": "x"}},
		"items":  []any{map[string]any{"id": "a"}, map[string]any{"id": "b"}},
	}
	for _, tc := range []struct {
		path string
		want any
		ok   bool
	}{
		{"id", "t-1", true},
		{"count", 3.0, true},
		{"ok", true, true},
		{"none", nil, true},
		{"tenant.guids", "g-1, g-2", true},
		{"tenant.owner", `{"name":"x"}`, true},
		{"items.1.id", "b", true},
		{"items", `[{"id":"a"},{"id":"b"}]`, true},
		{"items.2.id", nil, false},
		{"items.x", nil, false},
		{"id.more", nil, false},
		{"missing", nil, false},
	} {
		got, ok := lookupPath(resp, tc.path)
		if ok != tc.ok || got != tc.want {
			t.Errorf("lookupPath(%q) = %v, %v; want %v, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRoleFields(t *testing.T) {
	c := &bot.Case{ID: actionsCase,
		Fields: bot.Fields{"Account_Manager__c": "005000000000042AAA", "Empty__c": nil, "Spaced__c": "a@x.example; ;b@x.example;"},
		Account: &bot.Account{ID: "001000000000002AAA", Fields: bot.Fields{
			"Owner.Email": "owner@globex.example", "Owner.Manager.Email": "boss@globex.example"}},
	}
	for _, tc := range []struct {
		path string
		want any
	}{
		{"Case.Account_Manager__c", "005000000000042AAA"},
		{"Account.Owner.Email", "owner@globex.example"},
		{"Account.Owner.Manager.Email", "boss@globex.example"},
		{"Case.Empty__c", nil},
		{"Account.Missing.Email", nil},
		{"Account.Owner", nil},
	} {
		if got := fieldValue(c, tc.path); got != tc.want {
			t.Errorf("fieldValue(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	if got := fieldValue(&bot.Case{}, "Account.Owner.Email"); got != nil {
		t.Errorf("a case without an account: %v", got)
	}
	if u := roleUser(Role{Field: "Case.Account_Manager__c"}, c); u != "005000000000042AAA" {
		t.Errorf("task owner from the role's field = %q", u)
	}
	if u := roleUser(Role{User: "ae@example.test", Field: "Case.Account_Manager__c"}, c); u != "ae@example.test" {
		t.Errorf("a configured user wins over the field: %q", u)
	}
	e := &Engine{opts: Options{Roles: map[string]Role{"team": {Field: "Account.Owner.Email"},
		"gone": {Field: "Case.Empty__c"}, "other": {Field: "Case.Elsewhere__c"}}}}
	p, err := rules.Parse("roles.yaml", []byte(`playbook: roles
applies_to: {object: Case, where: "Type = 'X'"}
fields:
  Case: {Status: string, D__c: date}
  Account: {Name: string}
dates: {d: Case.D__c}
steps:
  - id: one
    at: d
    do:
      - email: {to: [team], cc: [gone], template: t}
`), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The fields of the roles this playbook names, not of every role ("other").
	q := e.withRoleFields(p)
	if !slices.Equal(q.Fields, []string{"D__c", "Status", "Empty__c"}) || !slices.Equal(q.AccountFields, []string{"Name", "Owner.Email"}) {
		t.Errorf("query with role fields: %+v", q)
	}
	if _, err := e.addresses("k", []string{"gone"}, c); err == nil || !strings.Contains(err.Error(), "Case.Empty__c is empty on the case") {
		t.Errorf("a role whose field is empty: %v", err)
	}
	e.opts.Roles["spaced"] = Role{Field: "Case.Spaced__c"}
	if got, err := e.addresses("k", []string{"spaced"}, c); err != nil || !slices.Equal(got, []string{"a@x.example", "b@x.example"}) {
		t.Errorf("addresses with empty parts: %q, %v", got, err)
	}
}

// A From with a display name is logged as Salesforce takes it: the address in FromAddress,
// the name in FromName.
func TestLoggedMailFromWithAName(t *testing.T) {
	now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	eng, crm, _, _, mailer, _ := newActions(t, &now)
	mailer.from = "casebot <casebot@example.test>"
	cycle(t, eng)
	for _, w := range crm.created {
		if w.Object == "EmailMessage" && (w.Fields["FromAddress"] != "casebot@example.test" || w.Fields["FromName"] != "casebot") {
			t.Errorf("logged mail from %q named %q", w.Fields["FromAddress"], w.Fields["FromName"])
		}
	}
}
