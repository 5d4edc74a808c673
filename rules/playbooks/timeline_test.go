package playbooks_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"casebot/bot"
	"casebot/rules"
)

// event is what people do on a case at a time: set fields, close the tasks a step created.
type event struct {
	at        string // RFC 3339
	caseSet   bot.Fields
	account   bot.Fields
	closeStep string // close every task this step created
}

type timeline struct {
	name, playbook string
	start, end     string // RFC 3339
	caseFields     bot.Fields
	accountFields  bot.Fields
	events         []event
	http           map[string]any    // response path → value, for http actions that store
	wantRan        []string          // steps whose actions ran, in the order they first ran
	wantSkipped    []string          // steps recorded as skipped, sorted
	wantReminded   []string          // steps that sent a reminder or an escalation, sorted
	wantAt         map[string]string // step → when its first action ran (RFC 3339)
	wantCase       bot.Fields        // case fields at the end
	wantAccount    bot.Fields        // account fields at the end
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// walk runs a case through a playbook like the engine does, one cycle at each time something
// can happen, until the case is closed or the timeline ends: every due effect is applied to the
// case as Salesforce would (fields, status, tasks, values stored from an http call) and recorded
// in the ledger; mails, Slack and comments only go to the ledger.
func walk(t *testing.T, p *rules.Playbook, tl timeline) (c bot.Case, ran, skipped, reminded []string, at map[string]time.Time) {
	t.Helper()
	c = bot.Case{ID: "500000000000001AAA", Fields: maps.Clone(tl.caseFields), Account: &bot.Account{ID: "001000000000001AAA", Fields: maps.Clone(tl.accountFields)}}
	// The query returns every declared field; a checkbox is never null in Salesforce.
	for ref, typ := range p.Fields {
		f := c.Fields
		if ref.Object == rules.ObjectAccount {
			f = c.Account.Fields
		}
		if _, ok := f[ref.Name]; !ok {
			f[ref.Name] = nil
			if typ == rules.TypeBool {
				f[ref.Name] = false
			}
		}
	}
	ledger, at := bot.Ledger{}, map[string]time.Time{}
	now, end := mustTime(t, tl.start), mustTime(t, tl.end)
	events := slices.Clone(tl.events)
	for cycles := 0; now.Before(end) && c.Fields["Status"] != "Closed"; cycles++ {
		if cycles > 5000 {
			t.Fatal("the timeline does not end")
		}
		for len(events) > 0 && !mustTime(t, events[0].at).After(now) {
			e := events[0]
			events = events[1:]
			maps.Copy(c.Fields, e.caseSet)
			maps.Copy(c.Account.Fields, e.account)
			for i, task := range c.Tasks {
				if e.closeStep != "" && bot.CaseOfKey(task.Key) == c.ID && stepOfKey(task.Key) == e.closeStep {
					c.Tasks[i].IsClosed, c.Tasks[i].Status = true, "Completed"
				}
			}
		}
		res := p.Evaluate(c, ledger, now)
		for _, r := range res.Records {
			ledger[r.Key] = r
			if r.State == bot.StateSkipped && !slices.Contains(skipped, r.Step) {
				skipped = append(skipped, r.Step)
			}
		}
		for _, eff := range res.Due {
			apply(t, &c, eff, tl.http)
			ledger[eff.Key] = bot.LedgerEntry{Key: eff.Key, CaseID: c.ID, Playbook: eff.Playbook, Step: eff.Step, State: bot.StateDone, Attempts: 1, At: now}
			switch {
			case eff.Action == 0: // a reminder or an escalation, not one of the step's actions
				if !slices.Contains(reminded, eff.Step) {
					reminded = append(reminded, eff.Step)
				}
			case !slices.Contains(ran, eff.Step):
				ran, at[eff.Step] = append(ran, eff.Step), now
			}
		}
		// The next cycle: a minute later when something happened (the engine re-reads the
		// case), else at the next date, the next event or in six hours, whichever is first.
		next := now.Add(6 * time.Hour)
		if len(res.Due) > 0 || len(res.Records) > 0 {
			next = now.Add(time.Minute)
		}
		if !res.Next.IsZero() && res.Next.After(now) && res.Next.Before(next) {
			next = res.Next
		}
		if len(events) > 0 {
			if at := mustTime(t, events[0].at); at.Before(next) {
				next = at
			}
		}
		now = next
	}
	slices.Sort(skipped)
	for _, st := range p.Evaluate(c, ledger, now).Steps {
		if st.State == rules.StateFailed {
			t.Errorf("step %s failed: %s", st.Step, st.Reason)
		}
	}
	slices.Sort(reminded)
	return c, ran, skipped, reminded, at
}

// stepOfKey returns the step of an effect key "playbook/step/action/case[/task]".
func stepOfKey(key string) string {
	var parts []string
	start := 0
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			parts = append(parts, key[start:i])
			start = i + 1
		}
	}
	parts = append(parts, key[start:])
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

func apply(t *testing.T, c *bot.Case, eff bot.Effect, http map[string]any) {
	t.Helper()
	switch eff.Kind {
	case bot.KindUpdate, bot.KindStatus:
		f := c.Fields
		if eff.Object == rules.ObjectAccount {
			f = c.Account.Fields
		}
		maps.Copy(f, eff.Fields)
	case bot.KindTasks:
		for _, s := range eff.Tasks {
			c.Tasks = append(c.Tasks, bot.Task{ID: "00T" + s.Key, Key: s.Key, Subject: s.Subject, Status: "Not Started"})
		}
	case bot.KindHTTP:
		for field, path := range eff.HTTP.Store {
			v, ok := http[path]
			if !ok {
				t.Fatalf("%s: the test gives no response value for %s", eff.Key, path)
			}
			c.Fields[field] = v
		}
	}
}

func TestTimelines(t *testing.T) {
	pbs, _ := load(t)
	byName := map[string]*rules.Playbook{}
	for _, p := range pbs {
		byName[p.Name] = p
	}
	for _, tl := range []timeline{
		{
			// Legal confirms on Mon 5 Oct; the RVP holds the case for three days; the data
			// deletion approval moves by the hold onto a Saturday and from there to Monday.
			name: "termination SOP with a hold", playbook: "termination-sop",
			start: "2026-10-01T13:00:00Z", end: "2026-12-31T00:00:00Z",
			caseFields: bot.Fields{"CaseNumber": "00001026", "Subject": "Termination: Acme", "Status": "New",
				"CreatedDate": "2026-10-01T13:00:00.000+0000", "Contract_End_Date__c": "2026-12-31"},
			accountFields: bot.Fields{"Name": "Acme Corp", "Type": "Customer - Direct", "Customer_Attrition__c": false,
				"Time_Zone__c": "America/New_York", "Tenant_Id__c": "acme-prod"},
			events: []event{
				{at: "2026-10-05T14:30:00Z", caseSet: bot.Fields{"Termination_Confirmed__c": "2026-10-05", "Deprovision_Date__c": "2026-11-06T21:00:00.000+0000"}},
				{at: "2026-10-15T15:00:00Z", closeStep: "offboarding-tasks"},
				{at: "2026-10-20T15:00:00Z", caseSet: bot.Fields{"Termination_Hold__c": true}},
				{at: "2026-10-23T15:00:00Z", caseSet: bot.Fields{"Termination_Hold__c": false}},
				{at: "2026-11-10T14:00:00Z", closeStep: "deactivate-access"},
				{at: "2026-11-10T15:00:00Z", closeStep: "purge-handoff"},
			},
			http: map[string]any{"guids": "guid-1, guid-2"},
			wantRan: []string{"case-opened", "account-team-informed", "legal-confirmation", "attrition", "termination-notice",
				"offboarding-tasks", "team-confirmed", "hold-reminder", "final-notice", "deletion-approval", "deactivate-access",
				"attach-guids", "purge-handoff", "purge-done", "close"},
			wantSkipped:  []string{"late-case"},
			wantReminded: []string{"legal-confirmation", "team-confirmed"},
			// Day 30 is Wed 4 Nov; held three days it is Sat 7 Nov, a weekend: Mon 9 Nov.
			// The final notice keeps its exact time, 72 hours before de-provisioning plus the hold;
			// access is deactivated at the de-provision date plus the hold, and the purge follows.
			wantAt: map[string]string{"attrition": "2026-10-06T13:00:00Z", "deletion-approval": "2026-11-09T14:00:00Z",
				"final-notice": "2026-11-06T21:00:00Z", "deactivate-access": "2026-11-09T21:00:00Z", "purge-handoff": "2026-11-09T21:01:00Z"},
			wantCase:    bot.Fields{"Status": "Closed", "Data_Deletion_Approved__c": true, "Deactivated_GUIDs__c": "guid-1, guid-2"},
			wantAccount: bot.Fields{"Type": "Former Customer", "Customer_Attrition__c": true},
		},
		{
			// The case reaches casebot 46 days after Legal's confirmation: what is late runs
			// once, the final notice (its de-provision date is past) before access is
			// deactivated, the reminder before day 30 is skipped, and the deletion approval is
			// left to a person (escalated), who ticks the approval by hand. (This walk sends the
			// reminder of the deactivation that waits for the final notice in the same pass; the
			// engine holds the reminders of a pass that did something back.)
			name: "termination SOP arriving late", playbook: "termination-sop",
			start: "2026-11-20T15:00:00Z", end: "2027-01-31T00:00:00Z",
			caseFields: bot.Fields{"CaseNumber": "00001027", "Subject": "Termination: Globex", "Status": "New",
				"CreatedDate": "2026-10-01T13:00:00.000+0000", "Contract_End_Date__c": "2026-12-31",
				"Termination_Confirmed__c": "2026-10-05", "Deprovision_Date__c": "2026-11-06T21:00:00.000+0000"},
			accountFields: bot.Fields{"Name": "Globex", "Type": "Customer - Channel", "Time_Zone__c": "Europe/Berlin", "Tenant_Id__c": "globex"},
			events: []event{
				{at: "2026-11-21T10:00:00Z", closeStep: "deactivate-access"},
				{at: "2026-11-21T11:00:00Z", closeStep: "offboarding-tasks"},
				{at: "2026-11-23T10:00:00Z", caseSet: bot.Fields{"Data_Deletion_Approved__c": true}},
				{at: "2026-11-24T10:00:00Z", closeStep: "purge-handoff"},
			},
			http: map[string]any{"guids": "guid-9"},
			wantRan: []string{"case-opened", "account-team-informed", "legal-confirmation", "attrition", "termination-notice",
				"offboarding-tasks", "final-notice", "deactivate-access", "attach-guids", "team-confirmed", "purge-handoff", "purge-done", "close"},
			wantSkipped:  []string{"deletion-approval", "hold-reminder", "late-case"},
			wantReminded: []string{"close", "deactivate-access", "deletion-approval", "purge-done", "purge-handoff", "team-confirmed"},
			wantCase:     bot.Fields{"Status": "Closed", "Data_Deletion_Approved__c": true},
			wantAccount:  bot.Fields{"Type": "Former Customer", "Customer_Attrition__c": true},
		},
		{
			name: "Mimecast cancel within the commitment, with a data export", playbook: "mimecast-msp-cancellation",
			start: "2026-03-10T10:30:00Z", end: "2026-06-01T00:00:00Z",
			caseFields: bot.Fields{"CaseNumber": "00001040", "Subject": "Cancel Northwind", "Status": "New",
				"CreatedDate": "2026-03-10T10:30:00.000+0000", "SuppliedEmail": "ops@msp.example",
				"Cancellation_Type__c": "Cancel", "Data_Export_Required__c": true, "Terms_Accepted__c": false},
			accountFields: bot.Fields{"Name": "Northwind", "Time_Zone__c": "Europe/London",
				"Subscription_Start_Date__c": "2025-04-01", "Subscription_Status__c": "Active", "MSP_Partner__c": "msp-1"},
			events: []event{
				{at: "2026-03-11T09:00:00Z", caseSet: bot.Fields{"Terms_Accepted__c": true}},
				{at: "2026-03-20T09:00:00Z", caseSet: bot.Fields{"Exgestion_Quote_Accepted__c": true}, closeStep: "data-export"},
			},
			wantRan:      []string{"effective-date", "terms-refused", "pending-cancellation", "data-export", "export-complete", "withdraw-service"},
			wantSkipped:  []string{"cancellation-initiated", "not-eligible", "partner-change", "partner-transfer"},
			wantReminded: []string{"export-complete"},
			// The twelve-month commitment ends on Wed 1 Apr: 09:00 in London (BST).
			wantAt:      map[string]string{"withdraw-service": "2026-04-01T08:00:00Z"},
			wantCase:    bot.Fields{"Status": "Closed", "Commitment_End_Date__c": "2026-04-01", "Service_Withdrawal_Date__c": "2026-04-01"},
			wantAccount: bot.Fields{"Subscription_Status__c": "Cancelled", "MSP_Partner__c": "msp-1"},
		},
		{
			name: "Mimecast request before eleven months", playbook: "mimecast-msp-cancellation",
			start: "2026-03-10T10:30:00Z", end: "2026-06-01T00:00:00Z",
			caseFields: bot.Fields{"CaseNumber": "00001041", "Subject": "Cancel Fabrikam", "Status": "New",
				"CreatedDate": "2026-03-10T10:30:00.000+0000", "SuppliedEmail": "ops@msp.example",
				"Cancellation_Type__c": "Cancel", "Terms_Accepted__c": true},
			accountFields: bot.Fields{"Name": "Fabrikam", "Subscription_Start_Date__c": "2025-06-15"},
			wantRan:       []string{"not-eligible"},
			wantSkipped: []string{"cancellation-initiated", "data-export", "effective-date", "export-complete",
				"partner-change", "pending-cancellation", "terms-refused"},
			wantCase: bot.Fields{"Status": "Closed", "Service_Withdrawal_Date__c": nil},
		},
		{
			// A renewal cancels directly: the customer moves on the day of the request.
			name: "Mimecast partner change of a renewal", playbook: "mimecast-msp-cancellation",
			start: "2026-03-10T10:30:00Z", end: "2026-06-01T00:00:00Z",
			caseFields: bot.Fields{"CaseNumber": "00001042", "Subject": "Move Contoso", "Status": "New",
				"CreatedDate": "2026-03-10T10:30:00.000+0000", "SuppliedEmail": "ops@msp.example",
				"Cancellation_Type__c": "Partner Change", "New_Partner__c": "msp-2"},
			accountFields: bot.Fields{"Name": "Contoso", "Time_Zone__c": "Europe/London", "Subscription_Start_Date__c": "2024-01-10",
				"Subscription_Status__c": "Active", "MSP_Partner__c": "msp-1"},
			wantRan: []string{"effective-date", "partner-change", "partner-transfer"},
			wantSkipped: []string{"cancellation-initiated", "data-export", "export-complete", "not-eligible",
				"pending-cancellation", "terms-refused", "withdraw-service"},
			wantCase:    bot.Fields{"Status": "Closed", "Service_Withdrawal_Date__c": "2026-03-10", "Commitment_End_Date__c": "2025-01-10"},
			wantAccount: bot.Fields{"MSP_Partner__c": "msp-2"},
		},
		{
			// Devices still report at the termination date; the tenant waits until none does.
			name: "Almaden cancellation", playbook: "almaden-partner-cancellation",
			start: "2026-05-04T12:00:00Z", end: "2026-07-01T00:00:00Z",
			caseFields: bot.Fields{"CaseNumber": "00001051", "Subject": "Cancellation: Tijuca", "Status": "New",
				"CreatedDate": "2026-05-04T12:00:00.000+0000", "SuppliedEmail": "ti@tijuca.example", "SuppliedName": "Paula",
				"Contract_End_Date__c": "2026-05-29", "Technical_Contact__c": "Paula, ti@tijuca.example",
				"Commercial_Contact__c": "Rui, rui@partner.example"},
			accountFields: bot.Fields{"Name": "Tijuca", "Time_Zone__c": "America/Sao_Paulo", "Tenant_Id__c": "tijuca-7731"},
			events: []event{
				{at: "2026-05-05T12:00:00Z", caseSet: bot.Fields{"Cancellation_Confirmed__c": true}},
				{at: "2026-05-12T12:00:00Z", caseSet: bot.Fields{"Uninstall_Confirmed__c": true, "Uninstall_Evidence__c": "log"}},
				{at: "2026-05-30T12:00:00Z", caseSet: bot.Fields{"Active_Devices__c": float64(2), "Devices_Checked_At__c": "2026-05-30T12:00:00.000+0000"}},
				{at: "2026-06-02T12:00:00Z", caseSet: bot.Fields{"Active_Devices__c": float64(0), "Devices_Checked_At__c": "2026-06-02T12:00:00.000+0000"}},
			},
			http:         map[string]any{"caseNumber": "SUP-1", "deactivatedAt": "2026-06-02T12:05:00.000+0000"},
			wantReminded: []string{"deactivate-tenant", "uninstall-confirmed"},
			wantAt:       map[string]string{"support-case": "2026-05-05T12:01:00Z", "deactivate-tenant": "2026-06-02T12:00:00Z"},
			wantRan:      []string{"uninstall-instructions", "commercial-manager", "support-case", "uninstall-confirmed", "deactivate-tenant"},
			wantCase:     bot.Fields{"Status": "Closed", "Support_Case_Number__c": "SUP-1", "Tenant_Deactivated_At__c": "2026-06-02T12:05:00.000+0000"},
			wantAccount:  bot.Fields{"Tenant_Id__c": "tijuca-7731"},
		},
		{
			// By mail: the exit reason is the mail's body, the notice is the request itself.
			name: "customer-initiated removal", playbook: "customer-removal",
			start: "2026-06-01T02:00:00Z", end: "2026-08-01T00:00:00Z",
			caseFields: bot.Fields{"CaseNumber": "00001063", "Subject": "End our agent service", "Status": "New",
				"Origin": "Email", "CreatedDate": "2026-06-01T02:00:00.000+0000", "SuppliedEmail": "it@lotus.example",
				"Description": "Moving billing in-house.", "Removal_Scenario__c": "Direct Billing Switch", "Notice_Period_Days__c": float64(30)},
			accountFields: bot.Fields{"Name": "Lotus", "Time_Zone__c": "Asia/Singapore", "Partner__c": "001000000000008AAA",
				"Partner_Email__c": "p@reseller.example", "Billing_Mode__c": "Partner Billing"},
			events: []event{
				{at: "2026-06-03T02:00:00Z", caseSet: bot.Fields{"Settlements_Complete__c": true, "Data_Migration_Plan__c": "handover", "Alternative_Service__c": "direct support"}},
				{at: "2026-07-02T02:00:00Z", closeStep: "data-handling"},
			},
			http: map[string]any{"remaining": float64(12)},
			wantRan: []string{"customer-request-received", "scenario-direct-billing", "preconditions", "removal-scheduled",
				"removal-confirmed", "remove-association", "billing-conversion", "quota-update", "data-handling", "confirmation-notice"},
			wantSkipped: []string{"partner-request-received", "scenario-agreement-end", "scenario-business-adjustment",
				"scenario-customer-request", "scenario-policy-breach", "scenario-violation"},
			wantAt: map[string]string{"removal-confirmed": "2026-07-01T01:00:00Z"},
			wantCase: bot.Fields{"Status": "Closed", "Customer_Email__c": "it@lotus.example", "Termination_Reason__c": "Moving billing in-house.",
				"Notice_Given_Date__c": "2026-06-01", "Removal_Effective_Date__c": "2026-07-01", "Billing_Mode_After__c": "Direct Billing",
				"Former_Partner__c": "001000000000008AAA", "Removal_Confirmed__c": true, "Partner_Quota_Remaining__c": float64(12)},
			wantAccount: bot.Fields{"Partner__c": nil, "Billing_Mode__c": "Direct Billing"},
		},
		{
			// The agreement expires after the notice period: the removal waits for its end.
			name: "partner-initiated removal at the agreement's end", playbook: "customer-removal",
			start: "2026-06-01T02:00:00Z", end: "2026-10-01T00:00:00Z",
			caseFields: bot.Fields{"CaseNumber": "00001064", "Subject": "Unbind Orchid", "Status": "New",
				"Origin": "Web", "CreatedDate": "2026-06-01T02:00:00.000+0000", "Customer_Email__c": "it@orchid.example",
				"Termination_Reason__c": "Agreement not renewed.", "Removal_Scenario__c": "Agreement End",
				"Notice_Period_Days__c": float64(30), "Contract_End_Date__c": "2026-08-31", "Billing_Mode_After__c": "New Partner Billing",
				"Settlements_Complete__c": true, "Data_Migration_Plan__c": "export", "Alternative_Service__c": "new partner"},
			accountFields: bot.Fields{"Name": "Orchid", "Time_Zone__c": "Asia/Singapore", "Partner__c": "001000000000008AAA",
				"Partner_Email__c": "p@reseller.example", "Billing_Mode__c": "Partner Billing"},
			events: []event{{at: "2026-09-02T02:00:00Z", closeStep: "data-handling"}},
			http:   map[string]any{"remaining": float64(3)},
			wantRan: []string{"partner-request-received", "scenario-agreement-end", "preconditions", "removal-scheduled",
				"removal-confirmed", "remove-association", "billing-conversion", "quota-update", "data-handling", "confirmation-notice"},
			wantSkipped: []string{"customer-request-received", "scenario-business-adjustment", "scenario-customer-request",
				"scenario-direct-billing", "scenario-policy-breach", "scenario-violation"},
			wantReminded: []string{"confirmation-notice"},
			wantAt:       map[string]string{"removal-confirmed": "2026-08-31T01:00:00Z"},
			wantCase:     bot.Fields{"Status": "Closed", "Notice_Given_Date__c": "2026-06-01", "Removal_Effective_Date__c": "2026-08-31"},
			wantAccount:  bot.Fields{"Partner__c": nil, "Billing_Mode__c": "New Partner Billing"},
		},
	} {
		t.Run(tl.name, func(t *testing.T) {
			p := byName[tl.playbook]
			if p == nil {
				t.Fatalf("no playbook %s", tl.playbook)
			}
			c, ran, skipped, reminded, at := walk(t, p, tl)
			for step, want := range tl.wantAt {
				if got := at[step]; !got.Equal(mustTime(t, want)) {
					t.Errorf("%s ran at %s, want %s", step, got.UTC().Format(time.RFC3339), want)
				}
			}
			if !slices.Equal(reminded, tl.wantReminded) {
				t.Errorf("steps that sent reminders or escalations %v\nwant %v", reminded, tl.wantReminded)
			}
			if !slices.Equal(ran, tl.wantRan) {
				t.Errorf("steps ran %v\nwant %v", ran, tl.wantRan)
			}
			if !slices.Equal(skipped, tl.wantSkipped) {
				t.Errorf("steps skipped %v\nwant %v", skipped, tl.wantSkipped)
			}
			for k, want := range tl.wantCase {
				if got := c.Fields[k]; got != want {
					t.Errorf("Case.%s = %#v, want %#v", k, got, want)
				}
			}
			for k, want := range tl.wantAccount {
				if got := c.Account.Fields[k]; got != want {
					t.Errorf("Account.%s = %#v, want %#v", k, got, want)
				}
			}
		})
	}
}
