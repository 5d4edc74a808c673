package rules_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"casebot/bot"
	"casebot/rules"
)

// mail is a mail from it@acme.example, whose DKIM signature verified, to terminations@.
func mail(subject, text string, edits ...func(*bot.ParsedMail)) bot.ParsedMail {
	m := bot.ParsedMail{
		MessageID: "<m1@acme.example>",
		From:      bot.Address{Name: "Ada Lovelace", Address: "It@Acme.example"},
		To:        []bot.Address{{Address: "terminations@provider.example"}},
		Subject:   subject,
		Text:      text,
		Auth:      bot.MailAuth{DKIM: []string{"acme.example"}},
	}
	for _, e := range edits {
		e(&m)
	}
	return m
}

func unsigned(m *bot.ParsedMail) {
	m.Auth = bot.MailAuth{DMARC: "fail", DMARCDomain: "acme.example", Errors: []string{"DKIM: body hash mismatch"}}
}

// fromMail is what every case opened from mail(subject, text) holds, with the rule's fields.
func fromMail(subject, text string, rule bot.Fields) bot.Fields {
	f := bot.Fields{"Origin": "Email", "Subject": subject, "Description": text,
		"SuppliedEmail": "It@Acme.example", "SuppliedName": "Ada Lovelace"}
	for k, v := range rule {
		f[k] = v
	}
	return f
}

var (
	acmeDomain = rules.AccountKey{Lookup: "domain", Field: "Mail_Domains__c", Values: []string{"acme.example"}, List: true}
	acmeNumber = rules.AccountKey{Lookup: "number", Field: "AccountNumber", Values: []string{"ACME-0042"}}
)

const removalText = `Hello,

Please process our termination of service.
Account number: ACME-0042
Exit reason: we are moving our support in-house
Termination date: %s
Notice period: 30 days
Data export: yes

Regards, Ada`

func removalMail(date string) bot.ParsedMail {
	return mail("Termination of Service request", fmt.Sprintf(removalText, date))
}

// removal is what the removal rule makes of removalMail(date), with the date it reads ("" for
// none) and its notes.
func removal(date, read string, notes ...string) rules.Classification {
	text := fmt.Sprintf(removalText, date)
	fields := bot.Fields{"Type": "Customer Removal", "Removal_Scenario__c": "Customer Request",
		"Termination_Reason__c": "we are moving our support in-house", "Notice_Period_Days__c": 30.0,
		"Data_Export_Required__c": true}
	if read != "" {
		fields["Contract_End_Date__c"] = read
	}
	return rules.Classification{
		From: "it@acme.example", Authenticated: true,
		Keys: []rules.AccountKey{acmeDomain, acmeNumber},
		Rule: &rules.RuleMatch{Rule: "removal", Playbook: "removal", Acknowledge: "removal-ack",
			Case:     fromMail("Termination of Service request", text, fields),
			Accounts: []rules.AccountKey{acmeNumber, acmeDomain}},
		Notes: notes,
	}
}

const quoted = `

On Mon, 2 Nov 2026 at 10:00, Partner Ops <ops@partner.example>
wrote:
> Please run the removal script and reply to confirm that the agents were removed.
> We accept the terms of nothing.`

func TestClassify(t *testing.T) {
	in := testIntake(t)
	tests := []struct {
		name string
		mail bot.ParsedMail
		want rules.Classification
	}{
		{"removal request, numeric date read day first", removalMail("31/12/2026"), removal("31/12/2026", "2026-12-31")},
		{"date in ISO form", removalMail("2026-12-31"), removal("2026-12-31", "2026-12-31")},
		{"date as 31 December 2026", removalMail("31 December 2026"), removal("31 December 2026", "2026-12-31")},
		{"date as December 31, 2026", removalMail("Thursday, December 31, 2026"), removal("Thursday, December 31, 2026", "2026-12-31")},
		{"date as 1st Feb. 2027", removalMail("1st Feb. 2027 at the latest"), removal("1st Feb. 2027 at the latest", "2027-02-01")},
		{"unreadable date: left blank, noted", removalMail("the end of next month"), removal("the end of next month", "",
			`rule removal: Case.Contract_End_Date__c left blank: no date in "the end of next month"`)},
		{"no such day", removalMail("31/02/2027"), removal("31/02/2027", "",
			`rule removal: Case.Contract_End_Date__c left blank: "31/02/2027" is no day of the calendar`)},
		{
			"month-first date with date_order mdy; a rule that does not require authentication",
			mail("Contract termination", "End date: 12/31/2026", unsigned, func(m *bot.ParsedMail) {
				m.Cc = []bot.Address{{Address: "US-Terminations@provider.example"}}
			}),
			rules.Classification{From: "it@acme.example", Keys: []rules.AccountKey{acmeDomain},
				Rule: &rules.RuleMatch{Rule: "us-removal", Playbook: "removal", Accounts: []rules.AccountKey{acmeDomain},
					Case: fromMail("Contract termination", "End date: 12/31/2026", bot.Fields{"Type": "Customer Removal", "Contract_End_Date__c": "2026-12-31"})}},
		},
		{
			"unauthenticated sender: quarantined",
			mail("Termination of service", "Exit reason: none of your business", unsigned),
			rules.Classification{From: "it@acme.example", Keys: []rules.AccountKey{acmeDomain},
				Quarantine: `rule removal matches, but the sender's domain "acme.example" is not authenticated (DMARC: fail; verified DKIM domains: none): DKIM: body hash mismatch`},
		},
		{
			"partner cancellation: account by tenant id, terms accepted",
			mail("Please cancel Contoso", "Tenant ID: contoso-7781\nCustomer contact: it@contoso.example\nWe accept the terms.", func(m *bot.ParsedMail) {
				m.From = bot.Address{Address: "msp@partner.example"}
				m.Auth = bot.MailAuth{DMARC: "pass", DMARCDomain: "partner.example"}
			}),
			rules.Classification{From: "msp@partner.example", Authenticated: true,
				Keys: []rules.AccountKey{
					{Lookup: "domain", Field: "Mail_Domains__c", Values: []string{"partner.example"}, List: true},
					{Lookup: "tenant", Field: "Tenant_Id__c", Values: []string{"contoso-7781"}},
				},
				Rule: &rules.RuleMatch{Rule: "partner", Playbook: "partner-cancellation",
					Accounts: []rules.AccountKey{{Lookup: "tenant", Field: "Tenant_Id__c", Values: []string{"contoso-7781"}}},
					Case: bot.Fields{"Origin": "Email", "Subject": "Please cancel Contoso", "SuppliedEmail": "msp@partner.example",
						"Description": "Tenant ID: contoso-7781\nCustomer contact: it@contoso.example\nWe accept the terms.",
						"Type":        "Partner Cancellation", "Priority": "High", "Terms_Accepted__c": true,
						"Customer_Email__c": "it@contoso.example"}}},
		},
		{
			"partner cancellation without a tenant id: quarantined",
			mail("Cancel please", "Customer contact: it@contoso.example", func(m *bot.ParsedMail) {
				m.From = bot.Address{Address: "msp@partner.example"}
				m.Auth = bot.MailAuth{DKIM: []string{"mail.partner.example"}}
			}),
			rules.Classification{From: "msp@partner.example", Authenticated: true,
				Keys:       []rules.AccountKey{{Lookup: "domain", Field: "Mail_Domains__c", Values: []string{"partner.example"}, List: true}},
				Quarantine: "rule partner matches, but the mail holds no account key (tenant)"},
		},
		{
			"reply by the case reference in the subject",
			mail("Re: Notice of termination [ref 004711]", "Thanks, noted."+quoted),
			rules.Classification{From: "it@acme.example", Authenticated: true, CaseNumbers: []string{"004711"},
				Keys: []rules.AccountKey{acmeDomain}, Quarantine: "no intake rule matches"},
		},
		{
			"reply by In-Reply-To: confirms the uninstall, with its own text as evidence",
			mail("Re: how to remove the agents", "All agents were removed from our 40 laptops.\r\nSee the list attached."+quoted, func(m *bot.ParsedMail) {
				m.InReplyTo = []string{"<casebot.7@provider.example>"}
				m.References = []string{"<first@acme.example>", "<casebot.7@provider.example>", "<casebot.8@provider.example>"}
			}),
			rules.Classification{From: "it@acme.example", Authenticated: true,
				MessageIDs: []string{"<casebot.7@provider.example>", "<casebot.8@provider.example>", "<first@acme.example>"},
				Keys:       []rules.AccountKey{acmeDomain}, Quarantine: "no intake rule matches",
				Replies: []rules.ReplyMatch{{Rule: "uninstalled", Playbook: "partner-cancellation",
					Senders: []rules.FieldRef{{Object: "Case", Name: "SuppliedEmail"}},
					Case: bot.Fields{"Uninstall_Confirmed__c": true,
						"Uninstall_Evidence__c": "All agents were removed from our 40 laptops.\nSee the list attached."}}}},
		},
		{
			"reply that says no, and whose quote says yes: sets nothing",
			mail("Re: how to remove the agents", "The agents have not been removed yet.\n> We accept the terms."+quoted, func(m *bot.ParsedMail) {
				m.InReplyTo = []string{"<casebot.7@provider.example>"}
			}),
			rules.Classification{From: "it@acme.example", Authenticated: true,
				MessageIDs: []string{"<casebot.7@provider.example>"},
				Keys:       []rules.AccountKey{acmeDomain}, Quarantine: "no intake rule matches"},
		},
		{
			"unauthenticated reply: kept, sets nothing",
			mail("Re: terms [ref 004711]", "We accept the terms.", unsigned),
			rules.Classification{From: "it@acme.example", CaseNumbers: []string{"004711"},
				Keys: []rules.AccountKey{acmeDomain}, Quarantine: "no intake rule matches",
				Notes: []string{`reply rule terms matches, but the sender's domain "acme.example" is not authenticated (DMARC: fail; verified DKIM domains: none): DKIM: body hash mismatch: it sets nothing`}},
		},
		{
			"unknown mail: quarantined",
			mail("Lunch on Friday?", "Are you free?", func(m *bot.ParsedMail) { m.From = bot.Address{Address: "bob@"} }),
			rules.Classification{From: "bob@", Quarantine: "no intake rule matches"},
		},
		{
			"a reply is no new request",
			mail("Re: Termination of Service request", fmt.Sprintf(removalText, "2026-12-31")),
			rules.Classification{From: "it@acme.example", Authenticated: true,
				Keys: []rules.AccountKey{acmeDomain, acmeNumber}, Quarantine: "no intake rule matches"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := in.Classify(tt.mail)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Classify\n got %s\nwant %s", dump(got), dump(tt.want))
			}
			if again := in.Classify(tt.mail); !reflect.DeepEqual(again, got) {
				t.Errorf("a second Classify differs:\n%s", dump(again))
			}
		})
	}
}

func dump(c rules.Classification) string {
	b, _ := json.MarshalIndent(c, "", "  ")
	return string(b)
}

func TestClassifyNilIntake(t *testing.T) {
	var in *rules.Intake
	if got := in.Classify(mail("Termination of service", "")); got.Rule != nil || got.Quarantine != "there are no intake rules" {
		t.Errorf("nil intake: %+v", got)
	}
}

func TestReplyUpdate(t *testing.T) {
	in := testIntake(t)
	c := in.Classify(mail("Re: [ref 004711]", "Uninstallation is done. We accept the terms.", func(m *bot.ParsedMail) {
		m.From = bot.Address{Address: "Partner@Partner.example"}
		m.Auth = bot.MailAuth{DKIM: []string{"partner.example"}}
	}))
	if len(c.Replies) != 2 {
		t.Fatalf("replies %+v", c.Replies)
	}
	k := func(supplied, customer, partner string) bot.Case {
		return bot.Case{ID: "500x", Fields: bot.Fields{"SuppliedEmail": supplied, "Customer_Email__c": customer},
			Account: &bot.Account{ID: "001x", Fields: bot.Fields{"Partner_Email__c": partner}}}
	}
	tests := []struct {
		name      string
		playbook  string
		k         bot.Case
		want      bot.Fields
		wantNotes []string
	}{
		{"both rules' senders", "partner-cancellation", k("partner@partner.example", "", "ops@partner.example; partner@partner.example"),
			bot.Fields{"Uninstall_Confirmed__c": true, "Uninstall_Evidence__c": "Uninstallation is done. We accept the terms.", "Terms_Accepted__c": true}, nil},
		{"one rule's senders", "partner-cancellation", k("it@acme.example", "<partner@partner.example>", ""),
			bot.Fields{"Terms_Accepted__c": true},
			[]string{"reply rule uninstalled matches, but partner@partner.example is not in Case.SuppliedEmail: it sets nothing"}},
		{"another playbook's case", "removal", k("partner@partner.example", "", ""), bot.Fields{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, notes := c.ReplyUpdate(tt.playbook, tt.k)
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(notes, tt.wantNotes) {
				t.Errorf("ReplyUpdate = %v, %q; want %v, %q", got, notes, tt.want, tt.wantNotes)
			}
		})
	}
}

func TestReadDate(t *testing.T) {
	tests := []struct {
		text  string
		order rules.DateOrder
		want  string // the date, or the error
	}{
		{"2026-12-31", "", "2026-12-31"},
		{"2026/1/5", "", "2026-01-05"},
		{"2026-12-31T10:00:00Z", "", "2026-12-31"},
		{"31/12/2026", rules.DMY, "2026-12-31"},
		{"31.12.2026", rules.DMY, "2026-12-31"},
		{"12/31/2026", rules.MDY, "2026-12-31"},
		{"12-31-2026", rules.MDY, "2026-12-31"},
		{"03/04/2026", rules.DMY, "2026-04-03"},
		{"03/04/2026", rules.MDY, "2026-03-04"},
		{"31 December 2026", "", "2026-12-31"},
		{"31st of December, 2026", "", "2026-12-31"},
		{"the 2nd Sept. 2026, as agreed", "", "2026-09-02"},
		{"December 31, 2026", "", "2026-12-31"},
		{"Thursday, Dec 31st 2026", "", "2026-12-31"},
		{"may 1 2027", "", "2027-05-01"},
		{"on 1 March 2026, or 2026-04-01", "", "2026-03-01"},
		{"03/04/2026", "", `"03/04/2026" may be day/month or month/day: the rule sets no date_order`},
		{"12/31/2026", rules.DMY, `"12/31/2026" is no day of the calendar`},
		{"February 29, 2027", "", `"February 29, 2027" is no day of the calendar`},
		{"1 January 1600", "", `"1 January 1600" is no day of the calendar`},
		{"next Friday", "", `no date in "next Friday"`},
		{"31/12/26", rules.DMY, `no date in "31/12/26"`},
	}
	for _, tt := range tests {
		got, err := rules.ReadDate(tt.text, tt.order)
		s := got.Format(bot.DateLayout)
		if err != nil {
			s = err.Error()
		} else if got.Location() != time.UTC || got.Hour() != 0 {
			t.Errorf("ReadDate(%q) = %v, want midnight UTC", tt.text, got)
		}
		if s != tt.want {
			t.Errorf("ReadDate(%q, %q) = %s, want %s", tt.text, tt.order, s, tt.want)
		}
	}
}
