package playbooks_test

import (
	"slices"
	"testing"
	"time"

	"casebot/bot"
	"casebot/rules"
)

var (
	hold    = bot.Button{Action: bot.ActionHold}
	release = bot.Button{Action: bot.ActionRelease}
)

func confirm(step string) bot.Button { return bot.Button{Action: bot.ActionConfirm, Step: step} }

// Every button a case of each shipped playbook can have: a Confirm for each gate that is one
// checkbox of the case, an approval for the one whose step hands out the data purge, and
// none for gates that read dates, text or other steps.
func TestShippedPossibleButtons(t *testing.T) {
	pbs, _ := load(t)
	want := map[string][]bot.Button{
		"termination-sop":              {hold, release, {Action: bot.ActionApproveDeletion, Step: "purge-handoff"}},
		"mimecast-msp-cancellation":    {hold, release, confirm("pending-cancellation")},
		"almaden-partner-cancellation": {hold, release, confirm("uninstall-confirmed")},
		"customer-removal":             {hold, release},
	}
	for _, p := range pbs {
		if got := p.PossibleButtons(); !slices.Equal(got, want[p.Name]) {
			t.Errorf("%s: possible buttons %v, want %v", p.Name, got, want[p.Name])
		}
	}
	// The field a press sets is the one the gate reads.
	for _, c := range []struct{ playbook, step, field string }{
		{"termination-sop", "purge-handoff", "Case.Data_Deletion_Approved__c"},
		{"mimecast-msp-cancellation", "pending-cancellation", "Case.Terms_Accepted__c"},
		{"almaden-partner-cancellation", "uninstall-confirmed", "Case.Uninstall_Confirmed__c"},
	} {
		p := pbs[slices.IndexFunc(pbs, func(p *rules.Playbook) bool { return p.Name == c.playbook })]
		s := p.Steps[slices.IndexFunc(p.Steps, func(s *rules.Step) bool { return s.ID == c.step })]
		if _, field, ok := s.Button(); !ok || field.String() != c.field {
			t.Errorf("%s/%s: a press sets %v (ok %v), want %s", c.playbook, c.step, field, ok, c.field)
		}
	}
}

// The buttons a case has depend on where it stands: Hold or Release by its hold field, and a
// step's button only while the step waits for its gate.
func TestShippedButtons(t *testing.T) {
	pbs, _ := load(t)
	byName := map[string]*rules.Playbook{}
	for _, p := range pbs {
		byName[p.Name] = p
	}
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// A termination confirmed on 5 October: deletion was due on day 30 (4 November), the purge
	// the day after. Found late, the approval was escalated, not given: people approve it.
	sop := func(held, approved bool) bot.Case {
		return bot.Case{ID: "500000000000001AAA",
			Fields: bot.Fields{"CaseNumber": "00001001", "CreatedDate": "2026-10-01T13:00:00.000+0000",
				"Contract_End_Date__c": "2026-12-31", "Termination_Confirmed__c": "2026-10-05",
				"Deprovision_Date__c": "2026-10-20T13:00:00.000+0000", "Termination_Hold__c": held,
				"Data_Deletion_Approved__c": approved},
			Account: &bot.Account{ID: "001000000000001AAA", Fields: bot.Fields{"Name": "Acme Corp",
				"Time_Zone__c": "America/New_York", "BillingCountry": "United States", "Tenant_Id__c": "acme"}}}
	}
	// An eligible cancellation (the subscription is 22 months old) whose terms the partner has
	// not accepted yet.
	msp := func(accepted bool) bot.Case {
		return bot.Case{ID: "500000000000006AAA",
			Fields: bot.Fields{"CaseNumber": "00001006", "CreatedDate": "2026-11-02T13:00:00.000+0000",
				"SuppliedEmail": "msp@example.test", "Cancellation_Type__c": "Cancel", "Terms_Accepted__c": accepted,
				"Termination_Hold__c": false, "Commitment_End_Date__c": "2027-01-01"},
			Account: &bot.Account{ID: "001000000000006AAA", Fields: bot.Fields{"Name": "Northwind Traders",
				"Time_Zone__c": "Europe/London", "Subscription_Start_Date__c": "2025-01-01", "Subscription_Status__c": "Active"}}}
	}
	partner := func(confirmed bool) bot.Case {
		return bot.Case{ID: "500000000000009AAA",
			Fields: bot.Fields{"CaseNumber": "00001009", "CreatedDate": "2026-11-02T13:00:00.000+0000",
				"SuppliedEmail": "it@tijuca.example", "Uninstall_Confirmed__c": confirmed, "Termination_Hold__c": false},
			Account: &bot.Account{ID: "001000000000009AAA", Fields: bot.Fields{"Name": "Tijuca Logistica",
				"Time_Zone__c": "America/Sao_Paulo"}}}
	}
	removal := bot.Case{ID: "500000000000010AAA",
		Fields:  bot.Fields{"CaseNumber": "00001010", "CreatedDate": "2026-11-02T13:00:00.000+0000", "Termination_Hold__c": false},
		Account: &bot.Account{ID: "001000000000010AAA", Fields: bot.Fields{"Name": "Lotus Trading"}}}

	cases := []struct {
		name, playbook string
		c              bot.Case
		now            string
		want           []bot.Button
	}{
		{"opened", "termination-sop", sop(false, false), "2026-10-02T13:00:00Z", []bot.Button{hold}},
		{"held", "termination-sop", sop(true, false), "2026-11-20T13:00:00Z", []bot.Button{release}},
		{"purge waits for the approval", "termination-sop", sop(false, false), "2026-11-20T13:00:00Z",
			[]bot.Button{hold, {Action: bot.ActionApproveDeletion, Step: "purge-handoff"}}},
		// Approved, the purge waits for its guard (access deactivated first), not for people.
		{"approved", "termination-sop", sop(false, true), "2026-11-20T13:00:00Z", []bot.Button{hold}},
		{"held before the approval", "termination-sop", sop(true, false), "2026-10-02T13:00:00Z", []bot.Button{release}},
		{"terms to accept", "mimecast-msp-cancellation", msp(false), "2026-11-02T14:00:00Z",
			[]bot.Button{hold, confirm("pending-cancellation")}},
		{"terms accepted", "mimecast-msp-cancellation", msp(true), "2026-11-02T14:00:00Z", []bot.Button{hold}},
		// Scheduled (Finados moved it to the next business day), nothing to confirm yet.
		{"uninstall not due", "almaden-partner-cancellation", partner(false), "2026-11-02T14:00:00Z", []bot.Button{hold}},
		{"uninstall to confirm", "almaden-partner-cancellation", partner(false), "2026-11-03T14:00:00Z",
			[]bot.Button{hold, confirm("uninstall-confirmed")}},
		{"uninstall confirmed", "almaden-partner-cancellation", partner(true), "2026-11-03T14:00:00Z", []bot.Button{hold}},
		// Its gates read other steps and text fields: nothing to press but Hold.
		{"removal", "customer-removal", removal, "2026-11-02T14:00:00Z", []bot.Button{hold}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := byName[tc.playbook]
			res := p.Evaluate(tc.c, nil, at(tc.now))
			if got := p.Buttons(tc.c, res); !slices.Equal(got, tc.want) {
				t.Errorf("buttons %v, want %v", got, tc.want)
				for _, st := range res.Steps {
					t.Logf("  %s: %s %s", st.Step, st.State, st.Reason)
				}
			}
		})
	}
}
