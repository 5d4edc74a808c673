package templates

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode"

	"casebot/bot"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func shipped(t *testing.T) *Set {
	t.Helper()
	set, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// fixture is a case of the termination SOP playbook, with every field that playbook declares.
func fixture(t *testing.T) Data {
	t.Helper()
	return Data{
		Playbook:  "termination-sop",
		Step:      "attrition",
		StepTitle: "Customer Attrition box checked on the account",
		Case: bot.Case{
			ID: "500000000000001AAA",
			Fields: bot.Fields{
				"CaseNumber":                "00001026",
				"Subject":                   "Termination of the Acme subscription",
				"Status":                    "Attrition Confirmed",
				"CreatedDate":               "2026-10-30T15:12:00.000+0000",
				"Contract_End_Date__c":      "2026-12-31",
				"Termination_Confirmed__c":  "2026-11-02",
				"Deprovision_Date__c":       "2026-12-04T14:00:00.000+0000",
				"Termination_Hold__c":       false,
				"Data_Deletion_Approved__c": false,
				"Deactivated_GUIDs__c":      "8a81b09e-5f7a-4c3e-9d2a-1b2c3d4e5f60, 8a81b09e-5f7a-4c3e-9d2a-1b2c3d4e5f61",
				"Deletion_Window_Days__c":   nil,
			},
			Account: &bot.Account{ID: "001000000000001AAA", Fields: bot.Fields{
				"Name":                  "Acme Corp",
				"Type":                  "Customer",
				"Customer_Attrition__c": true,
				"Time_Zone__c":          "America/New_York",
				"Tenant_Id__c":          "acme-prod-01",
			}},
		},
		Due:      time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC),
		Now:      time.Date(2026, 11, 3, 14, 1, 0, 0, time.UTC),
		Location: zone(t, "America/New_York"),
		CaseURL:  "https://acme.my.salesforce.com/lightning/r/Case/500000000000001AAA/view",
		NextStep: "Termination notification sent",
		NextDue:  time.Date(2026, 11, 4, 14, 0, 0, 0, time.UTC),
	}
}

// caseData is a case of a playbook at a time, the case with the fields it declares.
func caseData(t *testing.T, playbook, zoneName, due string, caseFields, accountFields bot.Fields) Data {
	t.Helper()
	at, err := time.Parse(time.RFC3339, due)
	if err != nil {
		t.Fatal(err)
	}
	return Data{
		Playbook: playbook,
		Case:     bot.Case{ID: "500000000000002AAA", Fields: caseFields, Account: &bot.Account{ID: "001000000000002AAA", Fields: accountFields}},
		Due:      at,
		Now:      at.Add(time.Minute),
		Location: zone(t, zoneName),
	}
}

// mimecast is a case of the MSP cancellation playbook.
func mimecast(t *testing.T) Data {
	return caseData(t, "mimecast-msp-cancellation", "Europe/London", "2026-03-10T10:30:00Z", bot.Fields{
		"CaseNumber":                  "00001040",
		"Subject":                     "Cancel Northwind Traders",
		"Status":                      "Pending Cancellation",
		"CreatedDate":                 "2026-03-10T10:30:00.000+0000",
		"SuppliedEmail":               "ops@msp.example",
		"Cancellation_Type__c":        "Cancel",
		"Data_Export_Required__c":     true,
		"Terms_Accepted__c":           true,
		"New_Partner__c":              nil,
		"Exgestion_Quote_Accepted__c": false,
		"Commitment_End_Date__c":      "2026-04-01",
		"Service_Withdrawal_Date__c":  "2026-04-01",
	}, bot.Fields{
		"Name":                       "Northwind Traders",
		"Time_Zone__c":               "Europe/London",
		"Subscription_Start_Date__c": "2025-04-01",
		"Subscription_Status__c":     "Pending Cancellation",
		"MSP_Partner__c":             "msp-1",
	})
}

// almaden is a case of the partner cancellation playbook.
func almaden(t *testing.T) Data {
	return caseData(t, "almaden-partner-cancellation", "America/Sao_Paulo", "2026-05-04T12:00:00Z", bot.Fields{
		"CaseNumber":                     "00001051",
		"Subject":                        "Contract cancellation: Tijuca Logistica",
		"Status":                         "Uninstall Pending",
		"CreatedDate":                    "2026-05-04T12:00:00.000+0000",
		"SuppliedEmail":                  "ti@tijuca.example",
		"SuppliedName":                   "Paula Souza",
		"Contract_End_Date__c":           "2026-05-31",
		"Cancellation_Confirmed__c":      true,
		"Uninstall_Instructions_Sent__c": "2026-05-04T12:01:00.000+0000",
		"Uninstall_Confirmed__c":         false,
		"Uninstall_Evidence__c":          "Removal log for 42 devices attached to the reply of 12 May.",
		"Pending_Matters__c":             "Invoice 2026-041 unpaid.\nTwo loaner licences to return.",
		"Technical_Contact__c":           "Paula Souza, ti@tijuca.example, +55 21 5555 0100",
		"Commercial_Contact__c":          "Rui Lima, rui@partner.example",
		"Support_Case_Number__c":         "SUP-88213",
		"Active_Devices__c":              float64(0),
		"Devices_Checked_At__c":          "2026-05-30T13:00:00.000+0000",
		"Tenant_Deactivated_At__c":       nil,
	}, bot.Fields{
		"Name":         "Tijuca Logistica",
		"Time_Zone__c": "America/Sao_Paulo",
		"Tenant_Id__c": "tijuca-7731",
	})
}

// removal is a case of the customer removal playbook.
func removal(t *testing.T) Data {
	return caseData(t, "customer-removal", "Asia/Singapore", "2026-07-01T01:00:00Z", bot.Fields{
		"CaseNumber":                 "00001063",
		"Subject":                    "Please end our agent service",
		"Status":                     "Removal Scheduled",
		"Description":                "We are moving our cloud billing in-house.",
		"Origin":                     "Email",
		"CreatedDate":                "2026-06-01T02:00:00.000+0000",
		"SuppliedEmail":              "it@lotus.example",
		"Customer_Email__c":          "it@lotus.example",
		"Removal_Scenario__c":        "Direct Billing Switch",
		"Termination_Reason__c":      "We are moving our cloud billing in-house.",
		"Settlements_Complete__c":    true,
		"Notice_Given_Date__c":       "2026-06-01",
		"Notice_Period_Days__c":      float64(30),
		"Data_Migration_Plan__c":     "Console access handed over on 25 June; no data leaves the platform.",
		"Alternative_Service__c":     "Direct support from the platform",
		"Billing_Mode_After__c":      "Direct Billing",
		"Removal_Effective_Date__c":  "2026-07-01",
		"Removal_Confirmed__c":       true,
		"Former_Partner__c":          "001000000000008AAA",
		"Partner_Quota_Remaining__c": float64(12),
		"Contract_End_Date__c":       nil,
	}, bot.Fields{
		"Name":             "Lotus Trading",
		"Time_Zone__c":     "Asia/Singapore",
		"Partner__c":       nil,
		"Partner_Email__c": "partners@reseller.example",
		"Billing_Mode__c":  "Direct Billing",
	})
}

// goldenCase renders one template of one kind for a step of the playbook that uses it.
type goldenCase struct {
	kind, name string
	data       func(*testing.T) Data
	step       string // the step (and its title) of the playbook that uses the template
	title      string
	edit       func(*Data) // adjusts the fixture to the moment the step runs; nil for none
}

func goldenCases() []goldenCase {
	day0 := time.Date(2026, 11, 2, 14, 0, 0, 0, time.UTC) // 09:00 in New York
	at := func(due, next time.Time, nextTitle string) func(*Data) {
		return func(d *Data) { d.Due, d.NextDue, d.NextStep = due, next, nextTitle }
	}
	unconfirmed := func(d *Data) {
		d.Due, d.NextStep, d.NextDue = day0.AddDate(0, 0, -3), "", time.Time{}
		d.Case.Fields["Termination_Confirmed__c"] = nil
		d.Case.Fields["Deprovision_Date__c"] = nil
	}
	return []goldenCase{
		// Slack.
		{Slack, "case-opened", fixture, "case-opened", "Termination case opened; Legal to confirm terms and dates", unconfirmed},
		{Slack, "step-done", fixture, "attrition", "Customer Attrition box checked on the account", at(day0.AddDate(0, 0, 1), day0.AddDate(0, 0, 2), "Termination notification sent")},
		{Slack, "termination-notice", fixture, "termination-notice", "Termination notification sent", at(day0.AddDate(0, 0, 2), day0.AddDate(0, 0, 3), "Off-boarding tasks assigned to the Termination Team")},
		{Slack, "final-notice", fixture, "final-notice", "Final termination email with data purge information", at(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC), day0.AddDate(0, 0, 30), "Data approved for deletion")},
		{Slack, "hold-reminder", fixture, "hold-reminder", "RVP and CSD asked whether to hold the termination before data deletion is approved", at(day0.AddDate(0, 0, 25), day0.AddDate(0, 0, 30), "Data approved for deletion")},
		{Slack, "case-closed", fixture, "close", "Case closed, account type set to Former Customer", at(day0.AddDate(0, 0, 33), time.Time{}, "")},
		{Slack, "case-done", mimecast, "withdraw-service", "Service withdrawn, cancellation complete", nil},
		{Slack, "gate-reminder", fixture, "legal-confirmation", "Legal confirmed the termination terms and dates", func(d *Data) {
			unconfirmed(d)
			d.Gate = "Termination Confirmed is empty; Deprovision Date is empty"
		}},
		{Slack, "missed-step", fixture, "deletion-approval", "Data approved for deletion", func(d *Data) {
			d.Due, d.Now, d.NextStep, d.NextDue = day0.AddDate(0, 0, 30), day0.AddDate(0, 0, 31).Add(3*time.Hour), "", time.Time{}
		}},
		{Slack, "step-failed", fixture, "attrition", "Customer Attrition box checked", func(d *Data) {
			d.Problem = "update Account 001000000000001AAA: FIELD_CUSTOM_VALIDATION_EXCEPTION: <!channel> the account is locked"
		}},
		{Slack, "sop-late-case", fixture, "late-case", "Case opened less than 30 days before the contract end", func(d *Data) {
			unconfirmed(d)
			d.Case.Fields["Contract_End_Date__c"] = "2026-11-15"
		}},
		{Slack, "almaden-commercial-notice", almaden, "commercial-manager", "Commercial manager notified of the cancellation", nil},
		{Slack, "almaden-devices-reporting", almaden, "deactivate-tenant", "Tenant deactivated, no device still reporting", func(d *Data) {
			d.Case.Fields["Active_Devices__c"] = float64(3)
			d.Gate = "Active Devices is 3, needs: Case.Active_Devices__c == 0"
		}},
		{Slack, "removal-scenario", removal, "scenario-violation", "Scenario: account suspended or terminated for violations", func(d *Data) {
			d.Case.Fields["Removal_Scenario__c"] = "Violation"
			d.Case.Fields["Origin"] = "Web"
			d.Case.Fields["Termination_Reason__c"] = "Repeated abuse reports against the customer's mail relay."
		}},
		{Slack, "missing-fields", removal, "preconditions", "Removal preconditions met, removal scheduled", func(d *Data) {
			d.Case.Fields["Notice_Period_Days__c"] = nil
			d.Gate = "Notice Period Days is empty"
		}},
		{Slack, "guard-waiting", almaden, "deactivate-tenant", "Tenant deactivated, no device still reporting", func(d *Data) {
			d.Gate = "step uninstall-confirmed is not done yet; Devices Checked At is 94d 3h old, more than 7d"
		}},
		{Slack, "still-waiting", mimecast, "terms-refused", "Request refused, the terms are not accepted", func(d *Data) {
			d.Case.Fields["Cancellation_Type__c"] = nil
			d.Now = d.Due.AddDate(0, 0, 7)
			d.Gate = "Cancellation Type is empty"
		}},
		{Slack, "removal-preconditions", removal, "preconditions", "Removal preconditions met, removal scheduled", func(d *Data) {
			d.Case.Fields["Settlements_Complete__c"] = false
			d.Case.Fields["Data_Migration_Plan__c"] = nil
			d.Case.Fields["Alternative_Service__c"] = ""
		}},

		// Email.
		{Email, "sop-case-opened", fixture, "account-team-informed", "Account team informed of the termination", unconfirmed},
		{Email, "sop-termination-notice", fixture, "termination-notice", "Termination notification sent", at(day0.AddDate(0, 0, 2), day0.AddDate(0, 0, 3), "Off-boarding tasks assigned to the Termination Team")},
		{Email, "sop-final-termination", fixture, "final-notice", "Final termination email with data purge information", func(d *Data) {
			d.Case.Fields["Deletion_Window_Days__c"] = 60.0 // the SSA's window, not the SOP's 30 days
		}},
		{Email, "sop-hold-reminder", fixture, "hold-reminder", "RVP and CSD asked whether to hold the termination before data deletion is approved", at(day0.AddDate(0, 0, 25), day0.AddDate(0, 0, 30), "Data approved for deletion")},
		{Email, "sop-deletion-approved", fixture, "deletion-approval", "Data approved for deletion", at(day0.AddDate(0, 0, 30), day0.AddDate(0, 0, 31), "Case moved to Infrastructure Engineering Provisioning for data purge")},
		{Email, "mimecast-not-eligible", mimecast, "not-eligible", "Cancellation refused, the subscription is not 11 months old", func(d *Data) {
			d.Case.Account.Fields["Subscription_Start_Date__c"] = "2025-06-15"
		}},
		{Email, "mimecast-terms-refused", mimecast, "terms-refused", "Request refused, the terms are not accepted", nil},
		{Email, "mimecast-cancellation-initiated", mimecast, "cancellation-initiated", "Cancellation initiated, no data export", nil},
		{Email, "mimecast-exgestion", mimecast, "data-export", "Data export and exgestion quote before the cancellation", nil},
		{Email, "mimecast-cancelled", mimecast, "withdraw-service", "Service withdrawn, cancellation complete", nil},
		{Email, "mimecast-partner-change", mimecast, "partner-change", "Partner change requested, Pending Partner Change", func(d *Data) {
			d.Case.Fields["Cancellation_Type__c"] = "Partner Change"
			d.Case.Fields["New_Partner__c"] = "Contoso Managed Services"
		}},
		{Email, "mimecast-partner-changed", mimecast, "partner-transfer", "Customer moved to the new partner, products kept", nil},
		{Email, "almaden-uninstall-instructions", almaden, "uninstall-instructions", "Uninstall procedure and removal script sent to the customer", nil},
		{Email, "almaden-commercial-notice", almaden, "commercial-manager", "Commercial manager notified of the cancellation", nil},
		{Email, "almaden-deactivated", almaden, "deactivate-tenant", "Tenant deactivated, no device still reporting", nil},
		{Email, "removal-acknowledgement", removal, "customer-request-received", "Customer's exit request received by mail", func(d *Data) {
			d.Case.Fields["Termination_Reason__c"] = nil // the step that fills it is the one sending this
		}},
		{Email, "removal-advance-notice", removal, "partner-request-received", "Partner's removal request received; customer given notice", func(d *Data) {
			d.Case.Fields["Origin"] = "Web"
			d.Case.Fields["Removal_Scenario__c"] = "Partner Business Adjustment"
			d.Case.Fields["Termination_Reason__c"] = "We are closing our reseller business in Singapore."
		}},
		{Email, "removal-scheduled", removal, "removal-scheduled", "Removal date sent to the customer", nil},
		{Email, "removal-confirmation", removal, "confirmation-notice", "Formal termination confirmation sent to all parties", nil},

		// Comments.
		{Comment, "sop-late-case", fixture, "late-case", "Case opened less than 30 days before the contract end", func(d *Data) {
			d.Case.Fields["Contract_End_Date__c"] = "2026-11-15"
		}},
		{Comment, "sop-terms-confirmed", fixture, "legal-confirmation", "Legal confirmed the termination terms and dates", nil},
		{Comment, "sop-access-deactivated", fixture, "deactivate-access", "Customer access deactivated, GUID(s) attached", nil},
		{Comment, "sop-deactivated-guids", fixture, "attach-guids", "Deactivated GUID(s) attached to the case as a file", nil},
		{Comment, "sop-team-confirmed", fixture, "team-confirmed", "Termination Team confirmations complete", nil},
		{Comment, "sop-purge-done", fixture, "purge-done", "Data purge done", nil},
		{Comment, "sop-case-closed", fixture, "close", "Case closed, account type set to Former Customer", nil},
		{Comment, "mimecast-not-eligible", mimecast, "not-eligible", "Cancellation refused, the subscription is not 11 months old", func(d *Data) {
			d.Case.Account.Fields["Subscription_Start_Date__c"] = "2025-06-15"
		}},
		{Comment, "mimecast-effective-date", mimecast, "effective-date", "Service withdrawal date set from the 12-month commitment", nil},
		{Comment, "mimecast-terms-refused", mimecast, "terms-refused", "Request refused, the terms are not accepted", nil},
		{Comment, "mimecast-history", mimecast, "pending-cancellation", "Cancellation confirmed, Pending Cancellation", nil},
		{Comment, "mimecast-export-complete", mimecast, "export-complete", "Exgestion quote accepted and data export delivered", nil},
		{Comment, "almaden-uninstall-record", almaden, "uninstall-instructions", "Uninstall procedure and removal script sent to the customer", nil},
		{Comment, "almaden-uninstall-evidence", almaden, "uninstall-confirmed", "Customer confirmed the agents are removed", nil},
		{Comment, "almaden-support-case", almaden, "support-case", "Support case opened to suspend and deactivate the tenant", nil},
		{Comment, "almaden-deactivated", almaden, "deactivate-tenant", "Tenant deactivated, no device still reporting", nil},
		{Comment, "removal-request", removal, "customer-request-received", "Customer's exit request received by mail", nil},
		{Comment, "removal-scenario", removal, "scenario-direct-billing", "Scenario: the customer switches to direct billing", nil},
		{Comment, "removal-scheduled", removal, "removal-scheduled", "Removal date sent to the customer", nil},
		{Comment, "removal-operation", removal, "quota-update", "Partner customer quota updated", nil},
	}
}

// render renders a template of any kind as one text: a mail as "Subject: …", a blank line and
// its body.
func render(set *Set, kind, name string, d Data) (string, error) {
	switch kind {
	case Email:
		subject, body, err := set.RenderEmail(name, d)
		return subjectPrefix + subject + "\n\n" + body, err
	case Comment:
		return set.RenderComment(name, d)
	default:
		return set.Render(name, d)
	}
}

// TestGolden renders every shipped template for the step of the playbook that uses it;
// go test -update rewrites testdata/<kind>/*.golden.
func TestGolden(t *testing.T) {
	set := shipped(t)
	tested := map[string][]string{}
	for _, tc := range goldenCases() {
		tested[tc.kind] = append(tested[tc.kind], tc.name)
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			d := tc.data(t)
			d.Step, d.StepTitle = tc.step, tc.title
			if tc.edit != nil {
				tc.edit(&d)
			}
			got, err := render(set, tc.kind, tc.name, d)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.kind, tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got+"\n" != string(want) {
				t.Errorf("%s renders\n%s\nwant (%s)\n%s", tc.name, got, golden, want)
			}
		})
	}
	for _, kind := range Kinds {
		want := tested[kind]
		slices.Sort(want)
		if got := set.NamesOfKind(kind); !slices.Equal(got, want) {
			t.Errorf("NamesOfKind(%s) = %v, want %v: every template needs a golden test", kind, got, want)
		}
	}
	if !slices.Equal(set.Names(), set.NamesOfKind(Slack)) {
		t.Errorf("Names() = %v, want the Slack templates", set.Names())
	}
}

// hostile fills every text field of d's case and account with values that try to break out of
// the message they are inserted in.
func hostile(d *Data) {
	const evil = "<!channel> hi & <https://evil.test|click> <@U123>\r\nBcc: victim@evil.test\n\u2028X-Injected: 1\x00\x1b[31m\u202eexe.jpg"
	for _, f := range []bot.Fields{d.Case.Fields, d.Case.Account.Fields} {
		for k, v := range f {
			if s, ok := v.(string); ok && !isDate(s) {
				f[k] = evil
			}
		}
	}
	d.StepTitle = "Done <b>\r\nBcc: x@evil.test"
	d.Gate = "Case.X\nBcc: x@evil.test"
	d.CaseURL = "https://x.test/a?b=1&c=2|<!channel>\r\nBcc: x@evil.test"
}

func isDate(s string) bool {
	_, err1 := time.Parse(bot.DateLayout, s)
	_, err2 := time.Parse(bot.DateTimeLayout, s)
	return err1 == nil || err2 == nil
}

func TestEscaping(t *testing.T) {
	set := shipped(t)
	d := fixture(t)
	d.Case.Fields["Subject"] = "<!channel> hi & <https://evil.test|click> <@U123>"
	d.Case.Fields["CaseNumber"] = "<!here>"
	d.Case.Account.Fields["Name"] = "Acme <!everyone>"
	d.StepTitle = "Done <b>"
	d.CaseURL = "https://x.test/a?b=1&c=2|<!channel>"
	for _, tc := range goldenCases() {
		if tc.kind != Slack {
			continue
		}
		d := tc.data(t)
		if tc.edit != nil {
			tc.edit(&d)
		}
		hostile(&d)
		got, err := set.Render(tc.name, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"<!", "<@", "<https://evil", "<b>", "& ", "|<"} {
			if strings.Contains(got, bad) {
				t.Errorf("%s renders unescaped %q:\n%s", tc.name, bad, got)
			}
		}
	}
	got, err := set.Render("step-done", d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"&lt;!channel&gt; hi &amp; &lt;https://evil.test|click&gt; &lt;@U123&gt;",
		"<https://x.test/a?b=1&amp;c=2%7C&lt;!channel&gt;|&lt;!here&gt;>",
		"Acme &lt;!everyone&gt;",
		"*Done &lt;b&gt;*",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("step-done renders\n%s\nwant it to contain %q", got, want)
		}
	}
}

// Mails and comments are plain text: values are not escaped for Slack, but a subject stays one
// line and no value brings control characters or text-reordering marks along.
func TestPlainTextSafety(t *testing.T) {
	set := shipped(t)
	for _, tc := range goldenCases() {
		if tc.kind == Slack {
			continue
		}
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			d := tc.data(t)
			d.Step, d.StepTitle = tc.step, tc.title
			if tc.edit != nil {
				tc.edit(&d)
			}
			hostile(&d)
			var subject, body string
			var err error
			if tc.kind == Email {
				subject, body, err = set.RenderEmail(tc.name, d)
			} else {
				body, err = set.RenderComment(tc.name, d)
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsFunc(subject, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' }) {
				t.Errorf("subject is not one clean line: %q", subject)
			}
			if strings.ContainsFunc(body, func(r rune) bool {
				return r == '\r' || r == '\u2028' || unicode.Is(unicode.Bidi_Control, r) || (unicode.IsControl(r) && r != '\n' && r != '\t')
			}) {
				t.Errorf("body carries control characters: %q", body)
			}
			if strings.Contains(subject+body, "&lt;") || strings.Contains(subject+body, "&amp;") {
				t.Errorf("plain text is escaped for Slack:\n%s\n%s", subject, body)
			}
		})
	}
}

func TestPlainTextFunctions(t *testing.T) {
	for _, tc := range []struct{ in, plain, line string }{
		{"", "", ""},
		{"Acme <Corp> & Co", "Acme <Corp> & Co", "Acme <Corp> & Co"},
		{"a\r\nb\rc\nd", "a\nb\nc\nd", "a b c d"},
		{"tab\there", "tab\there", "tab here"},
		{"  lead  and   inner  ", "  lead  and   inner  ", "lead and inner"},
		{"x\u2028y\u2029z\u0085w", "x\ny\nz\nw", "x y z w"},
		{"nul\x00 esc\x1b[31m del\x7f", "nul esc[31m del", "nul esc[31m del"},
		{"file \u202egpj.exe", "file gpj.exe", "file gpj.exe"},
		{"Subject: a\r\nBcc: b@evil.test", "Subject: a\nBcc: b@evil.test", "Subject: a Bcc: b@evil.test"},
		{"café 東京", "café 東京", "café 東京"},
	} {
		if got := plainText(tc.in); got != tc.plain {
			t.Errorf("plainText(%q) = %q, want %q", tc.in, got, tc.plain)
		}
		if got := oneLine(tc.in); got != tc.line {
			t.Errorf("oneLine(%q) = %q, want %q", tc.in, got, tc.line)
		}
	}
}

func TestValues(t *testing.T) {
	set, err := Load(fstest.MapFS{"slack/v.tmpl": {Data: []byte(
		`{{.Case "Amount"}}|{{.Case "Flag"}}|{{.Case "Empty"}}|{{.Date "Day"}}|{{.Date "At"}}|{{.Date "Empty"}}|{{.Account "Name"}}|{{.AccountDate "Start"}}|{{.Due}}|{{.NextDue}}|{{.Now}}`,
	)}})
	if err != nil {
		t.Fatal(err)
	}
	d := Data{
		Case: bot.Case{Fields: bot.Fields{
			"Amount": 1250.5, "Flag": true, "Empty": nil,
			"Day": "2026-03-01", "At": "2026-02-28T23:30:00.000+0000",
		}},
		Due:      time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		Location: zone(t, "Asia/Tokyo"),
	}
	got, err := set.Render("v", d)
	if err != nil {
		t.Fatal(err)
	}
	// The datetime is shown in the case's zone; the date-only field is the same day everywhere;
	// a case without an account shows no account name nor account date; an unknown time shows
	// nothing.
	want := "1250.5|yes||Sun 1 Mar 2026|Sun 1 Mar 2026 08:30 JST||||Sun 1 Mar 2026 09:00 JST||"
	if got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}

	d.Case.Account = &bot.Account{Fields: bot.Fields{"Name": "Acme", "Start": "2025-04-01"}}
	if got, err = set.Render("v", d); err != nil || !strings.Contains(got, "|Acme|Tue 1 Apr 2025|") {
		t.Errorf("Render with an account = %q, %v", got, err)
	}
}

func TestCaseRef(t *testing.T) {
	set, err := Load(fstest.MapFS{
		"slack/r.tmpl":   {Data: []byte(`{{.CaseRef}}`)},
		"email/r.tmpl":   {Data: []byte("Subject: case {{.CaseRef}}\n\nsee {{.CaseRef}}")},
		"comment/r.tmpl": {Data: []byte(`{{.CaseRef}}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := Data{Case: bot.Case{Fields: bot.Fields{"CaseNumber": "00001026"}}, CaseURL: "https://x.test/c?a=1&b=2"}
	if got, _ := set.Render("r", d); got != "<https://x.test/c?a=1&amp;b=2|00001026>" {
		t.Errorf("slack CaseRef = %q", got)
	}
	subject, body, err := set.RenderEmail("r", d)
	if err != nil || subject != "case 00001026" || body != "see 00001026 (https://x.test/c?a=1&b=2)" {
		t.Errorf("email CaseRef = %q, %q, %v", subject, body, err)
	}
	if got, _ := set.RenderComment("r", d); got != "00001026 (https://x.test/c?a=1&b=2)" {
		t.Errorf("comment CaseRef = %q", got)
	}
	d.CaseURL = ""
	if got, _ := set.RenderComment("r", d); got != "00001026" {
		t.Errorf("comment CaseRef without a URL = %q", got)
	}
}

func TestRenderErrors(t *testing.T) {
	set := shipped(t)
	d := fixture(t)
	delete(d.Case.Account.Fields, "Name")
	if _, err := set.Render("step-done", d); err == nil || !strings.Contains(err.Error(), "account field Name is not in the record") {
		t.Errorf("Render without Account.Name: error %v, want it to name the missing field", err)
	}
	if _, _, err := set.RenderEmail("sop-case-opened", d); err == nil || !strings.HasPrefix(err.Error(), `render email template "sop-case-opened": subject: `) ||
		!strings.Contains(err.Error(), "account field Name is not in the record") {
		t.Errorf("RenderEmail without Account.Name: error %v", err)
	}

	d = fixture(t)
	d.Case.Fields["Deprovision_Date__c"] = "next week"
	if _, err := set.Render("final-notice", d); err == nil || !strings.Contains(err.Error(), `case field Deprovision_Date__c: "next week" is neither a date nor a datetime`) {
		t.Errorf("Render with a bad date: error %v", err)
	}
	if _, err := set.RenderComment("sop-terms-confirmed", d); err == nil || !strings.Contains(err.Error(), `render comment template "sop-terms-confirmed": `) {
		t.Errorf("RenderComment with a bad date: error %v", err)
	}
	d = mimecast(t)
	d.Case.Account.Fields["Subscription_Start_Date__c"] = true
	if _, err := set.RenderComment("mimecast-effective-date", d); err == nil || !strings.Contains(err.Error(), "account field Subscription_Start_Date__c is a bool, not a date") {
		t.Errorf("RenderComment with a bool account date: error %v", err)
	}

	for _, tc := range []struct {
		kind string
		err  error
	}{
		{Slack, func() error { _, err := set.Render("no-such", fixture(t)); return err }()},
		{Email, func() error { _, _, err := set.RenderEmail("no-such", fixture(t)); return err }()},
		{Comment, func() error { _, err := set.RenderComment("no-such", fixture(t)); return err }()},
	} {
		if want := `render ` + tc.kind + ` template "no-such": no such template`; tc.err == nil || tc.err.Error() != want {
			t.Errorf("render of an unknown %s template: error %v, want %q", tc.kind, tc.err, want)
		}
	}
	if set.Has("no-such") || !set.Has("final-notice") {
		t.Error("Has does not match the shipped templates")
	}
	// A name is only known for its own kind.
	for _, tc := range []struct {
		kind, name string
		want       bool
	}{
		{Slack, "final-notice", true}, {Email, "final-notice", false},
		{Email, "sop-final-termination", true}, {Slack, "sop-final-termination", false},
		{Comment, "mimecast-history", true}, {Email, "mimecast-history", false},
		{"sms", "final-notice", false},
	} {
		if got := set.HasKind(tc.kind, tc.name); got != tc.want {
			t.Errorf("HasKind(%q, %q) = %v, want %v", tc.kind, tc.name, got, tc.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, text, want string
	}{
		{"unknown accessor", "slack/t.tmpl", "hi {{.Case \"Subject\"}}\n{{if .Case \"X\"}}{{.Acount \"Name\"}}{{end}}", "slack/t.tmpl: t:2:18: unknown accessor .Acount"},
		{"unknown accessor via $", "slack/t.tmpl", "{{with .Case \"X\"}}{{$.Nope}}{{end}}", "slack/t.tmpl: t:1:21: unknown accessor .Nope"},
		{"raw field through a chain", "slack/t.tmpl", "{{.StepTitle.Len}}", "slack/t.tmpl: t:1:12: .StepTitle is text; it has no field Len"},
		{"in a define", "slack/t.tmpl", `{{define "x"}}{{.Fields}}{{end}}{{template "x" .}}`, "slack/t.tmpl: t:1:16: unknown accessor .Fields"},
		{"syntax", "slack/t.tmpl", "{{.Case", "parse slack/t.tmpl: template: t:1: unclosed action"},
		{"comment accessor", "comment/t.tmpl", "ok\n{{.Raw}}", "comment/t.tmpl: t:2:2: unknown accessor .Raw"},
		{"email without a subject", "email/t.tmpl", "Hello {{.Case \"Name\"}}\n", `email/t.tmpl:1: the first line must be "Subject: …" followed by the subject`},
		{"email with an empty subject", "email/t.tmpl", "Subject:  \n\nbody", `email/t.tmpl:1: the first line must be "Subject: …" followed by the subject`},
		{"email subject accessor", "email/t.tmpl", "Subject: {{.Nope}}\n\nbody", "email/t.tmpl: t:1:2: unknown accessor .Nope"},
		// The body keeps the file's line numbers.
		{"email body accessor", "email/t.tmpl", "Subject: s\n\nline 3\n{{.Nope}}", "email/t.tmpl: t:4:2: unknown accessor .Nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(fstest.MapFS{tc.file: {Data: []byte(tc.text)}})
			if err == nil || err.Error() != tc.want {
				t.Errorf("Load error %v, want %q", err, tc.want)
			}
		})
	}
}

// The subject's template text is one line; a line break written into it as a constant still
// does not reach the mail.
func TestSubjectOneLine(t *testing.T) {
	set, err := Load(fstest.MapFS{"email/t.tmpl": {Data: []byte("Subject: a{{\"\\r\\nBcc: x@evil.test\"}}\nbody\r\n")}})
	if err != nil {
		t.Fatal(err)
	}
	subject, body, err := set.RenderEmail("t", Data{})
	if err != nil || subject != "a Bcc: x@evil.test" || body != "body" {
		t.Errorf("RenderEmail = %q, %q, %v", subject, body, err)
	}
}

// The files on disk are the ones embedded.
func TestEmbedded(t *testing.T) {
	for _, kind := range Kinds {
		names, err := filepath.Glob(kind + "/*.tmpl")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range names {
			disk, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			embedded, err := files.ReadFile(p)
			if err != nil || !bytes.Equal(disk, embedded) {
				t.Errorf("%s: embedded copy differs (%v)", p, err)
			}
		}
	}
}

// A formal record is dated when it is written; when the caller does not say, the step's date.
func TestRecordDate(t *testing.T) {
	set := shipped(t)
	d := almaden(t)
	d.Due, d.Now = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC), time.Date(2026, 5, 6, 15, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		now  time.Time
		want string
	}{
		{d.Now, "Date of communication: Wed 6 May 2026 12:30 -03\n"},
		{time.Time{}, "Date of communication: Mon 4 May 2026 09:00 -03\n"},
	} {
		d.Now = tc.now
		got, err := set.RenderComment("almaden-uninstall-record", d)
		if err != nil || !strings.Contains(got, tc.want) {
			t.Errorf("record with Now %v = %q, %v; want it to contain %q", tc.now, got, err, tc.want)
		}
	}
}

func TestPassedAndToday(t *testing.T) {
	set, err := Load(fstest.MapFS{"slack/p.tmpl": {Data: []byte(`{{.Passed "F"}} {{.Today}}`)}})
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name     string
		value    any
		zone     string
		now, due string // now "" leaves Data.Now zero: the step's date stands in
		want     string
	}{
		{"date before today", "2026-05-31", "Asia/Singapore", "2026-06-01T02:00:00Z", "", "true Mon 1 Jun 2026"},
		{"date is today", "2026-05-31", "America/New_York", "2026-05-31T20:00:00Z", "", "false Sun 31 May 2026"},
		// The same instant is already 1 June in Singapore.
		{"date before today in the case's zone", "2026-05-31", "Asia/Singapore", "2026-05-31T20:00:00Z", "", "true Mon 1 Jun 2026"},
		{"date ahead", "2026-06-02", "UTC", "2026-06-01T23:59:00Z", "", "false Mon 1 Jun 2026"},
		{"datetime a minute ahead", "2026-05-31T12:00:00.000+0000", "UTC", "2026-05-31T11:59:00Z", "", "false Sun 31 May 2026"},
		{"datetime a minute ago", "2026-05-31T12:00:00.000+0000", "UTC", "2026-05-31T12:01:00Z", "", "true Sun 31 May 2026"},
		{"empty", "", "UTC", "2026-05-31T12:01:00Z", "", "false Sun 31 May 2026"},
		{"null", nil, "UTC", "2026-05-31T12:01:00Z", "", "false Sun 31 May 2026"},
		{"sent time unknown: the step's date", "2026-05-31", "UTC", "", "2026-06-03T09:00:00Z", "true Wed 3 Jun 2026"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Data{Case: bot.Case{Fields: bot.Fields{"F": tc.value}}, Location: zone(t, tc.zone)}
			if tc.now != "" {
				d.Now = at(tc.now)
			}
			if tc.due != "" {
				d.Due = at(tc.due)
			}
			if got, err := set.Render("p", d); err != nil || got != tc.want {
				t.Errorf("Render = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		fields bot.Fields
		want   string
	}{
		{bot.Fields{}, "case field F is not in the record"},
		{bot.Fields{"F": true}, "case field F is a bool, not a date"},
		{bot.Fields{"F": "soon"}, `case field F: "soon" is neither a date nor a datetime`},
	} {
		if _, err := set.Render("p", Data{Case: bot.Case{Fields: tc.fields}}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Render with %v: error %v, want %q", tc.fields, err, tc.want)
		}
	}
}

// A message sent after a date it names says so (a late case, a step a gate held back), and a
// reminder says what its step really waits for.
func TestLateWording(t *testing.T) {
	set := shipped(t)
	late := func(now string) func(*Data) {
		return func(d *Data) {
			v, err := time.Parse(time.RFC3339, now)
			if err != nil {
				t.Fatal(err)
			}
			d.Now = v
		}
	}
	for _, tc := range []struct {
		kind, name string
		data       func(*testing.T) Data
		edit       func(*Data)
		want       []string
	}{
		{Email, "removal-scheduled", removal, late("2026-07-15T02:00:00Z"),
			[]string{"Subject: Your partner service ends now (case 00001063)", "was Wed 1 Jul 2026:\nthe partner relationship of Lotus Trading ends now.", "billing from now on: Direct Billing"}},
		{Comment, "removal-scheduled", removal, late("2026-07-15T02:00:00Z"), []string{"was Wed 1 Jul 2026: the removal takes effect now."}},
		{Email, "mimecast-cancelled", mimecast, late("2026-04-14T14:00:00Z"),
			[]string{"withdrawn on Tue 14 Apr 2026.\nThe withdrawal was due on Wed 1 Apr 2026 and waited for the data export to be delivered."}},
		{Email, "mimecast-partner-change", mimecast, func(d *Data) {
			late("2026-04-07T13:00:00Z")(d)
			d.Case.Fields["Cancellation_Type__c"] = "Partner Change"
			d.Case.Fields["New_Partner__c"] = "msp-2"
		}, []string{"The twelve-month commitment completed on Wed 1 Apr 2026, so the customer moves to its new\npartner now."}},
		{Email, "mimecast-cancellation-initiated", mimecast, late("2026-04-02T09:00:00Z"),
			[]string{"Services are withdrawn now: the\ntwelve-month commitment completed on Wed 1 Apr 2026."}},
		{Comment, "mimecast-history", mimecast, late("2026-04-02T09:00:00Z"),
			[]string{"Services to be withdrawn: once the data export is delivered (effective date Wed 1 Apr 2026)"}},
		// The deactivation waits for the support case, not for devices.
		{Slack, "almaden-devices-reporting", almaden, func(d *Data) {
			d.Case.Fields["Support_Case_Number__c"] = nil
			d.Case.Fields["Devices_Checked_At__c"] = nil
			d.Case.Fields["Active_Devices__c"] = nil
			d.Gate = "Devices Checked At is empty; Active Devices is empty; step support-case is not done yet"
		}, []string{"Not yet: Devices Checked At is empty; Active Devices is empty; step support-case is not done yet.",
			"It waits for the support case that asks Almaden to suspend and deactivate the tenant, which is not open yet (see its own reminders)."}},
		{Comment, "mimecast-history", mimecast, func(d *Data) { d.Step = "withdraw-service"; late("2026-04-14T14:00:00Z")(d) },
			[]string{"Services withdrawn on: Tue 14 Apr 2026"}},
		{Comment, "mimecast-history", mimecast, func(d *Data) {
			d.Step = "partner-transfer"
			d.Case.Fields["Cancellation_Type__c"] = "Partner Change"
			late("2026-04-07T13:00:00Z")(d)
		}, []string{"Moved to the new partner on: Tue 7 Apr 2026"}},
	} {
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			d := tc.data(t)
			tc.edit(&d)
			got, err := render(set, tc.kind, tc.name, d)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%s renders\n%s\nwant it to contain %q", tc.name, got, w)
				}
			}
		})
	}
}
